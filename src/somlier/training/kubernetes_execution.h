// KubernetesExecution: how KubernetesRunExecutor (training/kubernetes_run_executor.h)
// follows the Jobs of its runs — one polling thread per Execution that lists the runs' Jobs
// and pods (`kubectl get jobs,pods -l SELECTOR -o json` every poll_ms), turns each Job's
// state (kubernetes/job_status.h) into the observer's reports (waiting reasons, start, end
// with exit code; a run that ended between two polls is reported started first), appends the
// pod's log to the run's log file as it grows, admits a grid's suspended Jobs in order while
// fewer than its limit run, and kills by deleting the Job — retried at each poll until the
// cluster agrees. Destroying it stops following; the Jobs go on. Internal to training/.
// Thread-safe; the observer must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "somlier/kubernetes/kubectl.h"
#include "somlier/training/run_executor.h"

namespace somlier {

// Called with (run id, true) when following starts and (run id, false) when it stops.
using FollowCallback = std::function<void(const std::string& run_id, bool following)>;

// Starts following `runs` (`resumed`: their logs go on where the files end).
std::unique_ptr<Execution> FollowJobs(kubernetes::Kubectl kubectl, std::string selector,
                                      std::vector<GridJob::Run> runs, ExecutionObserver& observer,
                                      bool resumed, FollowCallback follow);

}  // namespace somlier
