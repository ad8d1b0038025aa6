#include "somlier/training/train_service.h"

#include <fmt/core.h>
#include <string.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "somlier/core/ids.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/core/url.h"
#include "somlier/execution/local_executor.h"
#include "somlier/execution/process_identity.h"
#include "somlier/projects/git_cache.h"
#include "somlier/projects/local_run.h"
#include "somlier/projects/project_spec.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxParallel = 256;
constexpr std::chrono::seconds kMaxTimeout{30 * 24 * 3600};

// Removes a directory when it goes out of scope, unless released.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(fs::path dir) : dir_(std::move(dir)) {}
  ~RemoveOnExit() {
    if (dir_.empty()) return;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Release() { dir_.clear(); }

 private:
  fs::path dir_;
};

std::string RepositoryName(const std::string& uri) {
  std::string name = uri;
  while (name.ends_with("/")) name.pop_back();
  const auto cut = name.find_last_of("/:");
  if (cut != std::string::npos) name = name.substr(cut + 1);
  if (name.ends_with(".git")) name.resize(name.size() - 4);
  return name.empty() ? uri : name;
}

// `status` with the temporary copy of the project named as the user knows it.
Status InRepository(const Status& status, const fs::path& copy, const std::string& name) {
  if (status.ok()) return status;
  return Status(status.code(), ReplaceAll(status.message(), copy.string(), name));
}

}  // namespace

// What the runs of one job share, and its executor (declared last: destroyed first).
struct TrainJob::State {
  TrackingService* tracking = nullptr;
  TrainServiceConfig config;
  TrainEvents events;
  std::string uri;    // as given (with any credentials: git needs them)
  std::string shown;  // the project as users know it: path@commit
  std::string commit;
  std::string project_path;
  ProjectSpec spec;
  fs::path spec_dir;  // the project as exported to read its spec; removed with the job
  std::vector<std::vector<std::string>> argvs;  // per run
  std::map<std::string, size_t> index;          // run id -> position
  PythonEnvRequest env_request;
  std::string tracking_uri;
  std::string tracking_token;
  std::string python_package;  // the somlier package's directory, or empty
  const std::vector<TrainRun>* runs = nullptr;

  std::mutex env_mutex;
  std::optional<Result<PythonEnv>> env;  // prepared once for the whole grid
  std::atomic<bool> cancelled{false};    // KillAll(): stop preparing

  std::unique_ptr<LocalExecutor> executor;

  fs::path WorkDir(const std::string& run_id) const { return config.home / "work" / run_id; }
  Result<PythonEnv> PrepareEnv();
  Result<ProcessLaunch> PrepareRun(size_t i);
  void OnStart(size_t i, pid_t pid);
  void OnEnd(size_t i, const TaskResult& result);
};

Result<PythonEnv> TrainJob::State::PrepareEnv() {
  std::lock_guard lock(env_mutex);
  if (!env) {
    PythonEnvManager manager(config.home / "envs", config.env, [this] {
      return cancelled.load() || (events.cancelled && events.cancelled());
    });
    env = manager.Prepare(env_request, [this](std::string_view note) {
      if (events.on_note) events.on_note(note);
    });
    if (env->ok()) {
      for (const std::string& warning : (*env)->warnings) {
        if (events.on_note) events.on_note("warning: " + warning);
      }
    }
  }
  if (!env->ok()) {
    return InRepository(Status(env->status().code(), "preparing the Python environment failed: " +
                                                         env->status().message()),
                        spec_dir, shown);
  }
  return **env;
}

