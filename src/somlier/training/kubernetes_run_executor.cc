#include "somlier/training/kubernetes_run_executor.h"

#include <fmt/core.h>

#include <map>

#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/execution/process_identity.h"
#include "somlier/kubernetes/job_manifest.h"
#include "somlier/kubernetes/manifest_template.h"
#include "somlier/kubernetes/names.h"
#include "somlier/projects/git_cache.h"
#include "somlier/projects/local_run.h"
#include "somlier/training/kubernetes_execution.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;
using kubernetes::JobName;
using nlohmann::json;

constexpr const char* kManagedBy = "app.kubernetes.io/managed-by=somlier";
// Where the runtime image keeps the somlier Python package (docker/Dockerfile).
constexpr const char* kRuntimePackage = "/usr/local/share/somlier/python";
constexpr const char* kRuntimePython = "/usr/bin/python3";

}  // namespace

Result<std::unique_ptr<KubernetesRunExecutor>> KubernetesRunExecutor::Create(
    KubernetesRunExecutorConfig config) {
  if (!config.settings.configured()) {
    return FailedPrecondition(
        "Kubernetes is not configured for SoMLier: set SOMLIER_K8S_IMAGE (the runtime image) and "
        "SOMLIER_K8S_TRACKING_URL (this server as pods reach it)");
  }
  json job_template;
  if (!config.settings.job_template.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(job_template,
                             kubernetes::LoadTemplate(config.settings.job_template, "Job"));
  }
  return std::unique_ptr<KubernetesRunExecutor>(
      new KubernetesRunExecutor(std::move(config), std::move(job_template)));
}

KubernetesRunExecutor::KubernetesRunExecutor(KubernetesRunExecutorConfig config, json job_template)
    : config_(std::move(config)),
      kubectl_(config_.settings),
      job_template_(std::move(job_template)) {}

std::string KubernetesRunExecutor::Cluster() const {
  const auto& s = config_.settings;
  return "kubernetes:" + (s.context.empty() ? "" : s.context + "/") + s.ns;
}

std::string KubernetesRunExecutor::Handle() const {
  return Cluster() + "@" + ThisProcessIdentity();
}

void KubernetesRunExecutor::Follow(const std::string& run_id, bool following) {
  std::lock_guard lock(mutex_);
  if (following) {
    followed_.insert(run_id);
  } else if (auto it = followed_.find(run_id); it != followed_.end()) {
    followed_.erase(it);
  }
}

Result<std::vector<json>> KubernetesRunExecutor::Manifests(const GridJob& job) {
  const kubernetes::KubernetesSettings& settings = config_.settings;
  std::optional<kubernetes::ProjectSource> source;
  const bool own_image = !job.spec.docker_name.empty();
  std::string image = settings.image;
  if (own_image) {
    image = job.spec.docker_name;
    if (!job.spec.docker_tags.empty()) image += ":" + job.spec.docker_tags.front();
  } else {
    GitCache git(config_.home / "repos", config_.env);
    // Made when the project was exported for planning (GitCache::Export).
    SOMLIER_ASSIGN_OR_RETURN(GitCache::Archive archive,
                             git.ArchiveOf(job.commit, job.project_path));
    source = kubernetes::ProjectSource{archive.name, archive.strip_components};
  }

  std::map<std::string, std::string> env;
  ProjectSpec in_pod = job.spec;
  in_pod.directory = own_image ? fs::path(".") : fs::path(kubernetes::kWorkspace);
  for (const auto& [name, value] :
       EntrypointEnvironment(in_pod, own_image ? "" : kRuntimePython, {})) {
    env[name] = value;
  }
  if (own_image) env.erase("SOMLIER_PYTHON");
  if (!own_image) env["PYTHONPATH"] = kRuntimePackage;
  for (const char* name : {"MLFLOW_TRACKING_URI", "SOMLIER_TRACKING_URI", "SOMLIER_SERVER"}) {
    env[name] = settings.tracking_url;
  }
  env["MLFLOW_EXPERIMENT_ID"] = env["SOMLIER_EXPERIMENT_ID"] = job.experiment_id;

  std::vector<json> manifests;
  for (size_t i = 0; i < job.runs.size(); ++i) {
    const GridJob::Run& run = job.runs[i];
    kubernetes::TrainingJob t;
    t.run_id = run.run_id;
    t.experiment_id = job.experiment_id;
    t.project = job.project;
    t.grid = job.grid_id;
    t.image = image;
    t.command = own_image ? run.argv : WithInterpreter(run.argv, kRuntimePython, {});
    t.env = env;
    t.env["MLFLOW_RUN_ID"] = t.env["SOMLIER_RUN_ID"] = run.run_id;
    if (job.timeout.count() > 0) t.timeout_seconds = job.timeout.count();
    t.source = source;
    t.gpu = job.use_gpu;
    t.max_parallel = job.max_parallel;
    t.index = static_cast<int>(i);
    t.suspend = static_cast<int>(i) >= job.max_parallel;
    auto manifest = kubernetes::BuildTrainingJob(t, settings, job_template_);
    if (!manifest.ok()) return manifest.status().WithContext("the Job of run " + run.run_id);
    manifests.push_back(std::move(*manifest));
  }
  return manifests;
}

