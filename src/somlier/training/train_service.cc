#include "somlier/training/train_service.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <thread>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/core/ids.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/log.h"
#include "somlier/projects/git_cache.h"
#include "somlier/projects/project_spec.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/training/grid_plan.h"
#include "somlier/training/local_run_executor.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

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

}  // namespace

// Records what the executor reports through the run lifecycle, and tells the caller.
class TrainJob::Observer final : public ExecutionObserver {
 public:
  Observer(TrackingService& tracking, TrainEvents events, const std::vector<TrainRun>& runs)
      : tracking_(tracking), events_(std::move(events)), runs_(runs) {
    for (size_t i = 0; i < runs_.size(); ++i) index_[runs_[i].run_id] = i;
  }

  bool Cancelled() override { return events_.cancelled && events_.cancelled(); }
  void OnNote(std::string_view note) override {
    if (events_.on_note) events_.on_note(note);
  }
  Status MayStart(const std::string& run_id) override {
    SOMLIER_ASSIGN_OR_RETURN(Run current, tracking_.GetRun(run_id));
    if (current.info.status != RunStatus::kScheduled) {
      return FailedPrecondition(
          fmt::format("the run is {} and was not started", ToString(current.info.status)));
    }
    return OkStatus();
  }
  Status OnStart(const std::string& run_id, std::optional<int64_t> pid) override {
    Status started = tracking_.lifecycle().Start(run_id, pid);
    if (!started.ok()) {
      LogWarning("run {}: {}", run_id, started.message());
      // Killed between its preparation and now: the executor stops it; OnEnd keeps the
      // status it has. (A store that failed to record it leaves the run running.)
      return started.code() == StatusCode::kFailedPrecondition ? started : OkStatus();
    }
    if (events_.on_status) events_.on_status(RunOf(run_id), RunStatus::kRunning, "");
    return OkStatus();
  }
  void OnLine(const std::string& run_id, OutputStream stream, std::string_view line) override {
    if (events_.on_line) events_.on_line(RunOf(run_id), stream, line);
  }
  void OnEnd(const std::string& run_id, const RunEnd& end) override {
    RunOutcome outcome{RunStatus::kFailed, end.message};
    if (auto finished = tracking_.lifecycle().Finish(run_id, end); finished.ok()) {
      outcome = *finished;
    } else {
      LogError("run {}: recording its end failed: {}", run_id, finished.status().message());
    }
    if (events_.on_status) events_.on_status(RunOf(run_id), outcome.status, outcome.message);
  }

 private:
  const TrainRun& RunOf(const std::string& run_id) const { return runs_[index_.at(run_id)]; }

  TrackingService& tracking_;
  TrainEvents events_;
  const std::vector<TrainRun>& runs_;
  std::map<std::string, size_t> index_;  // constant after construction
};

TrainJob::~TrainJob() {
  execution_.reset();  // kills what still runs, and waits
  std::error_code ec;
  if (!spec_dir_.empty()) fs::remove_all(spec_dir_, ec);
}

void TrainJob::KillAll(const std::string& reason) { execution_->KillAll(reason); }

bool TrainJob::Has(const std::string& run_id) const {
  return std::any_of(runs_.begin(), runs_.end(),
                     [&](const TrainRun& run) { return run.run_id == run_id; });
}

bool TrainJob::Kill(const std::string& run_id, const std::string& reason) {
  return Has(run_id) && execution_->Kill(run_id, reason);
}

void TrainJob::Wait() { execution_->Wait(); }

bool TrainJob::WaitFor(std::chrono::milliseconds timeout) { return execution_->WaitFor(timeout); }

bool TrainJob::Done() { return WaitFor(std::chrono::milliseconds(0)); }

