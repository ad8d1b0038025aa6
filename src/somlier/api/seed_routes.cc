// The seed's web API: POST /search and POST /register (also under /online/), with the
// seed's error shape {"status_code", "title", "detail"}.
#include "somlier/api/http_util.h"
#include "somlier/api/routes.h"
#include "somlier/api/seed_api.h"
#include "somlier/core/strings.h"
#include "somlier/registry/registry_service.h"
#include "somlier/tracking/tracking_service.h"

namespace somlier::api {

using nlohmann::json;

Result<json> SeedSearch(TrackingService& tracking, const json& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string project, RequiredJsonString(request, "project_name"));
  SOMLIER_ASSIGN_OR_RETURN(std::string metric, RequiredJsonString(request, "standard_metric"));
  SOMLIER_ASSIGN_OR_RETURN(std::string order, RequiredJsonString(request, "order_by"));
  std::optional<int64_t> top;
  if (auto it = request.find("top"); it != request.end() && !it->is_null()) {
    if (!it->is_number_integer()) return InvalidArgument("'top' must be an integer");
    top = it->get<int64_t>();
  }
  SOMLIER_ASSIGN_OR_RETURN(std::vector<RankedRun> ranked,
                           tracking.BestRuns(project, metric, order, top.value_or(1)));
  json out = {{"run_id", ranked[0].run.info.run_id},
              {"metric_value", PythonFloat(ranked[0].metric_value)}};
  if (top) {
    json runs = json::array();
    for (const RankedRun& r : ranked) {
      json params = json::object();
      for (const Param& p : r.run.params) params[p.key] = p.value;
      runs.push_back({{"run_id", r.run.info.run_id},
                      {"run_name", r.run.info.run_name},
                      {"status", std::string(ToString(r.run.info.status))},
                      {"metric_value", PythonFloat(r.metric_value)},
                      {"params", std::move(params)}});
    }
    out["runs"] = std::move(runs);
  }
  return out;
}

Result<json> SeedRegister(RegistryService& registry, const json& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string run_id, RequiredJsonString(request, "run_id"));
  SOMLIER_ASSIGN_OR_RETURN(std::string model_name, RequiredJsonString(request, "model_name"));
  SOMLIER_ASSIGN_OR_RETURN(RegisterOutcome outcome, registry.RegisterRun(run_id, model_name));
  return json{{"model_version", std::to_string(outcome.version.version)},
              {"is_newer_version", outcome.is_newer_version},
              {"message", outcome.message}};
}

void AddSeedRoutes(httplib::Server& server, TrackingService& tracking, RegistryService& registry) {
  AddSeedRoute(server, "/search", [&tracking](std::string_view body) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
    return SeedSearch(tracking, request);
  });
  AddSeedRoute(server, "/register", [&registry](std::string_view body) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
    return SeedRegister(registry, request);
  });
}

}  // namespace somlier::api
