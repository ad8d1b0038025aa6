// DeployApi: the seed's `deploy` and SoMLier's `deployments list|stop|logs` as request
// fields -> JSON response: rows of the use-case table (api/use_cases.h), which checks the
// fields they accept. Internal to src/somlier/api.
//
//   deploy:             {project_name, model_name, model_version, use_k8s_job?, istio_enabled?,
//                        workers?, use_gpu?, replicas?, min_replicas?, max_replicas?,
//                        canary_percent?, dry_run?} -> {status, message, name, url, target}
//                        (a dry run adds manifests: [..] and changes nothing)
//   deployments/list:   {} -> {deployments: [{name, model_name, model_version, target, status,
//                        url, pid?, message, creation_time, last_updated_time}]}
//   deployments/stop:   {name} -> the deployment, as in list
//   deployments/logs:   {name, tail?} -> {name, log_file, log}
//   deployments/promote, deployments/rollback: {name} -> the deployment, as in list
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/api/fields.h"
#include "somlier/core/result.h"

namespace somlier {
class DeploymentTarget;
}

namespace somlier::api {

Result<nlohmann::json> SeedDeploy(DeploymentTarget& deployments, const Fields& request);
Result<nlohmann::json> DeploymentsList(DeploymentTarget& deployments, const Fields& request);
Result<nlohmann::json> DeploymentsStop(DeploymentTarget& deployments, const Fields& request);
Result<nlohmann::json> DeploymentsLogs(DeploymentTarget& deployments, const Fields& request);
Result<nlohmann::json> DeploymentsPromote(DeploymentTarget& deployments, const Fields& request);
Result<nlohmann::json> DeploymentsRollback(DeploymentTarget& deployments, const Fields& request);

}  // namespace somlier::api
