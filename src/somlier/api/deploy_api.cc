#include "somlier/api/deploy_api.h"

#include <fmt/core.h>

#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/serving/deployment_target.h"

namespace somlier::api {

using nlohmann::json;

namespace {

json DeploymentJson(const Deployment& d) {
  json out = {{"name", d.name},
              {"model_name", d.model_name},
              {"model_version", d.model_version},
              {"target", std::string(ToString(d.target))},
              {"status", std::string(ToString(d.status))},
              {"url", d.url},
              {"message", d.message},
              {"creation_time", d.creation_time},
              {"last_updated_time", d.last_updated_time}};
  if (d.pid) out["pid"] = *d.pid;
  return out;
}

}  // namespace

Result<json> SeedDeploy(DeploymentTarget& deployments, const Fields& request) {
  DeployRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.project_name, request.RequiredString("project_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.model_name, request.RequiredString("model_name"));
  if (const auto* version = request.Raw("model_version"); version && version->is_number()) {
    SOMLIER_ASSIGN_OR_RETURN(auto number, request.Int("model_version", {.min = 1}));
    r.model_version = std::to_string(*number);
  } else {
    SOMLIER_ASSIGN_OR_RETURN(r.model_version, request.RequiredString("model_version"));
  }
  SOMLIER_ASSIGN_OR_RETURN(r.use_k8s_job, request.Bool("use_k8s_job"));
  SOMLIER_ASSIGN_OR_RETURN(auto istio, request.Bool("istio_enabled"));
  r.istio_enabled = istio.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(auto workers, request.Int("workers", {1, DeployRequest::kMaxWorkers}));
  if (workers) r.workers = static_cast<int>(*workers);
  SOMLIER_ASSIGN_OR_RETURN(auto gpu, request.Bool("use_gpu"));
  r.use_gpu = gpu.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(auto dry_run, request.Bool("dry_run"));
  r.dry_run = dry_run.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(auto replicas, request.Int("replicas", {1, 1000}));
  if (replicas) r.replicas = static_cast<int>(*replicas);
  SOMLIER_ASSIGN_OR_RETURN(auto min_replicas, request.Int("min_replicas", {1, 1000}));
  SOMLIER_ASSIGN_OR_RETURN(auto max_replicas, request.Int("max_replicas", {1, 1000}));
  if (min_replicas) r.min_replicas = static_cast<int>(*min_replicas);
  if (max_replicas) r.max_replicas = static_cast<int>(*max_replicas);
  SOMLIER_ASSIGN_OR_RETURN(auto canary, request.Int("canary_percent", {1, 99}));
  if (canary) r.canary_percent = static_cast<int>(*canary);
  SOMLIER_ASSIGN_OR_RETURN(DeployOutcome outcome, deployments.Deploy(r));
  json answer = {{"status", outcome.status},
                 {"message", outcome.message},
                 {"name", outcome.name},
                 {"url", outcome.url},
                 {"target", outcome.target}};
  if (r.dry_run) answer["manifests"] = outcome.manifests;
  return answer;
}

Result<json> DeploymentsList(DeploymentTarget& deployments, const Fields&) {
  SOMLIER_ASSIGN_OR_RETURN(auto all, deployments.List());
  json list = json::array();
  for (const Deployment& d : all) list.push_back(DeploymentJson(d));
  return json{{"deployments", std::move(list)}};
}

// stop, promote, rollback: {name} -> the deployment after `change`.
Result<json> ChangeDeployment(DeploymentTarget& deployments, const Fields& request,
                              Result<Deployment> (DeploymentTarget::*change)(const std::string&)) {
  SOMLIER_ASSIGN_OR_RETURN(std::string name, request.RequiredString("name"));
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, (deployments.*change)(name));
  return DeploymentJson(d);
}

Result<json> DeploymentsStop(DeploymentTarget& deployments, const Fields& request) {
  return ChangeDeployment(deployments, request, &DeploymentTarget::Stop);
}

Result<json> DeploymentsLogs(DeploymentTarget& deployments, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string name, request.RequiredString("name"));
  SOMLIER_ASSIGN_OR_RETURN(auto tail, request.Int("tail", kNonNegative));
  SOMLIER_ASSIGN_OR_RETURN(std::string log,
                           deployments.ReadLog(name, static_cast<size_t>(tail.value_or(0))));
  return json{{"name", name}, {"log_file", deployments.LogLocation(name)}, {"log", log}};
}

Result<json> DeploymentsPromote(DeploymentTarget& deployments, const Fields& request) {
  return ChangeDeployment(deployments, request, &DeploymentTarget::Promote);
}

Result<json> DeploymentsRollback(DeploymentTarget& deployments, const Fields& request) {
  return ChangeDeployment(deployments, request, &DeploymentTarget::Rollback);
}

}  // namespace somlier::api