TrainService::TrainService(TrackingService& tracking, TrainServiceConfig config,
                           std::unique_ptr<RunExecutor> executor)
    : tracking_(tracking), config_(std::move(config)), executor_(std::move(executor)) {
  if (!executor_) {
    executor_ = std::make_unique<LocalRunExecutor>(
        LocalRunExecutorConfig{config_.home, config_.env, config_.kill_grace});
  }
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
  SOMLIER_ASSIGN_OR_RETURN(
      CheckedTrainRequest checked,
      CheckTrainRequest(r, config_.default_project_uri,
                        static_cast<int>(std::thread::hardware_concurrency())));
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
  GridJob grid;
  grid.uri = checked.uri;
  grid.project_path = checked.project_path;
  GitCache git(config_.home / "repos", config_.env, events.cancelled);
  SOMLIER_ASSIGN_OR_RETURN(grid.commit, git.Fetch(grid.uri, r.project_ref));
  SOMLIER_RETURN_IF_ERROR(git.CheckProject(grid.uri, grid.commit, grid.project_path));
  grid.spec_dir = config_.home / "work" / ("train-" + NewRunId());
  RemoveOnExit remove_spec_dir(grid.spec_dir);
  SOMLIER_RETURN_IF_ERROR(git.Export(grid.uri, grid.commit, grid.project_path, grid.spec_dir));
  grid.shown = fmt::format("{}@{}", grid.project_path.empty() ? "." : grid.project_path,
                           grid.commit.substr(0, 12));
  auto spec = LoadProjectDirectory(grid.spec_dir, config_.env);
  if (!spec.ok()) return grid.Named(spec.status());
  grid.spec = std::move(*spec);
  auto entrypoint = grid.spec.FindEntrypoint(r.entrypoint);
  if (!entrypoint.ok()) return grid.Named(entrypoint.status());

  // ---- The environment ----
  PythonEnvRequest& env_request = grid.env_request;
  env_request.python_version = grid.spec.python_version;
  env_request.configured_python = config_.python;
  if (!grid.spec.pip_dependencies.empty()) {
    env_request.requirements_file = grid.spec_dir / ".somlier-requirements.txt";
    std::string requirements;
    for (const std::string& line : grid.spec.pip_dependencies) requirements += line + "\n";
    SOMLIER_RETURN_IF_ERROR(WriteFileAtomically(env_request.requirements_file, requirements));
  } else if (std::error_code ec; fs::is_regular_file(grid.spec.RequirementsPath(), ec)) {
    env_request.requirements_file = grid.spec.RequirementsPath();
  }
  env_request.manager = r.env_manager.value_or(
      env_request.requirements_file.empty() ? EnvManager::kLocal : EnvManager::kVirtualenv);
  if (auto package = PythonPackageDir(config_.env); package.ok()) {
    grid.python_package = package->string();
  } else {
    job->warnings_.push_back(package.status().message() +
                             "; runs can log with the mlflow client only");
  }
  if (r.use_gpu) {
    job->warnings_.push_back(fmt::format(
        "use_gpu: the {} executor does not schedule GPUs; runs see this machine's devices",
        executor_->name()));
  }
  grid.tracking_uri = server.uri;
  grid.tracking_token = server.token;
  grid.max_parallel = checked.max_parallel;
  grid.timeout = r.timeout;

  // ---- The runs ----
  GridRunsContext context;
  context.commit = grid.commit;
  context.backend = std::string(executor_->name());
  context.env_name = env_request.manager == EnvManager::kVirtualenv ? "virtualenv" : "local";
  context.train_id = NewRunId().substr(0, 12);
  context.executor = executor_->Handle();
  SOMLIER_ASSIGN_OR_RETURN(std::vector<PlannedRun> planned,
                           PlanGridRuns(r, checked, **entrypoint, context));
  const std::string experiment_name = ExperimentNameFor(checked);
  SOMLIER_ASSIGN_OR_RETURN(Experiment experiment, tracking_.GetOrCreateExperiment(experiment_name));
  job->experiment_id_ = grid.experiment_id = std::to_string(experiment.experiment_id);
  job->commit_ = grid.commit;
  for (PlannedRun& run : planned) {
    run.create.experiment_id = job->experiment_id_;
    Result<Run> created = tracking_.lifecycle().Schedule(run.create);
    Result<fs::path> log_file = created.ok() ? tracking_.lifecycle().LogFile(created->info)
                                             : Result<fs::path>(created.status());
    if (!log_file.ok()) {
      // Not the user's input (that was checked above): end what was made, say why.
      const std::string why = "creating the grid's runs failed: " + log_file.status().message();
      if (created.ok()) (void)tracking_.lifecycle().Abandon(created->info.run_id, why);
      for (const TrainRun& made : job->runs_) (void)tracking_.lifecycle().Abandon(made.run_id, why);
      return log_file.status();
    }
    job->runs_.push_back({created->info.run_id, created->info.run_name, run.params});
    grid.runs.push_back({created->info.run_id, std::move(run.argv), std::move(*log_file)});
  }
  for (const std::string& warning : job->warnings_) LogWarning("train: {}", warning);
  LogDebug("train {}: {} run(s) of {} at {} ({}) in experiment {}", context.train_id,
           job->runs_.size(), experiment_name, r.project_ref, grid.commit.substr(0, 12),
           job->experiment_id_);

  // ---- Execution ----
  job->spec_dir_ = grid.spec_dir;
  job->observer_ = std::make_unique<TrainJob::Observer>(tracking_, std::move(events), job->runs_);
  TrainJob::Observer& observer = *job->observer_;
  Result<std::unique_ptr<Execution>> execution = executor_->Submit(std::move(grid), observer);
  if (!execution.ok()) {
    const std::string why = "starting the grid's runs failed: " + execution.status().message();
    for (const TrainRun& made : job->runs_) (void)tracking_.lifecycle().Abandon(made.run_id, why);
    return execution.status();
  }
  job->execution_ = std::move(*execution);
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
  if (executor_->Check(run) == ExecutorLiveness::kUnknown) {
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
  // Not ours: executed by another process of this host, which sees the status when the
  // process ends, keeps it and releases the run — unless that process is gone: then
  // nobody will, and the run is released here (the kill stands).
  executor_->StopOrphan(run, config_.kill_grace);
  if (executor_->Check(run) == ExecutorLiveness::kGone) {
    (void)tracking_.lifecycle().Finish(run.run_id, {RunEnd::Kind::kKilled, {}, reason});
  }
}

Result<int> TrainService::RecoverOrphanedRuns() {
  SOMLIER_ASSIGN_OR_RETURN(std::vector<RunInfo> held, tracking_.lifecycle().Held());
  int recovered = 0;
  for (const RunInfo& info : held) {
    if (executor_->Check(info) != ExecutorLiveness::kGone) continue;
    executor_->StopOrphan(info, std::chrono::milliseconds(0));
    if (IsTerminal(info.status)) {
      // Killed, and its executor died before it saw the end: the kill stands; released.
      (void)tracking_.lifecycle().Finish(info.run_id, {RunEnd::Kind::kKilled, {}, ""});
      continue;
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