Result<std::vector<json>> KubernetesRunExecutor::Preview(const GridJob& job) {
  return Manifests(job);
}

Result<std::unique_ptr<Execution>> KubernetesRunExecutor::Submit(GridJob job,
                                                                 ExecutionObserver& observer) {
  SOMLIER_ASSIGN_OR_RETURN(std::vector<json> manifests, Manifests(job));
  if (!job.env_request.requirements_file.empty() && job.spec.docker_name.empty()) {
    observer.OnNote(
        "warning: the runtime image does not install the project's requirements; name an image "
        "with them in somlier.yaml (project.docker) if the runs need more than it has");
  }
  const std::string grid_selector = fmt::format("{},somlier.io/grid={}", kManagedBy, job.grid_id);
  // One stream of JSON documents, created in order by one kubectl.
  std::string documents;
  for (const json& manifest : manifests) documents += manifest.dump() + "\n";
  auto created = kubectl_.Run(fmt::format("creating the {} Job(s) of the grid", manifests.size()),
                              {"create", "-f", "-", "-o", "name"}, documents);
  if (!created.ok()) {
    Status cleaned = kubectl_
                         .Run("deleting the Jobs it had created",
                              {"delete", "jobs", "-l", grid_selector, "--cascade=background",
                               "--ignore-not-found", "--wait=false"})
                         .status();
    std::string message = created.status().message();
    message += cleaned.ok() ? "; the Jobs it had created were deleted"
                            : fmt::format("; {}; delete them with `kubectl delete jobs -l {}`",
                                          cleaned.message(), grid_selector);
    return Status(created.status().code(), message);
  }
  return FollowJobs(kubectl_, grid_selector, std::move(job.runs), observer, /*resumed=*/false,
                    [this](const std::string& run_id, bool on) { Follow(run_id, on); });
}

Result<std::unique_ptr<Execution>> KubernetesRunExecutor::Resume(std::vector<GridJob::Run> runs,
                                                                 ExecutionObserver& observer) {
  return FollowJobs(kubectl_, kManagedBy, std::move(runs), observer, /*resumed=*/true,
                    [this](const std::string& run_id, bool on) { Follow(run_id, on); });
}

ExecutorLiveness KubernetesRunExecutor::Check(const RunInfo& run) {
  const std::string cluster = Cluster() + "@";
  if (!run.executor.starts_with(cluster)) return ExecutorLiveness::kUnknown;
  const std::string follower = run.executor.substr(cluster.size());
  {
    std::lock_guard lock(mutex_);
    if (followed_.count(run.run_id)) return ExecutorLiveness::kAlive;
  }
  if (follower == ThisProcessIdentity()) return ExecutorLiveness::kAlive;  // being submitted
  switch (CheckProcess(follower)) {
    case ProcessState::kAlive:
      return ExecutorLiveness::kAlive;  // another server of this host follows it
    case ProcessState::kUnknown:
      return ExecutorLiveness::kUnknown;  // another host's
    case ProcessState::kGone:
      break;
  }
  auto found = kubectl_.Run(fmt::format("finding the Job of run {}", run.run_id),
                            {"get", "job", JobName(run.run_id), "-o", "name"});
  if (found.ok()) return ExecutorLiveness::kUnfollowed;
  if (found.status().code() == StatusCode::kNotFound &&
      found.status().message().find("(NotFound)") != std::string::npos) {
    return ExecutorLiveness::kGone;
  }
  return ExecutorLiveness::kUnknown;
}

Status KubernetesRunExecutor::StopOrphan(const RunInfo& run, std::chrono::milliseconds) {
  if (!run.executor.starts_with(Cluster() + "@")) return OkStatus();
  return kubectl_
      .Run(fmt::format("deleting the Job of run {}", run.run_id),
           {"delete", "job", JobName(run.run_id), "--cascade=background", "--ignore-not-found",
            "--wait=false"})
      .status();
}

}  // namespace somlier
