// POST /train (also /online/train) and POST /runs/{list,show,logs,kill}, with the seed's
// error shape {"status_code", "title", "detail"}.
#include "somlier/api/http_util.h"
#include "somlier/api/routes.h"
#include "somlier/api/train_api.h"
#include "somlier/core/log.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/training/train_service.h"

namespace somlier::api {

using nlohmann::json;

void AddTrainRoutes(HttpRoutes& server, TrackingService& tracking, TrainService& train) {
  AddSeedRoute(server, "/train", [&](std::string_view body) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(TrainRequest request, TrainRequestFromJson(body));
    SOMLIER_ASSIGN_OR_RETURN(std::shared_ptr<TrainJob> job, train.Submit(request));
    LogInfo("train: {} run(s) of {} at {} ({}) in experiment {}", job->runs().size(),
            request.project_name, request.project_ref, job->commit().substr(0, 12),
            job->experiment_id());
    return TrainAnswer(tracking, *job);
  });
  using Handler = Result<json> (*)(TrackingService&, const json&);
  const std::pair<const char*, Handler> kReads[] = {
      {"/runs/list", &RunsList}, {"/runs/show", &RunsShow}, {"/runs/logs", &RunsLogs}};
  for (const auto& [path, handler] : kReads) {
    AddSeedRoute(
        server, path,
        [&tracking, handler = handler](std::string_view body) -> Result<json> {
          SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
          return handler(tracking, request);
        },
        /*online_alias=*/false);
  }
  AddSeedRoute(
      server, "/runs/kill",
      [&](std::string_view body) -> Result<json> {
        SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
        return RunsKill(train, tracking, request);
      },
      /*online_alias=*/false);
}

}  // namespace somlier::api