Result<ProcessLaunch> TrainJob::State::PrepareRun(size_t i) {
  const TrainRun& run = (*runs)[i];
  // A run killed meanwhile (`somlier runs kill` from another process) does not start.
  SOMLIER_ASSIGN_OR_RETURN(Run current, tracking->GetRun(run.run_id));
  if (current.info.status != RunStatus::kScheduled) {
    return FailedPrecondition(
        fmt::format("the run is {} and was not started", ToString(current.info.status)));
  }
  SOMLIER_ASSIGN_OR_RETURN(PythonEnv python, PrepareEnv());

  const fs::path dir = WorkDir(run.run_id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  GitCache git(config.home / "repos", config.env);
  SOMLIER_RETURN_IF_ERROR(git.Export(uri, commit, project_path, dir));
  ProjectSpec run_spec = spec;
  run_spec.directory = dir;
  run_spec.file = dir / spec.file.filename();
  SOMLIER_RETURN_IF_ERROR(FetchAssets(run_spec, nullptr));

  Environment env = config.env;
  if (!python.bin_dir.empty()) {
    env["PATH"] = PrependPath(python.bin_dir.string(), Lookup(env, "PATH"));
    env["VIRTUAL_ENV"] = python.bin_dir.parent_path().string();
    env.erase("PYTHONHOME");
  }
  if (!python_package.empty()) {
    env["PYTHONPATH"] = PrependPath(python_package, Lookup(env, "PYTHONPATH"));
  }
  env = EntrypointEnvironment(run_spec, python.python, std::move(env));
  const std::string experiment_id = std::to_string(current.info.experiment_id);
  for (const char* name : {"MLFLOW_TRACKING_URI", "SOMLIER_TRACKING_URI", "SOMLIER_SERVER"}) {
    env[name] = tracking_uri;
  }
  env["MLFLOW_RUN_ID"] = env["SOMLIER_RUN_ID"] = run.run_id;
  env["MLFLOW_EXPERIMENT_ID"] = env["SOMLIER_EXPERIMENT_ID"] = experiment_id;
  env.erase("MLFLOW_EXPERIMENT_NAME");
  env.erase("MLFLOW_TRACKING_USERNAME");  // would take precedence over the token
  env.erase("MLFLOW_TRACKING_PASSWORD");
  env.erase(
      "SOMLIER_DATABASE_URL");  // runs log through the API; the database's password stays here
  if (tracking_token.empty()) {
    env.erase("MLFLOW_TRACKING_TOKEN");
    env.erase("SOMLIER_TOKEN");
  } else {
    env["MLFLOW_TRACKING_TOKEN"] = env["SOMLIER_TOKEN"] = tracking_token;
  }

  ProcessLaunch launch;
  launch.spawn.argv = WithInterpreter(argvs[i], python.python, env);
  launch.spawn.working_dir = dir.string();
  launch.spawn.env = std::move(env);
  SOMLIER_ASSIGN_OR_RETURN(launch.log_file, tracking->lifecycle().LogFile(current.info));
  return launch;
}

void TrainJob::State::OnStart(size_t i, pid_t pid) {
  const TrainRun& run = (*runs)[i];
  Status started = tracking->lifecycle().Start(run.run_id, pid);
  if (!started.ok()) {
    // Killed between its preparation and now: stop it; OnEnd keeps the status it has.
    if (started.code() == StatusCode::kFailedPrecondition) {
      executor->Kill(run.run_id, "the run was ended as it started");
    }
    LogWarning("run {}: {}", run.run_id, started.message());
    return;
  }
  if (events.on_status) events.on_status(run, RunStatus::kRunning, "");
}

void TrainJob::State::OnEnd(size_t i, const TaskResult& result) {
  const TrainRun& run = (*runs)[i];
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
  RunOutcome outcome{RunStatus::kFailed, result.message};
  if (auto finished = tracking->lifecycle().Finish(run.run_id, end); finished.ok()) {
    outcome = *finished;
  } else {
    LogError("run {}: recording its end failed: {}", run.run_id, finished.status().message());
  }
  std::error_code ec;
  fs::remove_all(WorkDir(run.run_id), ec);
  if (events.on_status) events.on_status(run, outcome.status, outcome.message);
}

TrainJob::~TrainJob() {
  if (!state_) return;
  state_->executor.reset();  // kills what still runs, and waits
  std::error_code ec;
  fs::remove_all(state_->spec_dir, ec);
}

void TrainJob::KillAll(const std::string& reason) {
  state_->cancelled = true;
  state_->executor->KillAll(reason);
}

bool TrainJob::Has(const std::string& run_id) const { return state_->index.count(run_id) > 0; }

bool TrainJob::Kill(const std::string& run_id, const std::string& reason) {
  if (!Has(run_id)) return false;
  return state_->executor->Kill(run_id, reason);
}

void TrainJob::Wait() { state_->executor->Wait(); }

bool TrainJob::WaitFor(std::chrono::milliseconds timeout) {
  return state_->executor->WaitFor(timeout);
}

bool TrainJob::Done() { return WaitFor(std::chrono::milliseconds(0)); }

TrainService::TrainService(TrackingService& tracking, TrainServiceConfig config)
    : tracking_(tracking), config_(std::move(config)) {
  tracking_.lifecycle().SetStopper(this);
}

TrainService::~TrainService() {
  tracking_.lifecycle().ClearStopper(this);
  {
    std::lock_guard lock(watch_mutex_);
    watch_stop_ = true;
  }
  watch_wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  std::vector<std::shared_ptr<TrainJob>> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs.swap(jobs_);
  }
  for (auto& job : jobs) job->KillAll("the SoMLier process executing it stopped");
  for (auto& job : jobs) job->Wait();
}

