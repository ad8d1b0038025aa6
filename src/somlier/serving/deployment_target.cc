#include "somlier/serving/deployment_target.h"

#include <fmt/core.h>

#include "somlier/core/time.h"

namespace somlier {

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
