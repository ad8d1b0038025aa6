// UseCases: SoMLier's own JSON use cases — the seed's (train, search, register,
// register_v2, deploy) and ours (runs/..., deployments/...) — as one table of path, accepted
// fields and handler. The table is the only list of them: the API server serves a POST
// route per row (with `/online<path>` too where the seed had it), and the CLI calls rows by
// path in-process (cli/use_cases.h) or sends the same JSON to a server, so every door
// answers alike. A field a row does not accept is refused (InvalidArgument: 422) naming it
// and listing the accepted ones; errors answer in SoMLier's dialect (api/error_answers.h).
//
// Requests and answers:
//   /train: {project_name, project_ref, github_uri?, entrypoint?, params?: {NAME: SPEC},
//           env_manager?, max_parallel?, timeout?, use_k8s_job?, use_gpu?, user?}
//           -> {run_id, status, experiment_id, commit, runs: [RunSummary], warnings}
//   /search, /register, /register_v2: api/seed_api.h
//   /runs/list, /runs/show, /runs/logs, /runs/kill: api/train_api.h
//   /deploy, /deployments/list, /deployments/stop, /deployments/logs: api/deploy_api.h
//
// The table is constant; the services must outlive any call.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "somlier/api/fields.h"
#include "somlier/core/result.h"

namespace somlier {
class HttpRoutes;
class TrackingService;
class RegistryService;
class TrainService;
class DeploymentTarget;
class ModelImport;
}  // namespace somlier

namespace somlier::batch {
class BatchService;
}  // namespace somlier::batch
namespace somlier::offline {
class OfflineService;
}  // namespace somlier::offline

namespace somlier::api {

// The services the use cases run on. Tracking and the registry are always there; a use case
// whose other service is absent is not offered (the server has no route for it).
struct UseCaseServices {
  TrackingService* tracking = nullptr;
  RegistryService* registry = nullptr;
  TrainService* train = nullptr;               // /train, /runs/...
  DeploymentTarget* deployments = nullptr;     // /deploy, /deployments/...
  ModelImport* model_import = nullptr;         // /register_v2
  batch::BatchService* batch = nullptr;        // /batch/create, /offline/...
  offline::OfflineService* offline = nullptr;  // /offline/predict
};

struct UseCase {
  std::string_view path;  // "/train"
  bool online_alias;      // also served as /online<path> (the seed's `online` group)
  std::span<const std::string_view> fields;  // the fields it accepts
  bool (*offered)(const UseCaseServices& services);
  Result<nlohmann::json> (*run)(const UseCaseServices& services, const Fields& request);
};

// Every use case, in the order of the table.
std::span<const UseCase> AllUseCases();

// The use case at `path`, or null.
const UseCase* FindUseCase(std::string_view path);

// Runs `use_case` on `request` after checking its fields (first: no service is needed to
// refuse them). Errors: InvalidArgument for an unknown field, FailedPrecondition when its
// service is absent, and the use case's own.
Result<nlohmann::json> RunUseCase(const UseCase& use_case, const UseCaseServices& services,
                                  const Fields& request);

// Serves every offered use case on `server`: POST `path` (and `/online<path>`).
void AddUseCaseRoutes(HttpRoutes& server, const UseCaseServices& services);

}  // namespace somlier::api
