// Fuzz target: the JSON requests of SoMLier's own use cases (api/use_cases.h): POST /train,
// /search, /register, /runs/{list,show,logs} and /deploy, /deployments/{list,stop,logs},
// each through the use-case table with its unknown-field check.
//
// The run and deployment handlers need services; they get real ones over an empty SQLite
// store in a scratch directory, made once per process, so every request that passes
// validation ends in NotFound (no model version, run or deployment exists) and nothing is
// ever started. A train request that parses is expanded into its parameter grid, as the
// train service does next.
#include <memory>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "somlier/api/fields.h"
#include "somlier/api/train_api.h"
#include "somlier/api/use_cases.h"
#include "somlier/artifacts/artifact_store.h"
#include "somlier/core/param_grid.h"
#include "somlier/registry/registry_service.h"
#include "somlier/serving/local_deployments.h"
#include "somlier/store/store.h"
#include "somlier/tracking/tracking_service.h"

namespace {

struct Services {
  std::unique_ptr<somlier::Store> store;
  std::unique_ptr<somlier::ArtifactStore> artifacts;
  std::unique_ptr<somlier::TrackingService> tracking;
  std::unique_ptr<somlier::RegistryService> registry;
  std::unique_ptr<somlier::LocalDeployments> deployments;
};

Services& GetServices() {
  static Services* services = [] {
    const std::filesystem::path dir = somlier::fuzz::ScratchDir::Path();
    auto* s = new Services;
    auto store = somlier::Store::Open("sqlite:///" + (dir / "fuzz.db").string());
    FUZZ_CHECK(store.ok(), store.status().ToString());
    s->store = std::move(*store);
    auto artifacts = somlier::ArtifactStore::Open(dir / "artifacts");
    FUZZ_CHECK(artifacts.ok(), artifacts.status().ToString());
    s->artifacts = std::move(*artifacts);
    s->tracking = std::make_unique<somlier::TrackingService>(*s->store, *s->artifacts);
    s->registry = std::make_unique<somlier::RegistryService>(*s->store, *s->tracking);
    somlier::LocalDeploymentsConfig config;
    config.home = dir;
    config.somlier_binary = "/nonexistent/somlier";  // never run: no version exists
    s->deployments =
        std::make_unique<somlier::LocalDeployments>(*s->store, *s->registry, std::move(config));
    return s;
  }();
  return *services;
}

// A deployment request that passed validation can only fail for want of the model version.
void CheckNothingDeployed(const somlier::Result<nlohmann::json>& answer) {
  FUZZ_CHECK(!answer.ok(), "a deployment succeeded against an empty store: " + answer->dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = somlier::fuzz::AsText(data, size);

  auto fields = somlier::api::Fields::FromJsonBody(text, somlier::api::FieldDialect::kSomlier);
  if (!fields.ok()) return 0;
  auto train = somlier::api::TrainRequestFromFields(*fields);
  if (train.ok()) {
    FUZZ_CHECK(!train->project_name.empty() && !train->project_ref.empty(),
               "a train request without project_name or project_ref was accepted");
    FUZZ_CHECK(train->max_parallel >= 0, "negative max_parallel");
    auto grid = somlier::ExpandParamGrid(train->params);
    if (grid.ok()) FUZZ_CHECK(grid->size() <= 1000, "a grid above the default limit");
  }

  Services& s = GetServices();
  const somlier::api::UseCaseServices services{.tracking = s.tracking.get(),
                                               .registry = s.registry.get(),
                                               .deployments = s.deployments.get()};
  for (const somlier::api::UseCase& use_case : somlier::api::AllUseCases()) {
    if (!use_case.offered(services)) continue;  // train and register_v2 would run things
    auto answer = somlier::api::RunUseCase(use_case, services, *fields);
    if (use_case.path == "/deploy" || use_case.path == "/deployments/stop" ||
        use_case.path == "/deployments/logs") {
      CheckNothingDeployed(answer);
    } else if (use_case.path == "/deployments/list" && answer.ok()) {
      FUZZ_CHECK((*answer)["deployments"].empty(), "deployments listed in an empty store");
    } else if (use_case.path == "/runs/show" || use_case.path == "/runs/logs") {
      FUZZ_CHECK(!answer.ok(), std::string("an answer from nothing: ") + answer->dump());
    }
  }
  return 0;
}
