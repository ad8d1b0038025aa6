#include "somlier/api/seed_api.h"

#include <fmt/core.h>

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

Result<json> SeedSearch(TrackingService& tracking, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string project, request.RequiredString("project_name"));
  SOMLIER_ASSIGN_OR_RETURN(std::string metric, request.RequiredString("standard_metric"));
  SOMLIER_ASSIGN_OR_RETURN(std::string order, request.RequiredString("order_by"));
  SOMLIER_ASSIGN_OR_RETURN(std::optional<int64_t> top,
                           request.Int("top", {1, kMaxRunSearchResults}));
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

Result<json> SeedRegister(RegistryService& registry, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string run_id, request.RequiredString("run_id"));
  SOMLIER_ASSIGN_OR_RETURN(std::string model_name, request.RequiredString("model_name"));
  SOMLIER_ASSIGN_OR_RETURN(RegisterOutcome outcome, registry.RegisterRun(run_id, model_name));
  return RegisterAnswer(outcome);
}

Result<json> SeedRegisterV2(ModelImport& model_import, const Fields& request) {
  ImportModelRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.model_type, request.RequiredString("model_type"));
  SOMLIER_ASSIGN_OR_RETURN(r.uri, request.String("uri"));
  if (r.uri.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(r.uri, request.String("gcs_uri"));
  }
  if (r.uri.empty()) return InvalidArgument("'uri' is required: where the model file is");
  SOMLIER_ASSIGN_OR_RETURN(r.model_name, request.RequiredString("model_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.github_uri, request.String("github_uri"));
  SOMLIER_ASSIGN_OR_RETURN(r.project_name, request.String("project_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.project_ref, request.String("project_ref"));
  SOMLIER_ASSIGN_OR_RETURN(r.model_module_path, request.String("model_module_path"));
  SOMLIER_ASSIGN_OR_RETURN(r.model_class_name, request.String("model_class_name"));
  SOMLIER_ASSIGN_OR_RETURN(RegisterOutcome outcome, model_import.Register(r));
  return RegisterAnswer(outcome);
}

}  // namespace somlier::api
