#include "somlier/training/local_run_executor.h"

#include <fmt/core.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "somlier/core/install_paths.h"
#include "somlier/core/strings.h"
#include "somlier/execution/local_executor.h"
#include "somlier/execution/process_identity.h"
#include "somlier/projects/git_cache.h"
#include "somlier/projects/local_run.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

// One Submit(): the grid's shared environment and the process pool running it (declared
// last: destroyed first, so it stops using the rest).
class LocalExecution final : public Execution {
 public:
  LocalExecution(const LocalRunExecutorConfig& config, GridJob job, ExecutionObserver& observer)
      : config_(config), job_(std::move(job)), observer_(observer) {
    for (size_t i = 0; i < job_.runs.size(); ++i) index_[job_.runs[i].run_id] = i;
  }

  void Start() {
    std::vector<ExecutorTask> tasks;
    for (size_t i = 0; i < job_.runs.size(); ++i) {
      tasks.push_back({job_.runs[i].run_id, [this, i] { return PrepareRun(i); }});
    }
    ExecutorCallbacks callbacks;
    callbacks.on_start = [this](const std::string& id, pid_t pid) {
      if (!observer_.OnStart(id, static_cast<int64_t>(pid)).ok()) {
        pool_->Kill(id, "the run was ended as it started");  // the pool exists: it calls us
      }
    };
    callbacks.on_line = [this](const std::string& id, OutputStream stream, std::string_view line) {
      observer_.OnLine(id, stream, line);
    };
    callbacks.on_end = [this](const std::string& id, const TaskResult& result) {
      OnEnd(id, result);
    };
    ExecutorOptions options;
    options.max_parallel = job_.max_parallel;
    options.timeout = job_.timeout;
    options.kill_grace = config_.kill_grace;
    pool_ = std::make_unique<LocalExecutor>(std::move(tasks), options, std::move(callbacks));
    pool_->Start();
  }

  ~LocalExecution() override { pool_.reset(); }  // kills what still runs, and waits

  bool Kill(const std::string& run_id, const std::string& reason) override {
    return index_.count(run_id) > 0 && pool_->Kill(run_id, reason);
  }
  void KillAll(const std::string& reason) override {
    cancelled_ = true;
    pool_->KillAll(reason);
  }
  void Wait() override { pool_->Wait(); }
  bool WaitFor(std::chrono::milliseconds timeout) override { return pool_->WaitFor(timeout); }

 private:
  fs::path WorkDir(const std::string& run_id) const { return config_.home / "work" / run_id; }

  // The grid's Python environment, prepared once, by the first run that needs it.
  Result<PythonEnv> PrepareEnv() {
    std::lock_guard lock(env_mutex_);
    if (!env_) {
      PythonEnvManager manager(config_.home / "envs", config_.env,
                               [this] { return cancelled_.load() || observer_.Cancelled(); });
      env_ = manager.Prepare(job_.env_request,
                             [this](std::string_view note) { observer_.OnNote(note); });
      if (env_->ok()) {
        for (const std::string& warning : (*env_)->warnings) {
          observer_.OnNote("warning: " + warning);
        }
      }
    }
    if (!env_->ok()) {
      return job_.Named(Status(env_->status().code(), "preparing the Python environment failed: " +
                                                          env_->status().message()));
    }
    return **env_;
  }

