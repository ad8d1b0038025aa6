#include "somlier/tracking/run_lifecycle.h"

#include <fmt/core.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <fstream>

#include "somlier/core/time.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace {

constexpr RunStatus kExecuting[] = {RunStatus::kScheduled, RunStatus::kRunning};
// What a held run can be: executing, or killed and waiting for its executor to see the end.
constexpr RunStatus kHeld[] = {RunStatus::kScheduled, RunStatus::kRunning, RunStatus::kKilled};
constexpr RunStatus kAny[] = {RunStatus::kScheduled, RunStatus::kRunning, RunStatus::kFinished,
                              RunStatus::kFailed, RunStatus::kKilled};

std::string ExitMessage(int exit_code) {
  if (exit_code > 128 && exit_code < 128 + 65) {
    const int signal = exit_code - 128;
    const char* name = sigabbrev_np(signal);
    return fmt::format("ended by signal {} (SIG{})", signal, name ? name : "?");
  }
  return fmt::format("exited with code {}", exit_code);
}

}  // namespace

std::string_view ToString(RunTransition transition) {
  switch (transition) {
    case RunTransition::kSchedule:
      return "schedule";
    case RunTransition::kStart:
      return "start";
    case RunTransition::kFinish:
      return "finish";
    case RunTransition::kFailToStart:
      return "fail to start";
    case RunTransition::kKill:
      return "kill";
    case RunTransition::kAbandon:
      return "abandon";
    case RunTransition::kWait:
      return "wait";
    case RunTransition::kAdopt:
      return "adopt";
  }
  return "?";
}

std::span<const RunStatus> AllowedFrom(RunTransition transition) {
  switch (transition) {
    case RunTransition::kSchedule:
      return {};
    case RunTransition::kFinish:
    case RunTransition::kFailToStart:
      return kAny;
    case RunTransition::kAdopt:
      return kHeld;
    case RunTransition::kStart:
    case RunTransition::kKill:
    case RunTransition::kAbandon:
    case RunTransition::kWait:
      break;
  }
  return kExecuting;
}

Status RunLifecycle::Transition(RunTransition transition, const std::string& run_id,
                                RunUpdate update, std::optional<RunStatus> seen) {
  const std::span<const RunStatus> from = AllowedFrom(transition);
  if (seen) {
    // A change decided on the status seen applies only while the run still has it.
    if (std::find(from.begin(), from.end(), *seen) == from.end()) {
      return FailedPrecondition(fmt::format("run '{}' cannot {}: it is {}", run_id,
                                            ToString(transition), ToString(*seen)));
    }
    update.only_from = {*seen};
  } else {
    update.only_from.assign(from.begin(), from.end());
  }
  Status changed = store_.UpdateRun(run_id, update);
  if (changed.code() == StatusCode::kFailedPrecondition) {
    return FailedPrecondition(
        fmt::format("run '{}' cannot {}: {}", run_id, ToString(transition), changed.message()));
  }
  return changed;
}

Result<Run> RunLifecycle::Schedule(CreateRunRequest request) {
  if (request.executor.empty()) {
    return InvalidArgument("a scheduled run needs the executor that will execute it");
  }
  request.status = RunStatus::kScheduled;
  return tracking_.CreateRun(request);
}

Status RunLifecycle::Start(const std::string& run_id, std::optional<int64_t> pid) {
  RunUpdate update;
  update.status = RunStatus::kRunning;
  update.start_time = NowMillis();
  update.pid = pid;
  update.status_message = "";  // what it waited for is over
  return Transition(RunTransition::kStart, run_id, std::move(update));
}

Result<RunOutcome> RunLifecycle::Finish(const std::string& run_id, const RunEnd& end) {
  RunOutcome outcome{RunStatus::kFailed, end.message};
  RunTransition transition = RunTransition::kFinish;
  switch (end.kind) {
    case RunEnd::Kind::kExited:
      outcome.status = end.exit_code == 0 ? RunStatus::kFinished : RunStatus::kFailed;
      if (end.exit_code && *end.exit_code != 0 && outcome.message.empty()) {
        outcome.message = ExitMessage(*end.exit_code);
      }
      break;
    case RunEnd::Kind::kKilled:
      outcome.status = RunStatus::kKilled;
      break;
    case RunEnd::Kind::kFailedToStart:
      transition = RunTransition::kFailToStart;
      break;
  }
  const int64_t end_time = NowMillis();
  const RunOutcome reported = outcome;
  // A compare-and-set on the status read; when it changed between the read and the write
  // (a kill, or Start racing this report), read again and decide again.
  for (int attempt = 0;; ++attempt) {
    SOMLIER_ASSIGN_OR_RETURN(Run current, store_.GetRun(run_id));
    RunUpdate update;
    update.end_time = end_time;
    update.exit_code = end.exit_code;
    update.executor = "";  // released: from now on its clients may change it
    if (IsTerminal(current.info.status)) {
      // Ended first — killed (Kill records the status, then stops the process) or
      // abandoned: that stands.
      outcome = {current.info.status, current.info.status_message};
      if (current.info.end_time) update.end_time.reset();
    } else {
      outcome = reported;
      update.status = outcome.status;
      update.status_message = outcome.message;
    }
    Status finished = Transition(transition, run_id, update, current.info.status);
    if (finished.code() != StatusCode::kFailedPrecondition || attempt == 3) {
      SOMLIER_RETURN_IF_ERROR(finished);
      return outcome;
    }
  }
}

