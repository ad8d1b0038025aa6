// RunExecutor: where the runs of a grid execute — the seam between planning and recording a
// grid (TrainService, training/grid_plan.h, tracking/run_lifecycle.h) and running it.
// LocalRunExecutor (training/local_run_executor.h) runs them as process groups on this
// machine; a Kubernetes executor runs them as Jobs.
//
// Submit() takes a GridJob — the project (repository, commit, path and spec), the Python
// environment it asks for, where its runs log to, and each run's id, command and log file —
// and executes its runs, at most `max_parallel` at once, in the background. It reports each
// run to an ExecutionObserver (its start, its output lines, its end), which records them
// through the run lifecycle; it asks the observer before starting a run, so a run killed
// while it waited never starts. The Execution it returns kills runs, and waits.
//
// Recovery after a restart: every run an executor holds carries its Handle() (RunInfo's
// executor). Check() says whether the executor behind a run's handle is alive — the local
// one by process identity; the Kubernetes one by the run's Job, with no pid involved — and
// StopOrphan() stops what is left of a run whose executor is gone, or that this process may
// stop for a user (RunStopper). Where runs outlive the process that submitted them (Jobs in
// a cluster: RunsOutliveProcess()), destroying an Execution only stops following them;
// Check() then says kUnfollowed for a run that goes on while the process that followed it is
// gone, and another process adopts it (RunLifecycle::Adopt) and Resume()s following it.
//
// Preview() says what Submit() would execute, executing nothing (`--dry_run`).
//
// Implementations are thread-safe; the observer is called from their threads, several
// calls at once, and must outlive the Execution.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/execution/line_pump.h"
#include "somlier/projects/project_spec.h"
#include "somlier/projects/python_env.h"
#include "somlier/store/entities.h"
#include "somlier/tracking/run_lifecycle.h"

namespace somlier {

// The runs of one grid, as an executor needs them.
struct GridJob {
  std::string uri;  // the repository, with any credentials (fetching needs them)
  std::string commit;
  std::string project_path;
  std::string shown;  // the project as users know it (path@commit), for messages
  ProjectSpec spec;
  std::filesystem::path spec_dir;  // the exported copy `spec` was read from
  PythonEnvRequest env_request;
  std::string tracking_uri;    // where runs log to, as they reach it
  std::string tracking_token;  // empty: none
  std::string python_package;  // the somlier package's directory on this machine, or empty
  std::string experiment_id;
  std::string project;  // its name (the experiment's), for labels
  std::string grid_id;  // groups the grid's runs (the somlier.train_id tag)
  bool use_gpu = false;
  int max_parallel = 1;
  std::chrono::seconds timeout{0};  // per run; 0: none

  struct Run {
    std::string run_id;
    std::vector<std::string> argv;  // the entrypoint's command (before any interpreter)
    std::filesystem::path log_file;
    bool running = false;  // resumed: it was RUNNING already
  };
  std::vector<Run> runs;

  // `status` with the exported copy of the project named as the user knows it.
  Status Named(const Status& status) const;
};

class ExecutionObserver {
 public:
  virtual ~ExecutionObserver() = default;
  // Polled during slow preparation (an environment, a fetch); true stops it.
  virtual bool Cancelled() = 0;
  // A slow step or a warning, for the user.
  virtual void OnNote(std::string_view note) = 0;
  // Right before a run starts: an error (FailedPrecondition, say) keeps it from starting.
  virtual Status MayStart(const std::string& run_id) = 0;
  // Its process started; `pid` where it has one. An error (the run was ended meanwhile)
  // has the executor stop it at once.
  virtual Status OnStart(const std::string& run_id, std::optional<int64_t> pid) = 0;
  virtual void OnLine(const std::string& run_id, OutputStream stream, std::string_view line) = 0;
  // Why a run that should be running still waits (an image that cannot be pulled), each time
  // that changes; empty: it waits for no known reason.
  virtual void OnWaiting(const std::string& run_id, std::string_view reason) = 0;
  virtual void OnEnd(const std::string& run_id, const RunEnd& end) = 0;
};

// The runs of one Submit(), executing.
class Execution {
 public:
  virtual ~Execution() = default;  // kills what still runs, and waits
  // False when the run is not one of these or has ended.
  virtual bool Kill(const std::string& run_id, const std::string& reason) = 0;
  // Kills every run not yet ended; queued ones never start.
  virtual void KillAll(const std::string& reason) = 0;
  virtual void Wait() = 0;
  virtual bool WaitFor(std::chrono::milliseconds timeout) = 0;
};

enum class ExecutorLiveness {
  kAlive,       // still executing (or following) the run
  kGone,        // gone, and the run with it: it is orphaned
  kUnfollowed,  // the run goes on (a Job), but the process that followed it is gone
  kUnknown,     // not this executor's to judge (another machine's, another kind's)
};

class RunExecutor {
 public:
  virtual ~RunExecutor() = default;
  // Its kind, as MLflow's mlflow.project.backend tag says it ("local").
  virtual std::string_view name() const = 0;
  // What runs it holds record as their executor.
  virtual std::string Handle() const = 0;
  virtual Result<std::unique_ptr<Execution>> Submit(GridJob job, ExecutionObserver& observer) = 0;
  // What Submit(job) would execute, one JSON object per run (a Kubernetes manifest; the local
  // command), executing nothing.
  virtual Result<std::vector<nlohmann::json>> Preview(const GridJob& job) = 0;
  // Whether runs go on executing when this process ends.
  virtual bool RunsOutliveProcess() const { return false; }
  // Follows `runs` (their run_id and log_file), held by an executor of this kind whose
  // process is gone and alive by Check(): what they do from now on goes to `observer`.
  // Unimplemented where runs cannot outlive their process.
  virtual Result<std::unique_ptr<Execution>> Resume(std::vector<GridJob::Run> runs,
                                                    ExecutionObserver& observer);
  virtual ExecutorLiveness Check(const RunInfo& run) = 0;
  // Stops what is left of `run` (held by an executor of this kind, maybe another process),
  // giving it `grace` to end before it is forced. An error: it may still be running.
  virtual Status StopOrphan(const RunInfo& run, std::chrono::milliseconds grace) = 0;
};

}  // namespace somlier
