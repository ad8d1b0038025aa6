// SeedApi: the seed's `search`, `register` and `register_v2` use cases as request fields ->
// JSON response: rows of the use-case table (api/use_cases.h), which serves them to the REST
// endpoints and the CLI alike and checks the fields they accept. Internal to src/somlier/api.
//
//   search:   {project_name, standard_metric, order_by[, top]}
//             -> {run_id, metric_value[, runs: [{run_id, run_name, status, metric_value,
//                params: {..}}]]}      (metric_value as a string, as the seed's tool wrote it)
//   register: {run_id, model_name} -> {model_version, is_newer_version, message}
//   register_v2: {model_type, uri (or gcs_uri), model_name[, github_uri, project_name,
//                project_ref, model_module_path, model_class_name]} -> as register
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/api/fields.h"
#include "somlier/core/result.h"

namespace somlier {
class TrackingService;
class RegistryService;
class ModelImport;
}  // namespace somlier

namespace somlier::api {

Result<nlohmann::json> SeedSearch(TrackingService& tracking, const Fields& request);
Result<nlohmann::json> SeedRegister(RegistryService& registry, const Fields& request);
Result<nlohmann::json> SeedRegisterV2(ModelImport& model_import, const Fields& request);

}  // namespace somlier::api
