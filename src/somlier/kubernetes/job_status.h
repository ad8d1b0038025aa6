// Reading a training Job's state from what the API server answers (`kubectl get jobs,pods -o
// json`): whether it waits in its grid's queue (suspended), waits for the cluster (pending,
// and why: an image that cannot be pulled, a pod that cannot be scheduled, a Secret that is
// missing), runs, or has ended — by its Complete or Failed condition, as MLflow's Kubernetes
// backend follows it — with the run container's exit code when the pod has one.
// Pure functions over JSON; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace somlier::kubernetes {

struct JobState {
  enum class Phase {
    kQueued,   // suspended: its grid's parallel limit is reached
    kPending,  // admitted; its pod is not running yet
    kRunning,  // its pod runs
    kSucceeded,
    kFailed,
  };
  Phase phase = Phase::kPending;
  // Pending: why, when the cluster says ("ImagePullBackOff: Back-off pulling image ...",
  // "init container fetch-source exited with code 1");
  // Failed: the Job's reason and message ("DeadlineExceeded: Job was active longer ..."),
  // then the pod's problem when it had one ("; OOMKilled", "; Evicted: ...").
  std::string message;
  std::optional<int> exit_code;  // the run container's, once terminated
  bool deadline_exceeded = false;
};

// `pod`: the newest pod of the Job (label job-name), or null when it has none yet.
JobState ReadJobState(const nlohmann::json& job, const nlohmann::json& pod);

}  // namespace somlier::kubernetes
