#include "somlier/execution/local_executor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "somlier/execution/process_identity.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Running, not a zombie (a killed grandchild may wait a moment for init to reap it).
bool IsRunning(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Records what the executor reports, thread-safely.
struct Recorder {
  std::mutex mutex;
  std::map<std::string, TaskResult> results;
  std::map<std::string, std::vector<std::string>> lines;
  std::vector<std::string> started;
  int running = 0;
  int max_running = 0;

  ExecutorCallbacks Callbacks() {
    ExecutorCallbacks c;
    c.on_start = [this](const std::string& id, pid_t) {
      std::lock_guard lock(mutex);
      started.push_back(id);
      max_running = std::max(max_running, ++running);
    };
    c.on_line = [this](const std::string& id, OutputStream, std::string_view line) {
      std::lock_guard lock(mutex);
      lines[id].emplace_back(line);
    };
    c.on_end = [this](const std::string& id, const TaskResult& r) {
      std::lock_guard lock(mutex);
      if (r.end != TaskEnd::kFailedToStart && r.exit_code != -1) --running;
      results[id] = r;
    };
    return c;
  }
};

ExecutorTask ShellTask(const std::string& id, const std::string& script, const fs::path& log = {}) {
  return {id, [script, log]() -> Result<ProcessLaunch> {
            ProcessLaunch launch;
            launch.spawn.argv = {"/bin/sh", "-c", script};
            launch.log_file = log;
            return launch;
          }};
}

fs::path TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "somlier-exec-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

TEST(LocalExecutor, RunsEveryTaskWithAtMostMaxParallelAtOnce) {
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back(
        ShellTask("t" + std::to_string(i), "sleep 0.2; echo done; exit " + std::to_string(i)));
  }
  LocalExecutor executor(std::move(tasks), {.max_parallel = 2}, rec.Callbacks());
  executor.Start();
  executor.Wait();
  ASSERT_EQ(rec.results.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const TaskResult& r = rec.results["t" + std::to_string(i)];
    EXPECT_EQ(r.end, TaskEnd::kExited);
    EXPECT_EQ(r.exit_code, i);
    EXPECT_EQ(rec.lines["t" + std::to_string(i)], std::vector<std::string>{"done\n"});
  }
  EXPECT_EQ(rec.max_running, 2);
  // Taken in the order given: the first two to start are t0 and t1 (in either order).
  std::set<std::string> first_two(rec.started.begin(), rec.started.begin() + 2);
  EXPECT_EQ(first_two, (std::set<std::string>{"t0", "t1"}));
}

TEST(LocalExecutor, OutputGoesToTheLogFile) {
  fs::path dir = TempDir();
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  tasks.push_back(
      ShellTask("a", "echo out; echo err >&2; printf 'no newline'", dir / "logs/a.log"));
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1}, rec.Callbacks());
  executor.Start();
  executor.Wait();
  std::ifstream in(dir / "logs/a.log");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("out\n"), std::string::npos);
  EXPECT_NE(text.str().find("err\n"), std::string::npos);
  EXPECT_NE(text.str().find("no newline\n"), std::string::npos);
  fs::remove_all(dir);
}

TEST(LocalExecutor, TimeoutKillsTheWholeGroup) {
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  // A grandchild in the background, and a main process that outlives the timeout.
  tasks.push_back(ShellTask("slow", "sleep 60 & echo $!; sleep 60"));
  auto start = std::chrono::steady_clock::now();
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1, .timeout = milliseconds(500)},
                         rec.Callbacks());
  executor.Start();
  executor.Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  const TaskResult& r = rec.results["slow"];
  EXPECT_EQ(r.end, TaskEnd::kKilled);
  EXPECT_EQ(r.message, "timed out after 0.5 s");
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  ASSERT_EQ(rec.lines["slow"].size(), 1u);
  const pid_t grandchild = std::atoi(rec.lines["slow"][0].c_str());
  ASSERT_GT(grandchild, 0);
  for (int i = 0; i < 100 && IsRunning(grandchild); ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(IsRunning(grandchild));
}

TEST(LocalExecutor, ProcessesLeftBehindByAFinishedTaskAreKilled) {
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  // The background process keeps stdout open: without the group kill this would hang.
  tasks.push_back(ShellTask("bg", "sleep 60 & echo $!; exit 3"));
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1}, rec.Callbacks());
  executor.Start();
  ASSERT_TRUE(executor.WaitFor(milliseconds(10000)));
  EXPECT_EQ(rec.results["bg"].end, TaskEnd::kExited);
  EXPECT_EQ(rec.results["bg"].exit_code, 3);
  const pid_t grandchild = std::atoi(rec.lines["bg"].at(0).c_str());
  for (int i = 0; i < 100 && IsRunning(grandchild); ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(IsRunning(grandchild));
}

