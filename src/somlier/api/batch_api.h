// BatchApi: the seed's `batch create` (`offline create`) and `offline list` as request
// fields -> JSON response: rows of the use-case table (api/use_cases.h). Internal to
// src/somlier/api.
//
//   batch/create: {docker_image, schedule, entrypoint, dag_id, namespace?, start_date?,
//                  catchup?, use_gpu?, dry_run?, user?, github_personal_access_token?}
//                 -> {dag_id, dry_run, dag: the DAG file's source, and unless a dry run
//                     repository, branch, commit, path; with a token pull_request_url and
//                     resumed (the branch was pushed before)}
//   offline/create_v2: {model_ref, dag_id, schedule_interval, dataset_ref,
//                  dataset_load_column, destination_table_ref, start_date?,
//                  dataset_load_window?, dataset_load_by_kst?, warehouse?, namespace?, dry_run?,
//                  user?, github_personal_access_token?} -> as batch/create; the model must be
//                  in the registry
//   offline/list: {github_personal_access_token?} -> {dags: [{dag_id, path, made_by, airflow?:
//                  {known, active, paused, import_error?}}], airflow_configured,
//                  airflow_error?}: the DAGs SoMLier wrote, with Airflow's view of each
//   offline/check: {dag_id, unpause?} -> {dag_id, known, active, paused, unpaused,
//                  import_error?}: one look at what Airflow knows of the DAG
//   offline/predict: {model_ref, dataset, load_column, date, window?, by_kst?, destination,
//                  warehouse?: a configured name} -> {rows, selected_date, seconds,
//                  rows_per_second, prediction_columns, destination, warehouse, model_name,
//                  model_version}: offline/offline_service.h, run before answering
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/api/fields.h"
#include "somlier/core/result.h"

namespace somlier::batch {
class BatchService;
}
namespace somlier::offline {
class OfflineService;
}
namespace somlier {
class RegistryService;
}

namespace somlier::api {

Result<nlohmann::json> BatchCreate(batch::BatchService& batch, const Fields& request);
Result<nlohmann::json> OfflineCreateV2(batch::BatchService& batch, RegistryService& registry,
                                       const Fields& request);
Result<nlohmann::json> OfflineList(batch::BatchService& batch, const Fields& request);
Result<nlohmann::json> OfflineCheck(batch::BatchService& batch, const Fields& request);
Result<nlohmann::json> OfflinePredict(offline::OfflineService& offline, const Fields& request);

}  // namespace somlier::api
