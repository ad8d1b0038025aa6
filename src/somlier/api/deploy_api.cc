#include "somlier/api/deploy_api.h"

#include <fmt/core.h>

#include "somlier/api/http_util.h"
#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/serving/local_deployments.h"

namespace somlier::api {

using nlohmann::json;

namespace {

Status OnlyFields(const json& request, std::initializer_list<std::string_view> allowed) {
  for (const auto& item : request.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      return InvalidArgument(
          fmt::format("unknown field '{}' (expected {})", item.key(), Join(names, ", ")));
    }
  }
  return OkStatus();
}

json DeploymentJson(const Deployment& d) {
  json out = {{"name", d.name},
              {"model_name", d.model_name},
              {"model_version", d.model_version},
              {"target", d.target},
              {"status", d.status},
              {"url", d.url},
              {"message", d.message},
              {"creation_time", d.creation_time},
              {"last_updated_time", d.last_updated_time}};
  if (d.pid) out["pid"] = *d.pid;
  return out;
}

}  // namespace

Result<json> SeedDeploy(LocalDeployments& deployments, const json& request) {
  SOMLIER_RETURN_IF_ERROR(OnlyFields(request, {"project_name", "model_name", "model_version",
                                               "use_k8s_job", "istio_enabled", "workers"}));
  DeployRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.project_name, RequiredJsonString(request, "project_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.model_name, RequiredJsonString(request, "model_name"));
  if (auto it = request.find("model_version"); it != request.end() && it->is_number()) {
    SOMLIER_ASSIGN_OR_RETURN(int64_t version, IntFromJson("model_version", *it, {.min = 1}));
    r.model_version = std::to_string(version);
  } else {
    SOMLIER_ASSIGN_OR_RETURN(r.model_version, RequiredJsonString(request, "model_version"));
  }
  SOMLIER_ASSIGN_OR_RETURN(r.use_k8s_job, JsonBool(request, "use_k8s_job"));
  SOMLIER_ASSIGN_OR_RETURN(auto istio, JsonBool(request, "istio_enabled"));
  r.istio_enabled = istio.value_or(false);
  if (auto it = request.find("workers"); it != request.end() && !it->is_null()) {
    SOMLIER_ASSIGN_OR_RETURN(r.workers,
                             IntFromJsonAs<int>("workers", *it, {1, DeployRequest::kMaxWorkers}));
  }
  SOMLIER_ASSIGN_OR_RETURN(DeployOutcome outcome, deployments.Deploy(r));
  return json{{"status", outcome.status},
              {"message", outcome.message},
              {"name", outcome.name},
              {"url", outcome.url}};
}

Result<json> DeploymentsList(LocalDeployments& deployments, const json& request) {
  SOMLIER_RETURN_IF_ERROR(OnlyFields(request, {}));
  SOMLIER_ASSIGN_OR_RETURN(auto all, deployments.List());
  json list = json::array();
  for (const Deployment& d : all) list.push_back(DeploymentJson(d));
  return json{{"deployments", std::move(list)}};
}

Result<json> DeploymentsStop(LocalDeployments& deployments, const json& request) {
  SOMLIER_RETURN_IF_ERROR(OnlyFields(request, {"name"}));
  SOMLIER_ASSIGN_OR_RETURN(std::string name, RequiredJsonString(request, "name"));
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, deployments.Stop(name));
  return DeploymentJson(d);
}

Result<json> DeploymentsLogs(LocalDeployments& deployments, const json& request) {
  SOMLIER_RETURN_IF_ERROR(OnlyFields(request, {"name", "tail"}));
  SOMLIER_ASSIGN_OR_RETURN(std::string name, RequiredJsonString(request, "name"));
  size_t tail = 0;
  if (auto it = request.find("tail"); it != request.end() && !it->is_null()) {
    SOMLIER_ASSIGN_OR_RETURN(tail, IntFromJsonAs<size_t>("tail", *it, kNonNegative));
  }
  SOMLIER_ASSIGN_OR_RETURN(std::string log, deployments.ReadLog(name, tail));
  return json{{"name", name}, {"log_file", deployments.LogFileOf(name).string()}, {"log", log}};
}

}  // namespace somlier::api
