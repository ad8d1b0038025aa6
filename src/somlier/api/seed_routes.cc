// The seed's web API: POST /search, /register and /register_v2 (also under /online/), with
// the seed's error shape {"status_code", "title", "detail"}.
#include <fmt/core.h>

#include <set>

#include "somlier/api/http_util.h"
#include "somlier/api/routes.h"
#include "somlier/api/seed_api.h"
#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/registry/model_import.h"
#include "somlier/registry/registry_service.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/tracking/validation.h"

namespace somlier::api {

using nlohmann::json;

namespace {

json RegisterAnswer(const RegisterOutcome& outcome) {
  return json{{"model_version", std::to_string(outcome.version.version)},
              {"is_newer_version", outcome.is_newer_version},
              {"message", outcome.message}};
}

}  // namespace

Result<json> SeedSearch(TrackingService& tracking, const json& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string project, RequiredJsonString(request, "project_name"));
  SOMLIER_ASSIGN_OR_RETURN(std::string metric, RequiredJsonString(request, "standard_metric"));
  SOMLIER_ASSIGN_OR_RETURN(std::string order, RequiredJsonString(request, "order_by"));
  std::optional<int64_t> top;
  if (auto it = request.find("top"); it != request.end() && !it->is_null()) {
    SOMLIER_ASSIGN_OR_RETURN(top, IntFromJson("top", *it, {1, kMaxRunSearchResults}));
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
  return RegisterAnswer(outcome);
}

Result<json> SeedRegisterV2(ModelImport& model_import, const json& request) {
  static const std::set<std::string> kFields = {
      "model_type",   "uri",         "gcs_uri",           "model_name",      "github_uri",
      "project_name", "project_ref", "model_module_path", "model_class_name"};
  for (const auto& item : request.items()) {
    if (!kFields.count(item.key())) {
      return InvalidArgument(fmt::format("unknown field '{}' (expected {})", item.key(),
                                         Join({kFields.begin(), kFields.end()}, ", ")));
    }
  }
  auto optional = [&request](const char* name) -> Result<std::string> {
    auto it = request.find(name);
    if (it == request.end() || it->is_null()) return std::string();
    if (!it->is_string()) {
      return InvalidArgument(fmt::format("'{}' must be a string, not {}", name, JsonPreview(*it)));
    }
    return it->get<std::string>();
  };
  ImportModelRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.model_type, RequiredJsonString(request, "model_type"));
  SOMLIER_ASSIGN_OR_RETURN(r.uri, optional("uri"));
  if (r.uri.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(r.uri, optional("gcs_uri"));
  }
  if (r.uri.empty()) return InvalidArgument("'uri' is required: where the model file is");
  SOMLIER_ASSIGN_OR_RETURN(r.model_name, RequiredJsonString(request, "model_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.github_uri, optional("github_uri"));
  SOMLIER_ASSIGN_OR_RETURN(r.project_name, optional("project_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.project_ref, optional("project_ref"));
  SOMLIER_ASSIGN_OR_RETURN(r.model_module_path, optional("model_module_path"));
  SOMLIER_ASSIGN_OR_RETURN(r.model_class_name, optional("model_class_name"));
  SOMLIER_ASSIGN_OR_RETURN(RegisterOutcome outcome, model_import.Register(r));
  return RegisterAnswer(outcome);
}

void AddSeedRoutes(HttpRoutes& server, TrackingService& tracking, RegistryService& registry,
                   ModelImport* model_import) {
  AddSeedRoute(server, "/search", [&tracking](std::string_view body) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
    return SeedSearch(tracking, request);
  });
  AddSeedRoute(server, "/register", [&registry](std::string_view body) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
    return SeedRegister(registry, request);
  });
  if (model_import) {
    AddSeedRoute(server, "/register_v2", [model_import](std::string_view body) -> Result<json> {
      SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
      return SeedRegisterV2(*model_import, request);
    });
  }
}

}  // namespace somlier::api