void TrainService::SetTrackingServer(const std::string& uri, const std::string& token) {
  std::lock_guard lock(mutex_);
  server_ = {uri, token};
}

void TrainService::Prune() {
  std::erase_if(jobs_, [](const std::shared_ptr<TrainJob>& job) { return job->Done(); });
}

Result<std::shared_ptr<TrainJob>> TrainService::Submit(const TrainRequest& r, TrainEvents events) {
  // ---- The request itself ----
  if (r.use_k8s_job) {
    return Unimplemented(
        "use_k8s_job=true: training as Kubernetes Jobs is not available yet; train on this "
        "machine with use_k8s_job=false (the default)");
  }
  if (r.project_name.empty()) {
    return InvalidArgument(
        "project_name is required: the project's directory in the repository (e.g. "
        "example-projects/sklearn)");
  }
  SOMLIER_ASSIGN_OR_RETURN(std::string project_path, NormalizeProjectPath(r.project_name));
  if (r.project_ref.empty()) {
    return InvalidArgument("project_ref is required: a branch, tag or commit of the repository");
  }
  const std::string uri = r.github_uri.empty() ? config_.default_project_uri : r.github_uri;
  if (uri.empty()) {
    return InvalidArgument(
        "no repository to train from: pass --github_uri URI (\"github_uri\" in the request) or "
        "set SOMLIER_DEFAULT_PROJECT_URI");
  }
  if (r.entrypoint.empty()) return InvalidArgument("entrypoint must not be empty");
  int parallel = r.max_parallel;
  if (parallel == 0) parallel = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (parallel < 1 || parallel > kMaxParallel) {
    return InvalidArgument(
        fmt::format("max_parallel {} is not between 1 and {}", r.max_parallel, kMaxParallel));
  }
  if (r.timeout.count() < 0 || r.timeout > kMaxTimeout) {
    return InvalidArgument(
        fmt::format("timeout {} must be 0 (none) or a number of seconds up to {} (30 days)",
                    r.timeout.count(), kMaxTimeout.count()));
  }
  for (const ParamSpec& p : r.params) SOMLIER_RETURN_IF_ERROR(ValidateKey("parameter", p.name));
  SOMLIER_ASSIGN_OR_RETURN(std::vector<ParamCombination> grid, ExpandParamGrid(r.params));
  TrackingServer server;
  {
    std::lock_guard lock(mutex_);
    server = server_;
  }
  if (server.uri.empty()) {
    return FailedPrecondition("no tracking server is running for the runs to log to");
  }

  // ---- The repository and the project ----
  auto job = std::shared_ptr<TrainJob>(new TrainJob());
  job->state_ = std::make_unique<TrainJob::State>();
  TrainJob::State& s = *job->state_;
  s.tracking = &tracking_;
  s.config = config_;
  s.events = std::move(events);
  s.uri = uri;
  s.project_path = project_path;
  s.runs = &job->runs_;
  GitCache git(config_.home / "repos", config_.env, s.events.cancelled);
  SOMLIER_ASSIGN_OR_RETURN(s.commit, git.Fetch(uri, r.project_ref));
  SOMLIER_RETURN_IF_ERROR(git.CheckProject(uri, s.commit, project_path));
  s.spec_dir = config_.home / "work" / ("train-" + NewRunId());
  RemoveOnExit remove_spec_dir(s.spec_dir);
  SOMLIER_RETURN_IF_ERROR(git.Export(uri, s.commit, project_path, s.spec_dir));
  s.shown = fmt::format("{}@{}", project_path.empty() ? "." : project_path, s.commit.substr(0, 12));
  auto spec = LoadProjectDirectory(s.spec_dir, config_.env);
  if (!spec.ok()) return InRepository(spec.status(), s.spec_dir, s.shown);
  s.spec = std::move(*spec);
  auto entrypoint = s.spec.FindEntrypoint(r.entrypoint);
  if (!entrypoint.ok()) return InRepository(entrypoint.status(), s.spec_dir, s.shown);
  for (const ParamCombination& combination : grid) {
    auto argv = BuildEntrypointArgv(**entrypoint, combination);
    if (!argv.ok()) return argv.status();
    s.argvs.push_back(std::move(*argv));
  }

  // ---- The environment ----
  s.env_request.python_version = s.spec.python_version;
  s.env_request.configured_python = config_.python;
  if (!s.spec.pip_dependencies.empty()) {
    s.env_request.requirements_file = s.spec_dir / ".somlier-requirements.txt";
    std::ofstream out(s.env_request.requirements_file);
    for (const std::string& line : s.spec.pip_dependencies) out << line << "\n";
  } else if (std::error_code ec; fs::is_regular_file(s.spec.RequirementsPath(), ec)) {
    s.env_request.requirements_file = s.spec.RequirementsPath();
  }
  s.env_request.manager = r.env_manager.value_or(
      s.env_request.requirements_file.empty() ? EnvManager::kLocal : EnvManager::kVirtualenv);
  if (auto package = PythonPackageDir(config_.env); package.ok()) {
    s.python_package = package->string();
  } else {
    job->warnings_.push_back(package.status().message() +
                             "; runs can log with the mlflow client only");
  }
  if (r.use_gpu) {
    job->warnings_.push_back(
        "use_gpu: the local executor does not schedule GPUs; runs see this machine's devices");
  }
  s.tracking_uri = server.uri;
  s.tracking_token = server.token;

  // ---- The runs ----
  const std::string experiment_name =
      project_path.empty() ? RepositoryName(RedactUrlCredentials(uri)) : project_path;
  SOMLIER_ASSIGN_OR_RETURN(Experiment experiment, tracking_.GetOrCreateExperiment(experiment_name));
  job->experiment_id_ = std::to_string(experiment.experiment_id);
  job->commit_ = s.commit;
  const std::string train_id = NewRunId().substr(0, 12);
  const char* env_name = s.env_request.manager == EnvManager::kVirtualenv ? "virtualenv" : "local";
  const std::string stored_uri = RedactUrlCredentials(uri);
  for (const ParamCombination& combination : grid) {
    CreateRunRequest create;
    create.experiment_id = job->experiment_id_;
    create.user_id = r.user;
    create.source = {stored_uri, r.project_ref, s.commit, project_path, r.entrypoint};
    create.executor = ThisProcessIdentity();
    for (const auto& [name, value] : combination) create.params.push_back({name, value});
    create.tags = {
        {"mlflow.source.type", "PROJECT"},      {"mlflow.source.name", stored_uri},
        {"mlflow.source.git.commit", s.commit}, {"mlflow.source.git.repoURL", stored_uri},
        {"mlflow.gitRepoURL", stored_uri},      {"mlflow.project.entryPoint", r.entrypoint},
        {"mlflow.project.env", env_name},       {"mlflow.project.backend", "local"},
        {"somlier.project_ref", r.project_ref}, {"somlier.train_id", train_id}};
    if (!r.user.empty()) create.tags.push_back({"mlflow.user", r.user});
    Result<Run> created = tracking_.lifecycle().Schedule(create);
    if (!created.ok()) {
      // Not the user's input (that was checked above): end what was made, say why.
      const std::string why = "creating the grid's runs failed: " + created.status().message();
      for (const TrainRun& made : job->runs_) {
        (void)tracking_.lifecycle().Abandon(made.run_id, why);
      }
      return created.status();
    }
    s.index[created->info.run_id] = job->runs_.size();
    job->runs_.push_back({created->info.run_id, created->info.run_name, combination});
  }
  for (const std::string& warning : job->warnings_) LogWarning("train: {}", warning);
  LogDebug("train {}: {} run(s) of {} at {} ({}) in experiment {}", train_id, job->runs_.size(),
           experiment_name, r.project_ref, s.commit.substr(0, 12), job->experiment_id_);

  // ---- Execution ----
  std::vector<ExecutorTask> tasks;
  for (size_t i = 0; i < job->runs_.size(); ++i) {
    tasks.push_back({job->runs_[i].run_id, [&s, i] { return s.PrepareRun(i); }});
  }
  ExecutorCallbacks callbacks;
  callbacks.on_start = [&s](const std::string& id, pid_t pid) { s.OnStart(s.index.at(id), pid); };
  callbacks.on_line = [&s](const std::string& id, OutputStream stream, std::string_view line) {
    if (s.events.on_line) s.events.on_line((*s.runs)[s.index.at(id)], stream, line);
  };
  callbacks.on_end = [&s](const std::string& id, const TaskResult& result) {
    s.OnEnd(s.index.at(id), result);
  };
  ExecutorOptions options;
  options.max_parallel = parallel;
  options.timeout = r.timeout;
  options.kill_grace = config_.kill_grace;
  s.executor = std::make_unique<LocalExecutor>(std::move(tasks), options, std::move(callbacks));
  s.executor->Start();
  remove_spec_dir.Release();
  {
    std::lock_guard lock(mutex_);
    Prune();
    jobs_.push_back(job);
  }
  return job;
}

