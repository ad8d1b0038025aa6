// TrainService: SoMLier's core job (`somlier online train`, POST /train) — a project at a
// git ref, run once per combination of a parameter grid, in parallel, each run tracked.
//
// Submit() checks everything the user gave before any run exists: the request
// (CheckTrainRequest, training/grid_plan.h), the repository and ref (fetched into the git
// cache), the project directory and its spec (somlier.yaml or MLproject), the entrypoint,
// and the command of every combination (PlanGridRuns). Only then does it create the
// project's experiment when missing and schedule one run per combination through the run
// lifecycle (tracking/run_lifecycle.h: params logged, source recorded, held by the
// executor), and hand the grid to a RunExecutor (training/run_executor.h): the local one
// (training/local_run_executor.h), or the cluster's (training/kubernetes_run_executor.h)
// when one is given and the request asks for it (use_k8s_job) or leaves it to the default.
// A dry run (Preview) stops before anything is created and answers what would execute. It records
// what the executor reports — a run goes RUNNING when its process starts and FINISHED, FAILED or
// KILLED when it ends, with its exit code and the reason; its output is kept in its artifacts at
// logs/output.log.
//
// It is the lifecycle's RunStopper: `RunLifecycle::Kill` stops a run of this service's jobs,
// or (through the executor) one another process of this host executes. Credentials in the
// repository URI are not stored on runs. RecoverOrphanedRuns() fails the runs whose executor
// is gone, so none stays RUNNING forever: a CLI command calls it once, a server at its start
// and then every few seconds (WatchForOrphanedRuns), because an executor can die while a
// server keeps answering for its runs — another server on the same store, or an in-process
// `somlier online train`, killed with SIGKILL. Runs whose executor outlives the process
// (Kubernetes Jobs) are not killed when the service goes: RecoverOrphanedRuns() of the next
// one follows them again (RunExecutor::Resume). Thread-safe. The TrackingService must outlive
// the service; destroying the service stops that watch, kills the runs it still executes
// and waits for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "somlier/core/param_grid.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/execution/line_pump.h"
#include "somlier/projects/python_env.h"
#include "somlier/store/entities.h"
#include "somlier/tracking/run_lifecycle.h"
#include "somlier/training/run_executor.h"
#include "somlier/training/train_request.h"

namespace somlier {

class RunExecutor;
class TrackingService;
class TrainJob;

struct TrainServiceConfig {
  std::filesystem::path home;  // git mirrors in repos/, virtualenvs in envs/, copies in work/
  Environment env;             // what runs inherit; also where git and Python are looked up
  std::string python;          // the configured interpreter (Settings::python), or empty
  std::string default_project_uri;
  std::chrono::milliseconds kill_grace{3000};  // SIGTERM to SIGKILL
  // Without a cluster executor: why a request for one (use_k8s_job=true) is refused.
  std::string no_cluster_reason = "Kubernetes is not configured for SoMLier";
};

// One run of a grid as Submit() made it.
struct TrainRun {
  std::string run_id;
  std::string run_name;
  ParamCombination params;
};

// What a caller may watch; each callback is optional and called from worker threads,
// several at once.
struct TrainEvents {
  std::function<void(std::string_view note)> on_note;  // slow steps and warnings
  // A run started (RUNNING) or ended; `message` says why it failed or was killed.
  std::function<void(const TrainRun& run, RunStatus status, const std::string& message)> on_status;
  std::function<void(const TrainRun& run, OutputStream stream, std::string_view line)> on_line;
  // Polled during slow steps (git fetch, creating the environment); true stops them — the
  // caller was interrupted.
  std::function<bool()> cancelled;
};

// Also the RunStopper of the tracking layer's run lifecycle (tracking/run_lifecycle.h):
// `RunLifecycle::Kill` stops a run of this service's jobs, or one another process on this
// host executes (its process group is signalled).
class TrainService : public RunStopper {
 public:
  // Runs execute on this machine (a LocalRunExecutor over `config`), or with `cluster` (or
  // null) where a request asks for it.
  TrainService(TrackingService& tracking, TrainServiceConfig config,
               std::unique_ptr<RunExecutor> cluster = nullptr);
  ~TrainService();
  TrainService(const TrainService&) = delete;
  TrainService& operator=(const TrainService&) = delete;

  // Where runs log to: this process's API server, and the token it requires (or empty).
  // Submit() refuses to start runs until it is set.
  void SetTrackingServer(const std::string& uri, const std::string& token);

