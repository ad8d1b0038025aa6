// LocalServices: SoMLier's services wired in-process over the configured database and
// artifact root — what CLI commands use when no SOMLIER_SERVER is set, and what
// `somlier server` serves (its train service runs the grids of both). Owns everything it
// opens; not copyable.
#pragma once

#include <memory>

#include "somlier/api/use_cases.h"
#include "somlier/artifacts/artifact_store.h"
#include "somlier/artifacts/fetch_policy.h"
#include "somlier/batch/batch_service.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/offline/offline_service.h"
#include "somlier/registry/model_import.h"
#include "somlier/registry/registry_service.h"
#include "somlier/serving/deployment_router.h"
#include "somlier/serving/local_deployments.h"
#include "somlier/store/store.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/training/train_service.h"

namespace somlier::cli {

struct LocalServicesOptions {
  // What register_v2 may fetch: anything for the user's own commands; a server restricts the
  // URIs its callers send (artifacts/fetch_policy.h).
  FetchPolicy model_sources = FetchPolicy::AnySource();
  // A server: when Kubernetes is configured (kubernetes/kube_settings.h), grids run there
  // by default. In-process commands execute on this machine only (pods could not reach
  // their loopback tracking server).
  bool server = false;
};

struct LocalServices {
  std::unique_ptr<Store> store;
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<TrackingService> tracking;
  std::unique_ptr<RegistryService> registry;
  std::unique_ptr<LocalDeployments> local_deployments;
  std::unique_ptr<DeploymentRouter> deployments;  // this machine's and, on a server, Kubernetes'
  std::unique_ptr<ModelImport> model_import;
  std::unique_ptr<batch::BatchService> batch;
  std::unique_ptr<offline::OfflineService> offline;
  std::unique_ptr<TrainService> train;  // last: destroyed first (it kills its runs)

  // Opens (and migrates) the database and the artifact root, and makes sure MLflow's
  // default experiment exists. Runs inherit `env`.
  static Result<std::unique_ptr<LocalServices>> Open(const Settings& settings,
                                                     const Environment& env,
                                                     LocalServicesOptions options = {});

  // All of them, for the use-case table (api/use_cases.h).
  api::UseCaseServices UseCases() const {
    return {tracking.get(),     registry.get(), train.get(),  deployments.get(),
            model_import.get(), batch.get(),    offline.get()};
  }
};

}  // namespace somlier::cli
