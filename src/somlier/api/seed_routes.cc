// The seed's web API: POST /search and POST /register (also under /online/), with the
// seed's error shape {"status_code", "title", "detail"}.
#include "somlier/api/http_util.h"
#include "somlier/api/routes.h"
#include "somlier/api/seed_api.h"
#include "somlier/core/strings.h"
#include "somlier/registry/registry_service.h"
#include "somlier/tracking/tracking_service.h"

namespace somlier::api {
namespace {

using nlohmann::json;

Result<std::string> RequiredString(const json& request, const char* name) {
  auto it = request.find(name);
  if (it == request.end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty())) {
    return InvalidArgument(std::string("'") + name + "' is required");
  }
  if (!it->is_string()) return InvalidArgument(std::string("'") + name + "' must be a string");
  return it->get<std::string>();
}

void AddSeedRoute(httplib::Server& server, const std::string& path,
                  std::function<Result<json>(const json&)> handler) {
  auto wrapped = [handler = std::move(handler)](const httplib::Request& request,
                                                httplib::Response& response) {
    json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) {
      return SendSeedError(response, InvalidArgument("the request body must be a JSON object"));
    }
    Result<json> answer = handler(body);
    if (!answer.ok()) return SendSeedError(response, answer.status());
    SendJson(response, *answer);
  };
  server.Post(RegexEscape(path), wrapped);
  server.Post(RegexEscape("/online" + path), wrapped);
}

}  // namespace

Result<json> SeedSearch(TrackingService& tracking, const json& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string project, RequiredString(request, "project_name"));
  SOMLIER_ASSIGN_OR_RETURN(std::string metric, RequiredString(request, "standard_metric"));
  SOMLIER_ASSIGN_OR_RETURN(std::string order, RequiredString(request, "order_by"));
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
  SOMLIER_ASSIGN_OR_RETURN(std::string run_id, RequiredString(request, "run_id"));
  SOMLIER_ASSIGN_OR_RETURN(std::string model_name, RequiredString(request, "model_name"));
  SOMLIER_ASSIGN_OR_RETURN(RegisterOutcome outcome, registry.RegisterRun(run_id, model_name));
  return json{{"model_version", std::to_string(outcome.version.version)},
              {"is_newer_version", outcome.is_newer_version},
              {"message", outcome.message}};
}

void AddSeedRoutes(httplib::Server& server, TrackingService& tracking, RegistryService& registry) {
  AddSeedRoute(server, "/search",
               [&tracking](const json& request) { return SeedSearch(tracking, request); });
  AddSeedRoute(server, "/register",
               [&registry](const json& request) { return SeedRegister(registry, request); });
}

}  // namespace somlier::api
