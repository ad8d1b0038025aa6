#include "somlier/cli/local_services.h"

#include "somlier/core/url.h"

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
  services->deployments =
      std::make_unique<LocalDeployments>(*services->store, *services->registry, std::move(deploy));
  services->model_import = std::make_unique<ModelImport>(
      *services->tracking, *services->registry,
      ModelImportConfig{settings.home, settings.python, env, std::move(options.model_sources)});
  TrainServiceConfig train;
  train.home = settings.home;
  train.env = env;
  train.python = settings.python;
  train.default_project_uri = settings.default_project_uri;
  services->train = std::make_unique<TrainService>(*services->tracking, std::move(train));
  return services;
}

}  // namespace somlier::cli
