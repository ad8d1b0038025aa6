// LocalExecutor: runs a list of tasks as local processes, at most `max_parallel` at once —
// the runs of a training grid.
//
// Each task is prepared on a worker thread right before its process starts (`prepare`
// exports the project, readies the environment, says what to run), so slow preparation
// overlaps with other runs. Every process gets its own process group; its stdout and stderr
// lines are appended to the task's log file (flushed line by line, so it can be followed)
// and passed to `on_line`. When a task's main process exits, whatever it left running in
// its group is killed, so a finished run leaves no process behind.
//
// Kill(), KillAll() and the per-task timeout end a running task's group with SIGTERM, then
// SIGKILL after `kill_grace`; a task killed before it started never starts. Killed tasks
// end as kKilled whatever their exit code. The callbacks are called from worker threads
// (several at once: they must be thread-safe) and must not call back into the executor's
// Wait(); an exception a callback throws is logged, not propagated. A process that leaves
// its group (setsid) and keeps the output pipes open is not waited for: once the main
// process has ended, reading stops after `kill_grace`. The destructor kills what still runs
// and waits. Methods are thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/execution/line_pump.h"
#include "somlier/execution/subprocess.h"

namespace somlier {

// What a prepared task runs.
struct ProcessLaunch {
  SpawnOptions spawn;              // new_process_group and capture are forced on
  std::filesystem::path log_file;  // empty: no log file
};

enum class TaskEnd {
  kExited,         // the process ended by itself: see exit_code
  kKilled,         // Kill(), KillAll() or the timeout ended it (or it never started)
  kFailedToStart,  // prepare() or the spawn failed: see message
};

struct TaskResult {
  TaskEnd end = TaskEnd::kExited;
  int exit_code = 0;    // the shell's convention (128 + N for signal N); -1 when none
  std::string message;  // why it was killed or could not start
};

struct ExecutorTask {
  std::string id;
  std::function<Result<ProcessLaunch>()> prepare;
};

struct ExecutorCallbacks {
  std::function<void(const std::string& id, pid_t pid)> on_start;
  std::function<void(const std::string& id, OutputStream stream, std::string_view line)> on_line;
  std::function<void(const std::string& id, const TaskResult& result)> on_end;
};

struct ExecutorOptions {
  int max_parallel = 1;
  std::chrono::milliseconds timeout{0};  // per task, from its start; 0: none
  std::chrono::milliseconds kill_grace{3000};
};

class LocalExecutor {
 public:
  // Takes `tasks`; Start() executes them in order on min(max_parallel, tasks) worker
  // threads (so callbacks may use the executor: it exists before any of them runs).
  LocalExecutor(std::vector<ExecutorTask> tasks, ExecutorOptions options,
                ExecutorCallbacks callbacks);
  void Start();
  ~LocalExecutor();
  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;

  // Kills one task (queued or running); `reason` becomes its result's message. False when
  // no such task is still queued or running.
  bool Kill(const std::string& id, const std::string& reason);
  // Kills every task not yet ended.
  void KillAll(const std::string& reason);

  // Blocks until every task has ended (and its on_end returned); at once before Start().
  void Wait();
  // Like Wait(), at most `timeout`; true when everything has ended.
  bool WaitFor(std::chrono::milliseconds timeout);

 private:
  struct Slot {
    ExecutorTask task;
    bool started = false;
    bool ended = false;
    std::atomic<bool> kill_requested{false};
    std::string kill_reason;  // guarded by mutex_
  };

  class LogFile;

  template <typename Call, typename Callback>
  static void Notify(Call call, const Callback& callback);
  void Worker();
  void RunOne(Slot& slot);
  TaskResult Supervise(Slot& slot, Subprocess& child, LogFile& log);
  bool TakeKill(Slot& slot, std::string* reason);

  ExecutorOptions options_;
  ExecutorCallbacks callbacks_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mutex_;
  std::condition_variable all_ended_;
  size_t next_ = 0;   // guarded by mutex_
  size_t ended_ = 0;  // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace somlier
