#include "somlier/serving/deployment_target.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

#include "somlier/core/time.h"
#include "somlier/projects/git_cache.h"
#include "somlier/tracking/validation.h"

namespace somlier {

Status CheckDeployRequest(const DeployRequest& request) {
  if (request.project_name.empty()) return InvalidArgument("PROJECT_NAME must not be empty");
  SOMLIER_RETURN_IF_ERROR(NormalizeProjectPath(request.project_name).status());
  SOMLIER_RETURN_IF_ERROR(ValidateModelName(request.model_name));
  const std::string& version = request.model_version;
  if (version.empty() || version.size() > 18 ||
      !std::all_of(version.begin(), version.end(),
                   [](unsigned char c) { return std::isdigit(c) != 0; }) ||
      version == "0" || version[0] == '0') {
    return InvalidArgument(
        fmt::format("MODEL_VERSION '{}' is not a version number (1, 2, ...)", version));
  }
  if (request.workers < 1 || request.workers > DeployRequest::kMaxWorkers) {
    return InvalidArgument(fmt::format("workers {} must be between 1 and {}", request.workers,
                                       DeployRequest::kMaxWorkers));
  }
  return OkStatus();
}

Result<Deployment> DeploymentTarget::Promote(const std::string& name) {
  return Unimplemented(fmt::format(
      "deployment '{}' serves one version on this machine; promote and rollback are for "
      "canaries on Kubernetes (deploy --use_k8s_job=true --istio_enabled=true --canary_percent P)",
      name));
}

Result<Deployment> DeploymentTarget::Rollback(const std::string& name) { return Promote(name); }

bool DeploymentTransitionAllowed(std::optional<DeploymentStatus> from, DeploymentStatus to) {
  switch (to) {
    case DeploymentStatus::kStarting:
      return !from || *from != DeploymentStatus::kRunning;
    case DeploymentStatus::kRunning:
      return from == DeploymentStatus::kStarting;
    case DeploymentStatus::kFailed:
      return from == DeploymentStatus::kStarting || from == DeploymentStatus::kRunning;
    case DeploymentStatus::kStopped:
      return from.has_value();
  }
  return false;
}

Status MoveDeployment(Deployment& d, DeploymentStatus to, std::string message) {
  // A deployment without a creation time has never been recorded.
  const std::optional<DeploymentStatus> from =
      d.creation_time == 0 ? std::nullopt : std::optional(d.status);
  if (!DeploymentTransitionAllowed(from, to)) {
    return Internal(fmt::format("deployment '{}' cannot go from {} to {}", d.name,
                                from ? ToString(*from) : "nothing", ToString(to)));
  }
  d.status = to;
  d.message = std::move(message);
  d.last_updated_time = NowMillis();
  if (d.creation_time == 0) d.creation_time = d.last_updated_time;
  return OkStatus();
}

}  // namespace somlier
