// KubernetesRunExecutor: the RunExecutor (training/run_executor.h) that runs a grid's runs as
// Kubernetes Jobs, one per run (kubernetes/job_manifest.h), through kubectl
// (kubernetes/kubectl.h). SoMLier drives the cluster; it does not imitate it.
//
// Submit() creates every Job of the grid in one `kubectl create` — the first `max_parallel`
// admitted, the others suspended — so the queue lives in the cluster and survives a restart
// of the server. If kubectl fails (unreachable, forbidden, a refused object), the Jobs this
// submission created are deleted by their grid label and the error, kubectl's words and
// whether the clean-up worked, comes back: the caller fails the runs with it.
//
// An Execution follows its runs by polling (training/kubernetes_execution.h: `kubectl get
// jobs,pods -l ... -o json` every `poll_ms`): a Job's state (kubernetes/job_status.h) becomes the
// run's — pending reasons such as ImagePullBackOff or Unschedulable as its status message, RUNNING
// when its pod runs, FINISHED or FAILED by the Job's Complete or Failed condition and the
// container's exit code, KILLED when its deadline (`--timeout`, activeDeadlineSeconds) passed. As
// the grid's Jobs end, its suspended Jobs are admitted in order (their annotations carry the limit
// and the order). The pod's log is appended to the run's log file as it grows, and at the end,
// before the Job can expire (its TTL), so `runs logs -f` follows it. Kill() saves the log, then
// deletes the Job (background propagation: its pod goes too).
//
// The image is the project's own (`project.docker` in somlier.yaml) or the runtime image;
// with the runtime image an init container downloads the project at its commit from the
// SoMLier server (the git cache's archive, made here at Submit) — no git credentials
// enter the cluster.
//
// Runs outlive the server: destroying an Execution only stops following them. The handle
// is "kubernetes:[CONTEXT/]NAMESPACE@<the following process's identity>"
// (execution/process_identity.h). Check(): alive while that process lives (this one, or
// another server of this host); once it is gone, unfollowed while the run's Job exists (a
// restarted server adopts the run and Resume()s following it) and gone once the Job is
// deleted or expired. Thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "somlier/core/settings.h"
#include "somlier/kubernetes/kube_settings.h"
#include "somlier/kubernetes/kubectl.h"
#include "somlier/training/run_executor.h"

namespace somlier {

struct KubernetesRunExecutorConfig {
  kubernetes::KubernetesSettings settings;
  std::filesystem::path home;  // the git cache (repos/) whose archives pods download
  Environment env;             // where git is looked up
};

class KubernetesRunExecutor final : public RunExecutor {
 public:
  // Errors: those of loading the settings' Job template (kubernetes/manifest_template.h);
  // FailedPrecondition when Kubernetes is not configured (image, tracking URL).
  static Result<std::unique_ptr<KubernetesRunExecutor>> Create(KubernetesRunExecutorConfig config);

  std::string_view name() const override { return "kubernetes"; }
  std::string Handle() const override;
  Result<std::unique_ptr<Execution>> Submit(GridJob job, ExecutionObserver& observer) override;
  // The Job manifests Submit would create (run ids as given).
  Result<std::vector<nlohmann::json>> Preview(const GridJob& job) override;
  bool RunsOutliveProcess() const override { return true; }
  Result<std::unique_ptr<Execution>> Resume(std::vector<GridJob::Run> runs,
                                            ExecutionObserver& observer) override;
  // See the file comment; kUnknown for another kind's, cluster's or host's handle, or when
  // kubectl cannot tell.
  ExecutorLiveness Check(const RunInfo& run) override;
  // Deletes the run's Job (background propagation); kubectl's error when it could not.
  Status StopOrphan(const RunInfo& run, std::chrono::milliseconds grace) override;

  // Called by executions (kubernetes_run_executor.cc) as they start and stop following runs.
  void Follow(const std::string& run_id, bool following);

 private:
  explicit KubernetesRunExecutor(KubernetesRunExecutorConfig config, nlohmann::json job_template);
  Result<std::vector<nlohmann::json>> Manifests(const GridJob& job);
  std::string Cluster() const;  // "kubernetes:[CONTEXT/]NAMESPACE"

  KubernetesRunExecutorConfig config_;
  kubernetes::Kubectl kubectl_;
  nlohmann::json job_template_;  // null: none
  std::mutex mutex_;
  std::multiset<std::string> followed_;  // guarded by mutex_
};

}  // namespace somlier
