// TrainService: SoMLier's core job (`somlier online train`, POST /train) — a project at a
// git ref, run once per combination of a parameter grid, in parallel, each run tracked.
//
// Submit() checks everything the user gave before any run exists: the request's fields,
// the parameter grid (core/param_grid.h), the repository and ref (fetched into the git
// cache), the project directory and its spec (somlier.yaml or MLproject), the entrypoint,
// and the argv of every combination. Only then does it create the project's experiment
// (named PROJECT_NAME) when missing and one SCHEDULED run per combination, its params
// logged and its source recorded, and start executing them on a LocalExecutor in the
// background. A run gets its own fresh copy of the project directory, the project's Python
// environment (projects/python_env.h; one virtualenv shared by the grid), and
// MLFLOW_TRACKING_URI / MLFLOW_RUN_ID / MLFLOW_EXPERIMENT_ID / MLFLOW_TRACKING_TOKEN, their
// SOMLIER_* twins and the somlier Python package on PYTHONPATH, so that `mlflow` and
// `somlier` clients log into it. It goes RUNNING when its process starts and FINISHED,
// FAILED or KILLED when it ends, with its exit code and the reason; its output is kept in
// its artifacts at logs/output.log.
//
// Runs record the process executing them (execution/process_identity.h) until they end,
// and status changes are compare-and-set, so `runs kill` from another process and an
// executor agree. Credentials in the repository URI are not stored on runs.
// RecoverOrphanedRuns() fails the runs whose executor has died, so none stays RUNNING
// forever: a CLI command calls it once, a server at its start and then every few seconds
// (WatchForOrphanedRuns), because an executor can die while a server keeps answering for
// its runs — another server on the same store, or an in-process `somlier online train`,
// killed with SIGKILL. Thread-safe. The TrackingService must outlive the service; destroying
// the service stops that watch, kills the runs it still executes and waits for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
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

namespace somlier {

class TrackingService;
class TrainJob;

struct TrainRequest {
  std::string project_name;  // a directory inside the repository; also the experiment name
  std::string project_ref;   // branch, tag or commit
  std::string github_uri;    // empty: the configured default repository
  std::string entrypoint = "main";
  std::vector<ParamSpec> params;          // NAME -> SPEC, in the order given
  std::optional<EnvManager> env_manager;  // empty: virtualenv when the project has requirements
  int max_parallel = 0;                   // 0: the number of cores
  std::chrono::seconds timeout{0};        // per run; 0: none
  bool use_k8s_job = false;
  bool use_gpu = false;
  std::string user;  // who asked (recorded on the runs), or empty
};

struct TrainServiceConfig {
  std::filesystem::path home;  // git mirrors in repos/, virtualenvs in envs/, copies in work/
  Environment env;             // what runs inherit; also where git and Python are looked up
  std::string python;          // the configured interpreter (Settings::python), or empty
  std::string default_project_uri;
  std::chrono::milliseconds kill_grace{3000};  // SIGTERM to SIGKILL
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
  TrainService(TrackingService& tracking, TrainServiceConfig config);
  ~TrainService();
  TrainService(const TrainService&) = delete;
  TrainService& operator=(const TrainService&) = delete;

  // Where runs log to: this process's API server, and the token it requires (or empty).
  // Submit() refuses to start runs until it is set.
  void SetTrackingServer(const std::string& uri, const std::string& token);

  // Errors, all before any run exists: InvalidArgument for a bad field, parameter spec or
  // combination the entrypoint cannot take; NotFound for an unknown repository ("the
  // project's version does not exist" for an unknown ref, "the project does not exist" for
  // a missing directory) or entrypoint; Unimplemented for use_k8s_job.
  Result<std::shared_ptr<TrainJob>> Submit(const TrainRequest& request, TrainEvents events = {});

  // Marks FAILED (with the reason) every SCHEDULED or RUNNING run whose executing process
  // on this host is gone, killing what is left of its process. Returns how many.
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
  void Prune();

  TrackingService& tracking_;
  TrainServiceConfig config_;
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
  struct State;
  TrainJob() = default;

  std::string experiment_id_;
  std::string commit_;
  std::vector<TrainRun> runs_;
  std::vector<std::string> warnings_;
  std::unique_ptr<State> state_;
};

}  // namespace somlier
