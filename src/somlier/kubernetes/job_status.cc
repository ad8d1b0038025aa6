#include "somlier/kubernetes/job_status.h"

#include <nlohmann/json.hpp>

namespace somlier::kubernetes {
namespace {

using nlohmann::json;

const json& At(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto found = object.find(key);
  return found == object.end() ? kNull : *found;
}

std::string Text(const json& object, const char* key) {
  const json& value = At(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

std::string ReasonAndMessage(const json& object) {
  std::string reason = Text(object, "reason");
  const std::string message = Text(object, "message");
  if (reason.empty()) return message;
  return message.empty() ? reason : reason + ": " + message;
}

// A condition of `type` whose status is "True", or null.
const json* TrueCondition(const json& status, const char* type) {
  const json& conditions = At(status, "conditions");
  if (!conditions.is_array()) return nullptr;
  for (const json& condition : conditions) {
    if (Text(condition, "type") == type && Text(condition, "status") == "True") return &condition;
  }
  return nullptr;
}

// The run container's exit code, once it has terminated.
std::optional<int> ExitCode(const json& pod) {
  const json& statuses = At(At(pod, "status"), "containerStatuses");
  if (!statuses.is_array()) return std::nullopt;
  for (const json& container : statuses) {
    if (Text(container, "name") != "run") continue;
    const json& code = At(At(At(container, "state"), "terminated"), "exitCode");
    if (code.is_number_integer()) return code.get<int>();
  }
  return std::nullopt;
}

// What went wrong with a pod that ended, beyond its exit code: an init container that
// failed (the project's download), the run container's reason (OOMKilled), an eviction.
std::string PodProblem(const json& pod) {
  const json& status = At(pod, "status");
  const json& inits = At(status, "initContainerStatuses");
  if (inits.is_array()) {
    for (const json& container : inits) {
      const json& terminated = At(At(container, "state"), "terminated");
      const json& code = At(terminated, "exitCode");
      if (code.is_number_integer() && code.get<int>() != 0) {
        std::string text = "init container " + Text(container, "name") + " exited with code " +
                           std::to_string(code.get<int>());
        const std::string why = ReasonAndMessage(terminated);
        return why.empty() ? text : text + " (" + why + ")";
      }
    }
  }
  const json& containers = At(status, "containerStatuses");
  if (containers.is_array()) {
    for (const json& container : containers) {
      const json& terminated = At(At(container, "state"), "terminated");
      const std::string reason = Text(terminated, "reason");
      if (Text(container, "name") == "run" && !reason.empty() && reason != "Completed" &&
          reason != "Error") {
        return ReasonAndMessage(terminated);
      }
    }
  }
  return ReasonAndMessage(status);  // "Evicted: The node was low on resource: memory."
}

// Why a pod is not running yet, when the cluster says more than "being created".
std::string WaitingReason(const json& pod) {
  const json& status = At(pod, "status");
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json& statuses = At(status, list);
    if (!statuses.is_array()) continue;
    for (const json& container : statuses) {
      const json& waiting = At(At(container, "state"), "waiting");
      const std::string reason = Text(waiting, "reason");
      if (reason.empty() || reason == "ContainerCreating" || reason == "PodInitializing") continue;
      return ReasonAndMessage(waiting);
    }
  }
  const json& conditions = At(status, "conditions");
  if (conditions.is_array()) {
    for (const json& condition : conditions) {
      if (Text(condition, "type") == "PodScheduled" && Text(condition, "status") == "False") {
        return ReasonAndMessage(condition);
      }
    }
  }
  return "";
}

}  // namespace

JobState ReadJobState(const json& job, const json& pod) {
  JobState state;
  const json& status = At(job, "status");
  if (const json* failed = TrueCondition(status, "Failed")) {
    state.phase = JobState::Phase::kFailed;
    state.message = ReasonAndMessage(*failed);
    if (const std::string problem = PodProblem(pod); !problem.empty()) {
      state.message += "; " + problem;
    }
    state.deadline_exceeded = Text(*failed, "reason") == "DeadlineExceeded";
    state.exit_code = ExitCode(pod);
    return state;
  }
  if (TrueCondition(status, "Complete")) {
    state.phase = JobState::Phase::kSucceeded;
    state.exit_code = ExitCode(pod).value_or(0);
    return state;
  }
  const json& suspend = At(At(job, "spec"), "suspend");
  if (suspend.is_boolean() && suspend.get<bool>()) {
    state.phase = JobState::Phase::kQueued;
    return state;
  }
  const std::string phase = Text(At(pod, "status"), "phase");
  state.exit_code = ExitCode(pod);
  if (phase == "Running" || state.exit_code) {
    state.phase = JobState::Phase::kRunning;  // its end is the Job's condition, soon
    return state;
  }
  state.phase = JobState::Phase::kPending;  // ended before the run container ran, maybe
  state.message = phase == "Failed" ? PodProblem(pod) : WaitingReason(pod);
  return state;
}

}  // namespace somlier::kubernetes