TEST(LocalExecutor, AProcessThatLeftTheGroupDoesNotHoldTheRun) {
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  // setsid: out of the run's group, beyond its kill, and holding stdout open.
  tasks.push_back(ShellTask("escaped", "setsid sh -c 'echo $$; exec sleep 30' & sleep 0.3"));
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1, .kill_grace = milliseconds(300)},
                         rec.Callbacks());
  executor.Start();
  ASSERT_TRUE(executor.WaitFor(milliseconds(10000)));
  EXPECT_EQ(rec.results["escaped"].end, TaskEnd::kExited);
  EXPECT_EQ(rec.results["escaped"].exit_code, 0);
  ASSERT_FALSE(rec.lines["escaped"].empty());
  const pid_t escaped = std::atoi(rec.lines["escaped"][0].c_str());
  ASSERT_GT(escaped, 0);
  kill(escaped, SIGKILL);
}

TEST(LocalExecutor, ACallbackThatThrowsDoesNotStopTheRun) {
  std::atomic<int> ended{0};
  ExecutorCallbacks callbacks;
  callbacks.on_line = [](const std::string&, OutputStream, std::string_view) {
    throw std::runtime_error("stderr is closed");
  };
  callbacks.on_end = [&](const std::string&, const TaskResult& r) {
    EXPECT_EQ(r.exit_code, 0);
    ++ended;
  };
  std::vector<ExecutorTask> tasks;
  tasks.push_back(ShellTask("a", "echo one; echo two"));
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1}, callbacks);
  executor.Start();
  executor.Wait();
  EXPECT_EQ(ended.load(), 1);
}

TEST(LocalExecutor, KillEscalatesToSigkillAfterTheGrace) {
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  tasks.push_back(
      ShellTask("stubborn", "trap '' TERM; echo ready; while true; do sleep 0.05; done"));
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1, .kill_grace = milliseconds(300)},
                         rec.Callbacks());
  executor.Start();
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(rec.mutex);
      if (!rec.lines["stubborn"].empty()) break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(executor.Kill("stubborn", "stopped by the test"));
  ASSERT_TRUE(executor.WaitFor(milliseconds(10000)));
  EXPECT_EQ(rec.results["stubborn"].end, TaskEnd::kKilled);
  EXPECT_EQ(rec.results["stubborn"].message, "stopped by the test");
  EXPECT_EQ(rec.results["stubborn"].exit_code, 128 + SIGKILL);
  EXPECT_FALSE(executor.Kill("stubborn", "again"));  // already ended
}

TEST(LocalExecutor, QueuedTasksKilledNeverStart) {
  Recorder rec;
  std::atomic<int> prepared{0};
  std::vector<ExecutorTask> tasks;
  tasks.push_back(ShellTask("first", "sleep 60"));
  for (int i = 0; i < 3; ++i) {
    tasks.push_back({"queued" + std::to_string(i), [&prepared]() -> Result<ProcessLaunch> {
                       ++prepared;
                       ProcessLaunch launch;
                       launch.spawn.argv = {"/bin/true"};
                       return launch;
                     }});
  }
  LocalExecutor executor(std::move(tasks), {.max_parallel = 1}, rec.Callbacks());
  executor.Start();
  std::this_thread::sleep_for(milliseconds(100));
  executor.KillAll("interrupted");
  ASSERT_TRUE(executor.WaitFor(milliseconds(10000)));
  EXPECT_EQ(prepared.load(), 0);
  EXPECT_EQ(rec.started, std::vector<std::string>{"first"});
  for (const auto& [id, r] : rec.results) {
    EXPECT_EQ(r.end, TaskEnd::kKilled) << id;
    EXPECT_EQ(r.message, "interrupted") << id;
  }
  EXPECT_EQ(rec.results.size(), 4u);
}

