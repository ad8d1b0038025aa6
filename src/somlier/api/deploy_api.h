// DeployApi: the seed's `deploy` and SoMLier's `deployments list|stop|logs` as JSON request
// -> JSON response, shared by POST /deploy (also /online/deploy), POST /deployments/...,
// and the CLI in-process or against a remote server (api/seed_api.h explains why).
//
//   deploy:             {project_name, model_name, model_version, use_k8s_job?, istio_enabled?,
//                        workers?} -> {status, message, name, url}
//   deployments/list:   {} -> {deployments: [{name, model_name, model_version, target, status,
//                        url, pid?, message, creation_time, last_updated_time}]}
//   deployments/stop:   {name} -> the deployment, as in list
//   deployments/logs:   {name, tail?} -> {name, log_file, log}
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/core/result.h"

namespace somlier {
class LocalDeployments;
}

namespace somlier::api {

Result<nlohmann::json> SeedDeploy(LocalDeployments& deployments, const nlohmann::json& request);
Result<nlohmann::json> DeploymentsList(LocalDeployments& deployments,
                                       const nlohmann::json& request);
Result<nlohmann::json> DeploymentsStop(LocalDeployments& deployments,
                                       const nlohmann::json& request);
Result<nlohmann::json> DeploymentsLogs(LocalDeployments& deployments,
                                       const nlohmann::json& request);

}  // namespace somlier::api
