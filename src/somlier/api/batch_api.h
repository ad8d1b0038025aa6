// BatchApi: the seed's `batch create` (`offline create`) and `offline list` as request
// fields -> JSON response: rows of the use-case table (api/use_cases.h). Internal to
// src/somlier/api.
//
//   batch/create: {docker_image, schedule, entrypoint, dag_id, namespace?, start_date?,
//                  catchup?, use_gpu?, dry_run?, user?, github_personal_access_token?}
//                 -> {dag_id, dry_run, dag: the DAG file's source, and unless a dry run
//                     repository, branch, commit, path; with a token pull_request_url and
//                     resumed (the branch was pushed before)}
//   offline/list: {} -> {dags: [{dag_id, path}]}
//   offline/check: {dag_id, unpause?} -> {dag_id, known, active, paused, unpaused,
//                  import_error?}: one look at what Airflow knows of the DAG
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/api/fields.h"
#include "somlier/core/result.h"

namespace somlier::batch {
class BatchService;
}

namespace somlier::api {

Result<nlohmann::json> BatchCreate(batch::BatchService& batch, const Fields& request);
Result<nlohmann::json> OfflineList(batch::BatchService& batch, const Fields& request);
Result<nlohmann::json> OfflineCheck(batch::BatchService& batch, const Fields& request);

}  // namespace somlier::api
