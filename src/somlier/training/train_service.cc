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
  void OnWaiting(const std::string& run_id, std::string_view reason) override {
    if (Status noted = tracking_.lifecycle().Wait(run_id, std::string(reason)); !noted.ok()) {
      LogDebug("run {}: {}", run_id, noted.message());
      return;
    }
    if (events_.on_note && !reason.empty()) {
      events_.on_note(fmt::format("{} waits: {}", RunOf(run_id).run_name, reason));
    }
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
                           std::unique_ptr<RunExecutor> cluster)
    : tracking_(tracking),
      config_(std::move(config)),
      local_(std::make_unique<LocalRunExecutor>(
          LocalRunExecutorConfig{config_.home, config_.env, config_.kill_grace})),
      cluster_(std::move(cluster)) {
  tracking_.lifecycle().SetStopper(this);
}

RunExecutor& TrainService::ExecutorOf(const RunInfo& run) {
  // A cluster executor's handles start with its name ("kubernetes:...").
  const bool in_cluster = cluster_ && run.executor.starts_with(std::string(cluster_->name()) + ":");
  return in_cluster ? *cluster_ : *local_;
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
  // Runs in a cluster go on: the next service follows them (RecoverOrphanedRuns).
  std::erase_if(jobs, [](const std::shared_ptr<TrainJob>& job) { return job->outlives_process_; });
  for (auto& job : jobs) job->KillAll("the SoMLier process executing it stopped");
  for (auto& job : jobs) job->Wait();
}

void TrainService::SetTrackingServer(const std::string& uri, const std::string& token) {
  std::lock_guard lock(mutex_);
  server_ = {uri, token};
}

std::vector<std::shared_ptr<TrainJob>> TrainService::TakeDone() {
  std::vector<std::shared_ptr<TrainJob>> done;
  std::erase_if(jobs_, [&](const std::shared_ptr<TrainJob>& job) {
    if (!job->Done()) return false;
    done.push_back(job);
    return true;
  });
  return done;
}

// A request checked, its project fetched and its runs planned: what Submit and DryRun share.
struct TrainService::Prepared {
  std::shared_ptr<TrainJob> job;
  GridJob grid;
  RunExecutor* executor = nullptr;
  std::vector<PlannedRun> planned;
  std::string experiment_name;
  std::string train_id;
  std::unique_ptr<RemoveOnExit> remove_spec_dir;
};

Result<TrainService::Prepared> TrainService::Prepare(const TrainRequest& r, TrainEvents& events) {
  // ---- The request itself ----
  SOMLIER_ASSIGN_OR_RETURN(
      CheckedTrainRequest checked,
      CheckTrainRequest(r, config_.default_project_uri,
                        static_cast<int>(std::thread::hardware_concurrency())));
  Prepared p;
  if (r.use_k8s_job.value_or(cluster_ != nullptr)) {
    if (!cluster_) {
      return FailedPrecondition("use_k8s_job=true: " + config_.no_cluster_reason +
                                "; or train on this machine with use_k8s_job=false");
    }
    p.executor = cluster_.get();
  } else {
    p.executor = local_.get();
  }
  const bool in_cluster = p.executor->RunsOutliveProcess();
  TrackingServer server;
  {
    std::lock_guard lock(mutex_);
    server = server_;
  }
  if (server.uri.empty() && !r.dry_run) {
    return FailedPrecondition("no tracking server is running for the runs to log to");
  }

  // ---- The repository and the project ----
  p.job = std::shared_ptr<TrainJob>(new TrainJob());
  TrainJob& job = *p.job;
  job.executor_ = std::string(p.executor->name());
  job.outlives_process_ = in_cluster;
  GridJob& grid = p.grid;
  grid.uri = checked.uri;
  grid.project_path = checked.project_path;
  GitCache git(config_.home / "repos", config_.env, events.cancelled);
  SOMLIER_ASSIGN_OR_RETURN(grid.commit, git.Fetch(grid.uri, r.project_ref));
  SOMLIER_RETURN_IF_ERROR(git.CheckProject(grid.uri, grid.commit, grid.project_path));
  grid.spec_dir = config_.home / "work" / ("train-" + NewRunId());
  p.remove_spec_dir = std::make_unique<RemoveOnExit>(grid.spec_dir);
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
    if (!r.dry_run) {
      std::string requirements;
      for (const std::string& line : grid.spec.pip_dependencies) requirements += line + "\n";
      SOMLIER_RETURN_IF_ERROR(WriteFileAtomically(env_request.requirements_file, requirements));
    }
  } else if (std::error_code ec; fs::is_regular_file(grid.spec.RequirementsPath(), ec)) {
    env_request.requirements_file = grid.spec.RequirementsPath();
  }
  env_request.manager = r.env_manager.value_or(
      env_request.requirements_file.empty() ? EnvManager::kLocal : EnvManager::kVirtualenv);
  if (!in_cluster) {  // a pod has its image's Python and package
    if (auto package = PythonPackageDir(config_.env); package.ok()) {
      grid.python_package = package->string();
    } else {
      job.warnings_.push_back(package.status().message() +
                              "; runs can log with the mlflow client only");
    }
  }
  if (r.use_gpu && !in_cluster) {
    job.warnings_.push_back(fmt::format(
        "use_gpu: the {} executor does not schedule GPUs; runs see this machine's devices",
        p.executor->name()));
  }
  grid.use_gpu = r.use_gpu;
  grid.tracking_uri = server.uri;
  grid.tracking_token = server.token;
  grid.max_parallel = checked.max_parallel;
  grid.timeout = r.timeout;

  // ---- The runs ----
  GridRunsContext context;
  context.commit = grid.commit;
  context.backend = std::string(p.executor->name());
  context.env_name = env_request.manager == EnvManager::kVirtualenv ? "virtualenv" : "local";
  context.train_id = p.train_id = NewRunId().substr(0, 12);
  context.executor = p.executor->Handle();
  SOMLIER_ASSIGN_OR_RETURN(p.planned, PlanGridRuns(r, checked, **entrypoint, context));
  p.experiment_name = ExperimentNameFor(checked);
  grid.project = p.experiment_name;
  grid.grid_id = p.train_id;
  job.commit_ = grid.commit;
  return p;
}