TEST(LocalExecutor, PreparationAndSpawnFailuresEndTheTaskOnly) {
  Recorder rec;
  std::vector<ExecutorTask> tasks;
  tasks.push_back(
      {"bad-prepare", []() -> Result<ProcessLaunch> { return NotFound("no such commit"); }});
  tasks.push_back({"bad-program", []() -> Result<ProcessLaunch> {
                     ProcessLaunch launch;
                     launch.spawn.argv = {"/nonexistent/program"};
                     return launch;
                   }});
  tasks.push_back(ShellTask("good", "exit 0"));
  LocalExecutor executor(std::move(tasks), {.max_parallel = 2}, rec.Callbacks());
  executor.Start();
  executor.Wait();
  EXPECT_EQ(rec.results["bad-prepare"].end, TaskEnd::kFailedToStart);
  EXPECT_EQ(rec.results["bad-prepare"].message, "no such commit");
  EXPECT_EQ(rec.results["bad-program"].end, TaskEnd::kFailedToStart);
  EXPECT_NE(rec.results["bad-program"].message.find("/nonexistent/program"), std::string::npos);
  EXPECT_EQ(rec.results["good"].end, TaskEnd::kExited);
}

TEST(LocalExecutor, DestructorKillsWhatRuns) {
  Recorder rec;
  {
    std::vector<ExecutorTask> tasks;
    tasks.push_back(ShellTask("long", "sleep 60"));
    LocalExecutor executor(std::move(tasks), {.max_parallel = 1}, rec.Callbacks());
    executor.Start();
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(rec.results["long"].end, TaskEnd::kKilled);
}

TEST(ProcessIdentity, TellsRunningFromGoneProcesses) {
  EXPECT_EQ(CheckProcess(ThisProcessIdentity()), ProcessState::kAlive);
  // The same pid with another start time: a reused pid.
  std::string identity = ThisProcessIdentity();
  auto parts_end = identity.rfind(':');
  auto start_begin = identity.rfind(':', parts_end - 1);
  std::string reused = identity.substr(0, start_begin + 1) + "1" + identity.substr(parts_end);
  EXPECT_EQ(CheckProcess(reused), ProcessState::kGone);
  EXPECT_EQ(CheckProcess("some-other-host:123:456:abcdef12"), ProcessState::kUnknown);
  EXPECT_EQ(CheckProcess("garbage"), ProcessState::kUnknown);
}

TEST(ProcessIdentity, ReadsAnotherProcesssEnvironment) {
  SpawnOptions spawn;
  spawn.argv = {"/bin/sleep", "5"};
  spawn.env = std::map<std::string, std::string>{{"MLFLOW_RUN_ID", "abc123"}, {"PATH", "/bin"}};
  auto child = Subprocess::Spawn(spawn);
  ASSERT_TRUE(child.ok()) << child.status().message();
  // Until the child has exec'd, /proc shows the environment it inherited.
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    seen = ProcessHasEnvironment((*child)->pid(), "MLFLOW_RUN_ID", "abc123");
    if (!seen) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(seen);
  EXPECT_FALSE(ProcessHasEnvironment((*child)->pid(), "MLFLOW_RUN_ID", "abc12"));
  EXPECT_FALSE(ProcessHasEnvironment(999999999, "MLFLOW_RUN_ID", "abc123"));
}

TEST(ProcessIdentity, TerminatesARunsGroupAfterItsLeaderHasGone) {
  // A leader that exits at once, leaving a member of its group behind.
  SpawnOptions spawn;
  spawn.argv = {"/bin/sh", "-c", "sleep 30 & echo $!"};
  spawn.env =
      std::map<std::string, std::string>{{"MLFLOW_RUN_ID", "run-1"}, {"PATH", "/bin:/usr/bin"}};
  auto child = Subprocess::Spawn(spawn);
  ASSERT_TRUE(child.ok());
  std::string out;
  ASSERT_TRUE(PumpLines((*child)->stdout_fd(), -1,
                        [&](OutputStream, std::string_view line) { out += line; }, 1024,
                        [&] { return out.empty(); })
                  .ok());
  const pid_t group = (*child)->pid();
  ASSERT_TRUE((*child)->Wait().ok());
  const pid_t member = std::atoi(out.c_str());
  ASSERT_TRUE(IsRunning(member));
  EXPECT_EQ(TerminateProcessGroup(group, "MLFLOW_RUN_ID", "other-run", milliseconds(0)), 0);
  EXPECT_TRUE(IsRunning(member));
  EXPECT_EQ(TerminateProcessGroup(group, "MLFLOW_RUN_ID", "run-1", milliseconds(2000)), 1);
  for (int i = 0; i < 100 && IsRunning(member); ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(IsRunning(member));
}

}  // namespace
}  // namespace somlier
