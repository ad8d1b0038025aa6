#include "somlier/cli/local_services.h"

#include "somlier/core/install_paths.h"
#include "somlier/core/url.h"
#include "somlier/kubernetes/kube_settings.h"
#include "somlier/serving/kubernetes_deployments.h"
#include "somlier/training/kubernetes_run_executor.h"

namespace somlier::cli {

Result<std::unique_ptr<LocalServices>> LocalServices::Open(const Settings& settings,
                                                           const Environment& env,
                                                           LocalServicesOptions options) {
  auto services = std::make_unique<LocalServices>();
  auto store = Store::Open(settings.database_url);
  if (!store.ok()) {
    return store.status().WithContext("opening the database " +
                                      RedactUrlPassword(settings.database_url));
  }
  services->store = std::move(*store);
  SOMLIER_ASSIGN_OR_RETURN(services->artifacts, ArtifactStore::Open(settings.artifact_root));
  services->tracking = std::make_unique<TrackingService>(*services->store, *services->artifacts);
  services->registry = std::make_unique<RegistryService>(*services->store, *services->tracking);
  SOMLIER_RETURN_IF_ERROR(services->tracking->EnsureDefaultExperiment());
  LocalDeploymentsConfig deploy;
  deploy.home = settings.home;
  std::error_code ec;
  deploy.somlier_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
  deploy.env = env;
  services->local_deployments =
      std::make_unique<LocalDeployments>(*services->store, *services->registry, std::move(deploy));
  services->model_import = std::make_unique<ModelImport>(
      *services->tracking, *services->registry,
      ModelImportConfig{settings.home, settings.python, env, std::move(options.model_sources)});
  TrainServiceConfig train;
  train.home = settings.home;
  train.env = env;
  train.python = settings.python;
  train.default_project_uri = settings.default_project_uri;
  // Kubernetes, for a server configured for it (pods reach a server, not a CLI's loopback).
  std::unique_ptr<RunExecutor> cluster;
  std::unique_ptr<DeploymentTarget> cluster_deployments;
  std::string no_cluster_reason =
      "Kubernetes needs a SoMLier server the cluster can reach (runs log to it, models are "
      "downloaded from it): start `somlier server` with SOMLIER_K8S_IMAGE and "
      "SOMLIER_K8S_TRACKING_URL set and point SOMLIER_SERVER at it";
  if (options.server) {
    SOMLIER_ASSIGN_OR_RETURN(kubernetes::KubernetesSettings k8s,
                             kubernetes::LoadKubernetesSettings(env, settings.config_file));
    if (k8s.configured()) {
      SOMLIER_ASSIGN_OR_RETURN(cluster, KubernetesRunExecutor::Create({k8s, settings.home, env}));
      SOMLIER_ASSIGN_OR_RETURN(
          cluster_deployments,
          KubernetesDeployments::Create(*services->store, *services->registry, {std::move(k8s)}));
    }
    no_cluster_reason =
        "Kubernetes is not configured for this server: set SOMLIER_K8S_IMAGE (the runtime image) "
        "and SOMLIER_K8S_TRACKING_URL (this server as pods reach it)";
  }
  train.no_cluster_reason = no_cluster_reason;
  batch::BatchServiceConfig batch;
  if (auto k8s = kubernetes::LoadKubernetesSettings(env, settings.config_file); k8s.ok()) {
    batch.kubernetes = std::move(*k8s);
  } else {
    batch.kubernetes_error = k8s.status();  // only batch commands need them
  }
  batch.repository.url = Lookup(env, "SOMLIER_DAGS_REPO");
  batch.repository.home = settings.home;
  batch.repository.env = env;
  if (std::string api = Lookup(env, "SOMLIER_GITHUB_API_URL"); !api.empty()) {
    batch.repository.github_api_url = api;
  }
  batch.repository.github_repo = Lookup(env, "SOMLIER_DAGS_GITHUB_REPO");
  batch.airflow = {Lookup(env, "SOMLIER_AIRFLOW_URL"), Lookup(env, "SOMLIER_AIRFLOW_USERNAME"),
                   Lookup(env, "SOMLIER_AIRFLOW_PASSWORD")};
  services->batch = std::make_unique<batch::BatchService>(std::move(batch));
  SOMLIER_ASSIGN_OR_RETURN(Environment worker_env, WithPythonPackage(env));
  services->offline = std::make_unique<offline::OfflineService>(
      *services->registry,
      offline::OfflineConfig{settings.home, std::move(worker_env), settings.PythonOrDefault()});
  services->deployments =
      std::make_unique<DeploymentRouter>(*services->store, *services->local_deployments,
                                         std::move(cluster_deployments), no_cluster_reason);
  services->train =
      std::make_unique<TrainService>(*services->tracking, std::move(train), std::move(cluster));
  return services;
}

}  // namespace somlier::cli
