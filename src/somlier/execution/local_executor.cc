#include "somlier/execution/local_executor.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "somlier/core/log.h"

namespace somlier {
namespace {

using Clock = std::chrono::steady_clock;

std::string Seconds(std::chrono::milliseconds d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

// The log file of a task, opened for appending; closes on destruction.
class LocalExecutor::LogFile {
 public:
  static Result<LogFile> Open(const std::filesystem::path& path) {
    if (path.empty()) return LogFile(-1);
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return Internal(
          fmt::format("cannot open the log file '{}': {}", path.string(), std::strerror(errno)));
    }
    return LogFile(fd);
  }
  LogFile(LogFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~LogFile() {
    if (fd_ >= 0) close(fd_);
  }

  void Append(std::string_view line) {
    if (fd_ < 0) return;
    std::string text(line);
    if (!text.ends_with('\n')) text += '\n';
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not stop the run; the log is best effort
      done += static_cast<size_t>(n);
    }
  }

 private:
  explicit LogFile(int fd) : fd_(fd) {}
  int fd_;
};

LocalExecutor::LocalExecutor(std::vector<ExecutorTask> tasks, ExecutorOptions options,
                             ExecutorCallbacks callbacks)
    : options_(options), callbacks_(std::move(callbacks)) {
  for (ExecutorTask& task : tasks) {
    auto slot = std::make_unique<Slot>();
    slot->task = std::move(task);
    slots_.push_back(std::move(slot));
  }
}

void LocalExecutor::Start() {
  std::lock_guard lock(mutex_);
  if (!workers_.empty() || slots_.empty()) return;
  const size_t workers =
      std::min(slots_.size(), static_cast<size_t>(std::max(1, options_.max_parallel)));
  for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { Worker(); });
}

template <typename Call, typename Callback>
void LocalExecutor::Notify(Call call, const Callback& callback) {
  if (!callback) return;
  try {
    call();
  } catch (const std::exception& e) {
    // A callback that fails (a closed terminal, say) must not end a worker: the run goes on.
    LogWarning("executor callback failed: {}", e.what());
  } catch (...) {
    LogWarning("executor callback failed");
  }
}

LocalExecutor::~LocalExecutor() {
  KillAll("the executor is shutting down");
  for (std::thread& t : workers_) t.join();
}

bool LocalExecutor::Kill(const std::string& id, const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    if (slot->task.id != id || slot->ended) continue;
    if (!slot->kill_requested) {
      slot->kill_reason = reason;
      slot->kill_requested = true;
    }
    return true;
  }
  return false;
}

void LocalExecutor::KillAll(const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    if (slot->ended || slot->kill_requested) continue;
    slot->kill_reason = reason;
    slot->kill_requested = true;
  }
}

void LocalExecutor::Wait() {
  std::unique_lock lock(mutex_);
  all_ended_.wait(lock, [this] { return ended_ == slots_.size() || workers_.empty(); });
}

bool LocalExecutor::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return all_ended_.wait_for(lock, timeout,
                             [this] { return ended_ == slots_.size() || workers_.empty(); });
}

bool LocalExecutor::TakeKill(Slot& slot, std::string* reason) {
  if (!slot.kill_requested) return false;
  std::lock_guard lock(mutex_);
  *reason = slot.kill_reason;
  return true;
}

void LocalExecutor::Worker() {
  while (true) {
    Slot* slot = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (next_ >= slots_.size()) return;
      slot = slots_[next_++].get();
      slot->started = true;
    }
    RunOne(*slot);
    {
      std::lock_guard lock(mutex_);
      slot->ended = true;
      ++ended_;
    }
    all_ended_.notify_all();
  }
}

void LocalExecutor::RunOne(Slot& slot) {
  const std::string& id = slot.task.id;
  auto finish = [&](TaskResult result) {
    Notify([&] { callbacks_.on_end(id, result); }, callbacks_.on_end);
  };
  auto killed_before_start = [&]() -> bool {
    std::string reason;
    if (!TakeKill(slot, &reason)) return false;
    finish({TaskEnd::kKilled, -1, reason});
    return true;
  };
  if (killed_before_start()) return;
  Result<ProcessLaunch> launch =
      slot.task.prepare ? slot.task.prepare() : Internal("the task has nothing to run");
  if (killed_before_start()) return;
  if (!launch.ok()) return finish({TaskEnd::kFailedToStart, -1, launch.status().message()});

  Result<LogFile> log = LogFile::Open(launch->log_file);
  if (!log.ok()) return finish({TaskEnd::kFailedToStart, -1, log.status().message()});
  launch->spawn.new_process_group = true;
  launch->spawn.capture_stdout = true;
  launch->spawn.capture_stderr = true;
  Result<std::unique_ptr<Subprocess>> child = Subprocess::Spawn(launch->spawn);
  if (!child.ok()) return finish({TaskEnd::kFailedToStart, -1, child.status().message()});
  const pid_t pid = (*child)->pid();
  Notify([&] { callbacks_.on_start(id, pid); }, callbacks_.on_start);
  finish(Supervise(slot, **child, *log));
}

TaskResult LocalExecutor::Supervise(Slot& slot, Subprocess& child, LogFile& log) {
  const auto started = Clock::now();
  std::string kill_reason;
  bool terminating = false;
  Clock::time_point terminated_at;
  std::optional<Clock::time_point> exited_at;
  bool abandoned = false;
  auto tick = [&] {
    const auto now = Clock::now();
    if (!terminating) {
      if (!TakeKill(slot, &kill_reason) && options_.timeout.count() > 0 &&
          now - started >= options_.timeout) {
        kill_reason = fmt::format("timed out after {}", Seconds(options_.timeout));
      }
      if (!kill_reason.empty()) {
        terminating = true;
        terminated_at = now;
        child.Signal(SIGTERM);
      }
    } else if (now - terminated_at >= options_.kill_grace) {
      child.Signal(SIGKILL);
    }
    if (child.HasExited()) {
      // What the main process left in its group would hold the pipes open: kill it. A
      // process that left the group (setsid) cannot be reached: stop reading after the
      // grace period rather than wait for it.
      child.Signal(SIGKILL);
      if (!exited_at) exited_at = now;
      if (now - *exited_at >= options_.kill_grace) abandoned = true;
    }
    return !abandoned;
  };
  Status pumped = PumpLines(
      child.stdout_fd(), child.stderr_fd(),
      [&](OutputStream stream, std::string_view line) {
        log.Append(line);
        Notify([&] { callbacks_.on_line(slot.task.id, stream, line); }, callbacks_.on_line);
      },
      64 * 1024, tick);
  if (abandoned) {
    log.Append(
        "somlier: a process the run started left its process group and still holds its "
        "output; no longer reading it\n");
  }
  // The pipes are closed, but the main process may still run (it closed its output).
  while (!child.HasExited()) {
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  child.Signal(SIGKILL);  // anything left in its group
  Result<int> waited = child.Wait();
  const int exit_code = waited.ok() ? *waited : -1;
  if (!pumped.ok() && kill_reason.empty()) {
    return {TaskEnd::kExited, exit_code,
            fmt::format("reading its output failed: {}", pumped.message())};
  }
  if (terminating) return {TaskEnd::kKilled, exit_code, kill_reason};
  return {TaskEnd::kExited, exit_code, ""};
}

}  // namespace somlier
