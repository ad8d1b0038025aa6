#include "somlier/api/batch_api.h"

#include "somlier/batch/batch_service.h"
#include "somlier/core/time.h"

namespace somlier::api {

using nlohmann::json;

Result<json> BatchCreate(batch::BatchService& batch, const Fields& request) {
  batch::BatchCreateRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.image, request.RequiredString("docker_image"));
  SOMLIER_ASSIGN_OR_RETURN(r.schedule, request.RequiredString("schedule"));
  SOMLIER_ASSIGN_OR_RETURN(r.entrypoint, request.RequiredString("entrypoint"));
  SOMLIER_ASSIGN_OR_RETURN(r.dag_id, request.RequiredString("dag_id"));
  SOMLIER_ASSIGN_OR_RETURN(r.ns, request.String("namespace"));
  SOMLIER_ASSIGN_OR_RETURN(r.start_date, request.String("start_date"));
  SOMLIER_ASSIGN_OR_RETURN(auto catchup, request.Bool("catchup"));
  SOMLIER_ASSIGN_OR_RETURN(auto gpu, request.Bool("use_gpu"));
  SOMLIER_ASSIGN_OR_RETURN(auto dry_run, request.Bool("dry_run"));
  SOMLIER_ASSIGN_OR_RETURN(r.owner, request.String("user"));
  SOMLIER_ASSIGN_OR_RETURN(r.github_token, request.String("github_personal_access_token"));
  r.catchup = catchup.value_or(false);
  r.use_gpu = gpu.value_or(false);
  r.dry_run = dry_run.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(batch::BatchCreated created, batch.Create(r, NowMillis() / 1000));
  json answer = {{"dag_id", created.dag_id}, {"dry_run", r.dry_run}, {"dag", created.source}};
  if (created.delivery) {
    answer["repository"] = created.delivery->repository;
    answer["branch"] = created.delivery->branch;
    answer["commit"] = created.delivery->commit;
    answer["path"] = created.delivery->path;
    if (!created.delivery->pull_request_url.empty()) {
      answer["pull_request_url"] = created.delivery->pull_request_url;
      answer["resumed"] = created.delivery->resumed;
    }
  }
  return answer;
}

Result<json> OfflineList(batch::BatchService& batch, const Fields&) {
  SOMLIER_ASSIGN_OR_RETURN(std::vector<batch::DagEntry> dags, batch.List());
  json list = json::array();
  for (const batch::DagEntry& dag : dags)
    list.push_back({{"dag_id", dag.dag_id}, {"path", dag.path}});
  return json{{"dags", std::move(list)}};
}

Result<json> OfflineCheck(batch::BatchService& batch, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string dag_id, request.RequiredString("dag_id"));
  SOMLIER_ASSIGN_OR_RETURN(auto unpause, request.Bool("unpause"));
  SOMLIER_ASSIGN_OR_RETURN(batch::BatchService::DagCheck check,
                           batch.Check(dag_id, unpause.value_or(false)));
  json answer = {{"dag_id", dag_id},
                 {"known", check.dag.known},
                 {"active", check.dag.active},
                 {"paused", check.dag.paused},
                 {"unpaused", check.unpaused}};
  if (!check.dag.import_error.empty()) answer["import_error"] = check.dag.import_error;
  return answer;
}

}  // namespace somlier::api