  // Errors, all before any run exists: those of CheckTrainRequest and PlanGridRuns
  // (InvalidArgument); FailedPrecondition for use_k8s_job=true without a cluster executor
  // (no_cluster_reason); NotFound for an unknown repository ("the project's version does not
  // exist" for an unknown ref, "the project does not exist" for a missing directory) or
  // entrypoint; the executor's (kubectl's) when it could not start the grid (its runs FAILED).
  Result<std::shared_ptr<TrainJob>> Submit(const TrainRequest& request, TrainEvents events = {});

  // What Submit(request) would execute — the executor's name, and one JSON object per run
  // (a Job manifest; a command) — creating nothing: no run, no experiment, no Job. The same
  // errors as Submit's, but the executor's.
  struct Preview {
    std::string executor;
    std::string commit;
    std::vector<nlohmann::json> runs;
  };
  Result<Preview> DryRun(const TrainRequest& request, TrainEvents events = {});

  // The project archive called `name` that the cluster's pods download (projects/
  // git_cache.h). Errors: InvalidArgument for a name that is not an archive's; NotFound.
  Result<std::filesystem::path> SourceArchive(const std::string& name) const;

  // Abandons (FAILED, with the reason) every SCHEDULED or RUNNING run whose executor is gone,
  // stopping what is left of it, and adopts (follows from now on) the runs in a cluster whose
  // follower is gone. Returns how many were abandoned.
  Result<int> RecoverOrphanedRuns();

  // Calls RecoverOrphanedRuns() every `period` on a thread of its own until the service is
  // destroyed, so that a run whose executor dies is FAILED within `period` through every
  // door that reads it (reads themselves stay free of process checks). Failures are logged.
  // Call at most once.
  void WatchForOrphanedRuns(std::chrono::milliseconds period);

 private:
  Status CanStop(const RunInfo& run) override;
  void Stop(const RunInfo& run, const std::string& reason) override;

  struct TrackingServer {
    std::string uri;
    std::string token;
  };
  struct Prepared;
  Result<Prepared> Prepare(const TrainRequest& request, TrainEvents& events);
  RunExecutor& ExecutorOf(const RunInfo& run);
  // Follows runs the cluster executes, adopted from a gone process.
  void Resume(const std::vector<RunInfo>& held);
  // Removes the jobs that are done from jobs_ (mutex_ held) and returns them, to be destroyed
  // once mutex_ is released (destroying one joins its threads).
  std::vector<std::shared_ptr<TrainJob>> TakeDone();

  TrackingService& tracking_;
  TrainServiceConfig config_;
  std::unique_ptr<RunExecutor> local_;
  std::unique_ptr<RunExecutor> cluster_;  // or null
  std::mutex mutex_;
  TrackingServer server_;                        // guarded by mutex_
  std::vector<std::shared_ptr<TrainJob>> jobs_;  // guarded by mutex_

  std::mutex watch_mutex_;
  std::condition_variable watch_wake_;
  bool watch_stop_ = false;  // guarded by watch_mutex_
  std::thread watcher_;      // WatchForOrphanedRuns(); joined by the destructor
};

// The runs of one Submit(), executing. Thread-safe.
class TrainJob {
 public:
  ~TrainJob();

  const std::string& experiment_id() const { return experiment_id_; }
  const std::string& commit() const { return commit_; }
  const std::string& executor() const { return executor_; }  // its name: "local", "kubernetes"
  const std::vector<TrainRun>& runs() const { return runs_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Kills every run not yet ended (and stops preparing their environment); queued runs
  // never start.
  void KillAll(const std::string& reason);
  bool Has(const std::string& run_id) const;
  // False when the run is not part of this job or has ended.
  bool Kill(const std::string& run_id, const std::string& reason);
  void Wait();
  bool WaitFor(std::chrono::milliseconds timeout);
  bool Done();

 private:
  friend class TrainService;
  class Observer;  // records what the executor reports (train_service.cc)
  TrainJob() = default;

  std::string experiment_id_;
  std::string commit_;
  std::string executor_;
  bool outlives_process_ = false;  // its runs go on when the service goes
  std::vector<TrainRun> runs_;
  std::vector<std::string> warnings_;
  std::filesystem::path spec_dir_;  // the exported copy the spec was read from
  std::unique_ptr<Observer> observer_;
  std::unique_ptr<Execution> execution_;  // declared last: destroyed first
};

}  // namespace somlier