  Result<ProcessLaunch> PrepareRun(size_t i) {
    const GridJob::Run& run = job_.runs[i];
    // A run killed meanwhile (`somlier runs kill` from another process) does not start.
    SOMLIER_RETURN_IF_ERROR(observer_.MayStart(run.run_id));
    SOMLIER_ASSIGN_OR_RETURN(PythonEnv python, PrepareEnv());

    const fs::path dir = WorkDir(run.run_id);
    std::error_code ec;
    fs::remove_all(dir, ec);
    GitCache git(config_.home / "repos", config_.env);
    SOMLIER_RETURN_IF_ERROR(git.Export(job_.uri, job_.commit, job_.project_path, dir));
    ProjectSpec run_spec = job_.spec;
    run_spec.directory = dir;
    run_spec.file = dir / job_.spec.file.filename();
    SOMLIER_RETURN_IF_ERROR(FetchAssets(run_spec, nullptr));

    Environment env = config_.env;
    if (!python.bin_dir.empty()) {
      env["PATH"] = PrependPath(python.bin_dir.string(), Lookup(env, "PATH"));
      env["VIRTUAL_ENV"] = python.bin_dir.parent_path().string();
      env.erase("PYTHONHOME");
    }
    if (!job_.python_package.empty()) {
      env["PYTHONPATH"] = PrependPath(job_.python_package, Lookup(env, "PYTHONPATH"));
    }
    env = EntrypointEnvironment(run_spec, python.python, std::move(env));
    for (const char* name : {"MLFLOW_TRACKING_URI", "SOMLIER_TRACKING_URI", "SOMLIER_SERVER"}) {
      env[name] = job_.tracking_uri;
    }
    env["MLFLOW_RUN_ID"] = env["SOMLIER_RUN_ID"] = run.run_id;
    env["MLFLOW_EXPERIMENT_ID"] = env["SOMLIER_EXPERIMENT_ID"] = job_.experiment_id;
    env.erase("MLFLOW_EXPERIMENT_NAME");
    env.erase("MLFLOW_TRACKING_USERNAME");  // would take precedence over the token
    env.erase("MLFLOW_TRACKING_PASSWORD");
    // Runs log through the API; the database's password stays here.
    env.erase("SOMLIER_DATABASE_URL");
    EraseIntegrationSecrets(env);
    if (job_.tracking_token.empty()) {
      env.erase("MLFLOW_TRACKING_TOKEN");
      env.erase("SOMLIER_TOKEN");
    } else {
      env["MLFLOW_TRACKING_TOKEN"] = env["SOMLIER_TOKEN"] = job_.tracking_token;
    }

    ProcessLaunch launch;
    launch.spawn.argv = WithInterpreter(run.argv, python.python, env);
    launch.spawn.working_dir = dir.string();
    launch.spawn.env = std::move(env);
    launch.log_file = run.log_file;
    return launch;
  }

  void OnEnd(const std::string& run_id, const TaskResult& result) {
    RunEnd end;
    switch (result.end) {
      case TaskEnd::kExited:
        end.kind = RunEnd::Kind::kExited;
        break;
      case TaskEnd::kKilled:
        end.kind = RunEnd::Kind::kKilled;
        break;
      case TaskEnd::kFailedToStart:
        end.kind = RunEnd::Kind::kFailedToStart;
        break;
    }
    if (result.exit_code >= 0) end.exit_code = result.exit_code;
    end.message = result.message;
    std::error_code ec;
    fs::remove_all(WorkDir(run_id), ec);
    observer_.OnEnd(run_id, end);
  }

  const LocalRunExecutorConfig config_;  // a copy: an execution may outlive its executor
  GridJob job_;
  ExecutionObserver& observer_;
  std::map<std::string, size_t> index_;  // run id -> position; constant after construction

  std::mutex env_mutex_;
  std::optional<Result<PythonEnv>> env_;  // guarded by env_mutex_
  std::atomic<bool> cancelled_{false};    // KillAll(): stop preparing

  std::unique_ptr<LocalExecutor> pool_;
};

}  // namespace

LocalRunExecutor::LocalRunExecutor(LocalRunExecutorConfig config) : config_(std::move(config)) {}

std::string LocalRunExecutor::Handle() const { return ThisProcessIdentity(); }

Result<std::unique_ptr<Execution>> LocalRunExecutor::Submit(GridJob job,
                                                            ExecutionObserver& observer) {
  auto execution = std::make_unique<LocalExecution>(config_, std::move(job), observer);
  execution->Start();
  return std::unique_ptr<Execution>(std::move(execution));
}

Result<std::vector<nlohmann::json>> LocalRunExecutor::Preview(const GridJob& job) {
  std::vector<nlohmann::json> runs;
  for (const GridJob::Run& run : job.runs) {
    runs.push_back({{"run_id", run.run_id}, {"command", run.argv}});
  }
  return runs;
}

ExecutorLiveness LocalRunExecutor::Check(const RunInfo& run) {
  switch (CheckProcess(run.executor)) {
    case ProcessState::kAlive:
      return ExecutorLiveness::kAlive;
    case ProcessState::kGone:
      return ExecutorLiveness::kGone;
    case ProcessState::kUnknown:
      break;
  }
  return ExecutorLiveness::kUnknown;
}

Status LocalRunExecutor::StopOrphan(const RunInfo& run, std::chrono::milliseconds grace) {
  if (run.pid) {
    TerminateProcessGroup(static_cast<pid_t>(*run.pid), "MLFLOW_RUN_ID", run.run_id, grace);
  }
  return OkStatus();
}

}  // namespace somlier