Result<TrainService::Preview> TrainService::DryRun(const TrainRequest& r, TrainEvents events) {
  TrainRequest request = r;
  request.dry_run = true;
  SOMLIER_ASSIGN_OR_RETURN(Prepared p, Prepare(request, events));
  // Ids as the runs would get them; none is recorded.
  auto experiment = tracking_.GetExperimentByName(p.experiment_name);
  p.grid.experiment_id = experiment.ok() ? std::to_string(experiment->experiment_id) : "0";
  for (PlannedRun& run : p.planned) {
    p.grid.runs.push_back({NewRunId(), std::move(run.argv), {}});
  }
  SOMLIER_ASSIGN_OR_RETURN(std::vector<nlohmann::json> runs, p.executor->Preview(p.grid));
  return Preview{std::string(p.executor->name()), p.grid.commit, std::move(runs)};
}

Result<std::filesystem::path> TrainService::SourceArchive(const std::string& name) const {
  return GitCache(config_.home / "repos", config_.env).FindArchive(name);
}

Result<std::shared_ptr<TrainJob>> TrainService::Submit(const TrainRequest& r, TrainEvents events) {
  if (r.dry_run) return InvalidArgument("a dry run is TrainService::DryRun, not Submit");
  SOMLIER_ASSIGN_OR_RETURN(Prepared p, Prepare(r, events));
  std::shared_ptr<TrainJob> job = p.job;
  GridJob& grid = p.grid;
  SOMLIER_ASSIGN_OR_RETURN(Experiment experiment,
                           tracking_.GetOrCreateExperiment(p.experiment_name));
  job->experiment_id_ = grid.experiment_id = std::to_string(experiment.experiment_id);
  for (PlannedRun& run : p.planned) {
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
  LogDebug("train {}: {} run(s) of {} at {} ({}) in experiment {} on {}", p.train_id,
           job->runs_.size(), p.experiment_name, r.project_ref, grid.commit.substr(0, 12),
           job->experiment_id_, job->executor_);

  // ---- Execution ----
  job->spec_dir_ = grid.spec_dir;
  job->observer_ = std::make_unique<TrainJob::Observer>(tracking_, std::move(events), job->runs_);
  TrainJob::Observer& observer = *job->observer_;
  Result<std::unique_ptr<Execution>> execution = p.executor->Submit(std::move(grid), observer);
  if (!execution.ok()) {
    const std::string why = "starting the grid's runs failed: " + execution.status().message();
    for (const TrainRun& made : job->runs_) (void)tracking_.lifecycle().Abandon(made.run_id, why);
    return execution.status();
  }
  job->execution_ = std::move(*execution);
  p.remove_spec_dir->Release();
  {
    std::vector<std::shared_ptr<TrainJob>> done;  // destroyed after the lock is released
    std::lock_guard lock(mutex_);
    done = TakeDone();
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
  if (ExecutorOf(run).Check(run) == ExecutorLiveness::kUnknown) {
    return FailedPrecondition(fmt::format(
        "run '{}' is executed elsewhere ({}), or its executor cannot be reached from here now; "
        "kill it through the server that executes it (SOMLIER_SERVER)",
        run.run_id, run.executor));
  }
  return OkStatus();
}

void TrainService::Stop(const RunInfo& run, const std::string& reason) {
  std::vector<std::shared_ptr<TrainJob>> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs = jobs_;
  }
  for (auto& job : jobs) {
    if (job->Kill(run.run_id, reason)) return;
  }
  // Not ours: executed by another process (of this host, or following a Job), which sees
  // the status when the run ends, keeps it and releases the run — unless that process is
  // gone: then nobody will, and the run is released here (the kill stands). A run whose
  // remains could not be stopped stays held: the watch tries again.
  RunExecutor& executor = ExecutorOf(run);
  if (Status stopped = executor.StopOrphan(run, config_.kill_grace); !stopped.ok()) {
    LogWarning("run {}: {}", run.run_id, stopped.message());
    return;
  }
  const ExecutorLiveness now = executor.Check(run);
  if (now == ExecutorLiveness::kGone || now == ExecutorLiveness::kUnfollowed) {
    (void)tracking_.lifecycle().Finish(run.run_id, {RunEnd::Kind::kKilled, {}, reason});
  }
}

Result<int> TrainService::RecoverOrphanedRuns() {
  SOMLIER_ASSIGN_OR_RETURN(std::vector<RunInfo> held, tracking_.lifecycle().Held());
  int recovered = 0;
  std::vector<RunInfo> adopted;  // in a cluster, followed by no live process: ours now
  for (const RunInfo& info : held) {
    {
      std::lock_guard lock(mutex_);
      if (std::any_of(jobs_.begin(), jobs_.end(),
                      [&](const auto& job) { return job->Has(info.run_id); })) {
        continue;
      }
    }
    RunExecutor& executor = ExecutorOf(info);
    const ExecutorLiveness liveness = executor.Check(info);
    if (liveness == ExecutorLiveness::kUnfollowed && !IsTerminal(info.status)) {
      if (Status adopt = tracking_.lifecycle().Adopt(info.run_id, executor.Handle()); adopt.ok()) {
        adopted.push_back(info);
      }
      continue;
    }
    if (liveness != ExecutorLiveness::kGone && liveness != ExecutorLiveness::kUnfollowed) continue;
    if (Status stopped = executor.StopOrphan(info, std::chrono::milliseconds(0)); !stopped.ok()) {
      LogWarning("run {}: {} (trying again later)", info.run_id, stopped.message());
      continue;
    }
    if (IsTerminal(info.status)) {
      // Killed, and its executor died before it saw the end: the kill stands; released.
      (void)tracking_.lifecycle().Finish(info.run_id, {RunEnd::Kind::kKilled, {}, ""});
      continue;
    }
    const std::string why =
        executor.RunsOutliveProcess()
            ? fmt::format(
                  "its Kubernetes Job is gone (deleted, or expired after its TTL) and "
                  "no SoMLier server saw how it ended ({})",
                  info.executor)
            : fmt::format("the SoMLier process that executed it ({}) ended before the run did",
                          info.executor);
    if (tracking_.lifecycle().Abandon(info.run_id, why).ok()) {
      LogWarning("run {}: {}; marked FAILED", info.run_id, why);
      ++recovered;
    }
  }
  if (!adopted.empty()) Resume(adopted);
  return recovered;
}

void TrainService::Resume(const std::vector<RunInfo>& held) {
  auto job = std::shared_ptr<TrainJob>(new TrainJob());
  job->executor_ = std::string(cluster_->name());
  job->outlives_process_ = true;
  std::vector<GridJob::Run> runs;
  for (const RunInfo& info : held) {
    auto log_file = tracking_.lifecycle().LogFile(info);
    if (!log_file.ok()) {
      LogWarning("run {}: cannot follow it: {}", info.run_id, log_file.status().message());
      continue;
    }
    job->runs_.push_back({info.run_id, info.run_name, {}});
    runs.push_back({info.run_id, {}, std::move(*log_file), info.status == RunStatus::kRunning});
  }
  job->observer_ = std::make_unique<TrainJob::Observer>(tracking_, TrainEvents{}, job->runs_);
  auto execution = cluster_->Resume(std::move(runs), *job->observer_);
  if (!execution.ok()) {
    LogWarning("following {} run(s) on Kubernetes again failed: {}", held.size(),
               execution.status().message());
    return;
  }
  job->execution_ = std::move(*execution);
  LogInfo("following {} run(s) on Kubernetes whose server is gone", job->runs_.size());
  std::vector<std::shared_ptr<TrainJob>> done;  // destroyed after the lock is released
  std::lock_guard lock(mutex_);
  done = TakeDone();
  jobs_.push_back(std::move(job));
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
        LogWarning("{} run(s) whose executor is gone were marked FAILED", *recovered);
      }
      failing = !recovered.ok();
      lock.lock();
    }
  });
}

}  // namespace somlier
