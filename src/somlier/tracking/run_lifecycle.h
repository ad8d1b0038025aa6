// RunLifecycle: the life of a run that SoMLier executes (a run of a training grid), as one
// set of named transitions — the only code that changes an executed run's status. Owned by
// the tracking layer (TrackingService::lifecycle()); executors report to it (training/), and
// the API and the CLI ask it for a run's log and for kills.
//
// An executed run carries an executor handle (who executes it) from Schedule until its
// executor has seen it end (Finish, FailToStart or Abandon release it). While it is held,
// its clients (the mlflow or somlier client inside the run) cannot end it: their status
// changes are ignored (TrackingService::UpdateRun). A run is *ended* once its status is
// terminal and it is released: all its output is then written.
//
// Transitions (each a compare-and-set on the stored status; any other is refused with
// FailedPrecondition naming the status the run has):
//
//   Schedule     (none)             -> SCHEDULED   a grid's run is created, with its executor
//   Start        SCHEDULED, RUNNING -> RUNNING     its process started (its client may have
//                                                  said RUNNING first)
//   Finish       SCHEDULED, RUNNING -> FINISHED (exit code 0) or FAILED; released
//   FailToStart  SCHEDULED, RUNNING -> FAILED      it could not start; released
//     (both)     ended already      -> unchanged   what ended it first (a kill, Abandon)
//                                                  stands; the exit code and end time are
//                                                  recorded; released — an executor's
//                                                  report is never refused
//   Kill         SCHEDULED, RUNNING -> KILLED      a user asked; still held until its
//                                                  executor sees the process end (Finish)
//   Abandon      SCHEDULED, RUNNING -> FAILED      its executor is gone, or its grid could
//                                                  not be made; released
//   Wait         SCHEDULED, RUNNING -> unchanged   why it waits, as its status message (a
//                                                  cluster's "ImagePullBackOff: ..."); Start
//                                                  clears it
//   Adopt        SCHEDULED, RUNNING,-> unchanged   held by another executor: one that follows
//                KILLED (held)                     a run whose follower is gone (a Job)
//
// A kill recorded after the process exited but before its executor reported the end stands
// too: the record says the user asked first.
//
// Runs no executor holds (logged by a client on its own) change status through their
// clients' updates, as MLflow allows. Kills need the process's executor: the training layer
// registers a RunStopper; without one, Kill is refused. Thread-safe; the store and the
// artifact store must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/artifacts/artifact_store.h"
#include "somlier/core/result.h"
#include "somlier/store/entities.h"
#include "somlier/store/store.h"

namespace somlier {

struct CreateRunRequest;
class TrackingService;

enum class RunTransition {
  kSchedule,
  kStart,
  kFinish,
  kFailToStart,
  kKill,
  kAbandon,
  kWait,
  kAdopt
};

std::string_view ToString(RunTransition transition);

// The statuses `transition` may start from (Schedule: none, the run is new; Finish and
// FailToStart: all, a terminal one staying as it is).
std::span<const RunStatus> AllowedFrom(RunTransition transition);

// How an executor saw a run end.
struct RunEnd {
  enum class Kind {
    kExited,         // the process ended by itself: see exit_code
    kKilled,         // the executor killed it (Kill, a timeout, shutting down)
    kFailedToStart,  // it could not start: see message
  };
  Kind kind = Kind::kExited;
  std::optional<int> exit_code;  // the shell's convention (128 + N for signal N)
  std::string message;           // why it was killed or failed, or empty
};

// The status a run ended with, as recorded (a kill that came first stands).
struct RunOutcome {
  RunStatus status = RunStatus::kFailed;
  std::string message;
};

// A piece of a run's output (its logs/output.log artifact).
struct RunLog {
  RunStatus status = RunStatus::kScheduled;
  int64_t next_offset = 0;  // where the next piece starts
  std::string text;         // whole lines only, unless one line is longer than a piece
  bool ended = false;       // the run has ended and everything is read
};

// Who can stop the process executing a run (the training layer's executors).
class RunStopper {
 public:
  virtual ~RunStopper() = default;
  // OK when this process can stop `run`'s execution; else FailedPrecondition saying why
  // (another machine executes it, say).
  virtual Status CanStop(const RunInfo& run) = 0;
  // Stops it; its executor then records the end (Finish keeps the KILLED status).
  virtual void Stop(const RunInfo& run, const std::string& reason) = 0;
};

class RunLifecycle {
 public:
  RunLifecycle(Store& store, ArtifactStore& artifacts, TrackingService& tracking)
      : store_(store), artifacts_(artifacts), tracking_(tracking) {}

  // Schedule: creates the run SCHEDULED, held by `request.executor` (which must be set).
  Result<Run> Schedule(CreateRunRequest request);
  // Start: RUNNING, with the process's id when it has one.
  Status Start(const std::string& run_id, std::optional<int64_t> pid);
  // Finish or FailToStart, by `end.kind`: what the run ended as.
  Result<RunOutcome> Finish(const std::string& run_id, const RunEnd& end);
  // Kill: checks that the registered stopper can stop it, records KILLED (with `reason`),
  // then stops it. Errors: NotFound; FailedPrecondition when it has ended, is held by no
  // executor, or no stopper here can stop it.
  Status Kill(const std::string& run_id, const std::string& reason);
  // Abandon: FAILED with `reason`, released.
  Status Abandon(const std::string& run_id, const std::string& reason);
  // Wait: the status stays; `reason` (empty: none) becomes the run's status message.
  Status Wait(const std::string& run_id, const std::string& reason);
  // Adopt: the status stays; `executor` holds it from now on. A run ended and released
  // cannot be adopted (FailedPrecondition).
  Status Adopt(const std::string& run_id, const std::string& executor);

  // The runs an executor holds: SCHEDULED or RUNNING, or ended (killed) and not released.
  Result<std::vector<RunInfo>> Held();
  // Whether `run` has ended: terminal and released.
  static bool Ended(const RunInfo& run);

  // Where the run's output goes (its logs/output.log artifact).
  Result<std::filesystem::path> LogFile(const RunInfo& run);
  // Its output from `offset` on, at most `max_bytes` (whole lines). Errors: NotFound.
  Result<RunLog> ReadLog(const std::string& run_id, int64_t offset, size_t max_bytes = 1 << 20);

  // The stopper Kill uses. Set once its owner is ready; its owner clears it (ClearStopper)
  // before it goes.
  void SetStopper(RunStopper* stopper) { stopper_.store(stopper); }
  void ClearStopper(RunStopper* stopper) { stopper_.compare_exchange_strong(stopper, nullptr); }

 private:
  // Applies `update` if the run's status allows `transition` (and, given `seen`, is still
  // that status); FailedPrecondition otherwise.
  Status Transition(RunTransition transition, const std::string& run_id, RunUpdate update,
                    std::optional<RunStatus> seen = std::nullopt);

  Store& store_;
  ArtifactStore& artifacts_;
  TrackingService& tracking_;
  std::atomic<RunStopper*> stopper_{nullptr};
};

}  // namespace somlier