Status RunLifecycle::Kill(const std::string& run_id, const std::string& reason) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  SOMLIER_ASSIGN_OR_RETURN(Run run, store_.GetRun(run_id));
  const RunInfo& info = run.info;
  if (IsTerminal(info.status)) {
    return FailedPrecondition(
        fmt::format("run '{}' has already ended ({})", run_id, ToString(info.status)));
  }
  if (info.executor.empty()) {
    return FailedPrecondition(fmt::format(
        "run '{}' was not started by `somlier train`: there is no process to kill", run_id));
  }
  RunStopper* stopper = stopper_.load();
  if (stopper == nullptr) {
    return FailedPrecondition(
        fmt::format("run '{}' cannot be killed here: this process executes no runs", run_id));
  }
  SOMLIER_RETURN_IF_ERROR(stopper->CanStop(info));
  RunUpdate update;
  update.status = RunStatus::kKilled;
  update.end_time = NowMillis();
  update.status_message = reason;
  if (Status killed = Transition(RunTransition::kKill, run_id, std::move(update)); !killed.ok()) {
    if (killed.code() != StatusCode::kFailedPrecondition) return killed;
    SOMLIER_ASSIGN_OR_RETURN(Run now, store_.GetRun(run_id));  // it ended meanwhile
    return FailedPrecondition(
        fmt::format("run '{}' has already ended ({})", run_id, ToString(now.info.status)));
  }
  stopper->Stop(info, reason);
  return OkStatus();
}

Status RunLifecycle::Abandon(const std::string& run_id, const std::string& reason) {
  RunUpdate update;
  update.status = RunStatus::kFailed;
  update.end_time = NowMillis();
  update.status_message = reason;
  update.executor = "";
  return Transition(RunTransition::kAbandon, run_id, std::move(update));
}

Status RunLifecycle::Wait(const std::string& run_id, const std::string& reason) {
  RunUpdate update;
  update.status_message = reason;
  return Transition(RunTransition::kWait, run_id, std::move(update));
}

Status RunLifecycle::Adopt(const std::string& run_id, const std::string& executor) {
  SOMLIER_ASSIGN_OR_RETURN(Run run, store_.GetRun(run_id));
  if (run.info.executor.empty()) {
    return FailedPrecondition(fmt::format("run '{}' cannot adopt: no executor holds it", run_id));
  }
  RunUpdate update;
  update.executor = executor;
  return Transition(RunTransition::kAdopt, run_id, std::move(update), run.info.status);
}

Result<std::vector<RunInfo>> RunLifecycle::Held() { return store_.ListHeldRuns(); }

bool RunLifecycle::Ended(const RunInfo& run) {
  return IsTerminal(run.status) && run.executor.empty();
}

Result<std::filesystem::path> RunLifecycle::LogFile(const RunInfo& run) {
  SOMLIER_ASSIGN_OR_RETURN(std::string dir, tracking_.RunArtifactDirectory(run));
  return artifacts_.Resolve(dir + "/logs/output.log");
}

Result<RunLog> RunLifecycle::ReadLog(const std::string& run_id, int64_t offset, size_t max_bytes) {
  // The status first: a run seen ended has written all its output.
  SOMLIER_ASSIGN_OR_RETURN(Run run, tracking_.GetRun(run_id));
  SOMLIER_ASSIGN_OR_RETURN(std::filesystem::path path, LogFile(run.info));
  const bool ended = Ended(run.info);
  RunLog log;
  log.status = run.info.status;
  bool at_end = true;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    in.seekg(0, std::ios::end);
    const int64_t size = in.tellg();
    if (offset < size) {
      const size_t want = static_cast<size_t>(std::min<int64_t>(size - offset, max_bytes));
      log.text.resize(want);
      in.seekg(offset);
      in.read(log.text.data(), static_cast<std::streamsize>(want));
      log.text.resize(static_cast<size_t>(in.gcount()));
      // Whole lines only, unless one line fills the piece; the rest comes next time.
      const auto last = log.text.rfind('\n');
      if (last != std::string::npos) {
        log.text.resize(last + 1);
      } else if (log.text.size() < max_bytes && !ended) {
        log.text.clear();
      }
      at_end = offset + static_cast<int64_t>(log.text.size()) >= size;
    }
  }
  log.next_offset = offset + static_cast<int64_t>(log.text.size());
  log.ended = ended && at_end;
  return log;
}

}  // namespace somlier
