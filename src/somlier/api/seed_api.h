// SeedApi: the seed's `search` and `register` use cases as JSON request -> JSON response,
// exactly as POST /search and POST /register answer them.
//
// One implementation serves three doors: the REST endpoints (api/seed_routes.cc), the
// in-process CLI, and the CLI against a remote server (which receives the same JSON over
// HTTP) — so all three print and answer the same thing.
//
//   search:   {project_name, standard_metric, order_by[, top]}
//             -> {run_id, metric_value[, runs: [{run_id, run_name, status, metric_value,
//                params: {..}}]]}      (metric_value as a string, as the seed's tool wrote it)
//   register: {run_id, model_name} -> {model_version, is_newer_version, message}
//   register_v2: {model_type, uri (or gcs_uri), model_name[, github_uri, project_name,
//                project_ref, model_module_path, model_class_name]} -> as register
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/core/result.h"

namespace somlier {
class TrackingService;
class RegistryService;
class ModelImport;
}  // namespace somlier

namespace somlier::api {

Result<nlohmann::json> SeedSearch(TrackingService& tracking, const nlohmann::json& request);
Result<nlohmann::json> SeedRegister(RegistryService& registry, const nlohmann::json& request);
Result<nlohmann::json> SeedRegisterV2(ModelImport& model_import, const nlohmann::json& request);

}  // namespace somlier::api