Status TrainService::CanStop(const RunInfo& run) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& job : jobs_) {
      if (job->Has(run.run_id)) return OkStatus();
    }
  }
  if (CheckProcess(run.executor) == ProcessState::kUnknown) {
    return FailedPrecondition(
        fmt::format("run '{}' is executed on another machine ({}); kill it through the server that "
                    "executes it (SOMLIER_SERVER)",
                    run.run_id, run.executor));
  }
  return OkStatus();
}

void TrainService::Stop(const RunInfo& run, const std::string& reason) {
  std::vector<std::shared_ptr<TrainJob>> jobs;
  {
    std::lock_guard lock(mutex_);
    Prune();
    jobs = jobs_;
  }
  for (auto& job : jobs) {
    if (job->Kill(run.run_id, reason)) return;
  }
  // Not ours: executed by another process on this host, which sees the status when the
  // process ends, keeps it and releases the run.
  if (run.pid) {
    TerminateProcessGroup(static_cast<pid_t>(*run.pid), "MLFLOW_RUN_ID", run.run_id,
                          config_.kill_grace);
  }
}

Result<int> TrainService::RecoverOrphanedRuns() {
  SOMLIER_ASSIGN_OR_RETURN(std::vector<RunInfo> executing, tracking_.lifecycle().Executing());
  int recovered = 0;
  for (const RunInfo& info : executing) {
    if (CheckProcess(info.executor) != ProcessState::kGone) continue;
    if (info.pid) {
      TerminateProcessGroup(static_cast<pid_t>(*info.pid), "MLFLOW_RUN_ID", info.run_id,
                            std::chrono::milliseconds(0));
    }
    const std::string why = fmt::format(
        "the SoMLier process that executed it ({}) ended before the run did", info.executor);
    if (tracking_.lifecycle().Abandon(info.run_id, why).ok()) {
      LogWarning("run {}: {}; marked FAILED", info.run_id, why);
      ++recovered;
    }
  }
  return recovered;
}

void TrainService::WatchForOrphanedRuns(std::chrono::milliseconds period) {
  watcher_ = std::thread([this, period] {
    bool failing = false;  // log a failure once, not every period
    std::unique_lock lock(watch_mutex_);
    while (!watch_wake_.wait_for(lock, period, [this] { return watch_stop_; })) {
      lock.unlock();
      Result<int> recovered = RecoverOrphanedRuns();
      if (!recovered.ok() && !failing) {
        LogWarning("checking for runs whose executor has died failed (retrying every {} ms): {}",
                   period.count(), recovered.status().message());
      } else if (recovered.ok() && *recovered > 0) {
        LogWarning("{} run(s) whose executing SoMLier process died were marked FAILED", *recovered);
      }
      failing = !recovered.ok();
      lock.lock();
    }
  });
}

}  // namespace somlier
