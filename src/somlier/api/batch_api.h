// BatchApi: the seed's `batch create` (`offline create`) and `offline list` as request
// fields -> JSON response: rows of the use-case table (api/use_cases.h). Internal to
// src/somlier/api.
//
//   batch/create: {docker_image, schedule, entrypoint, dag_id, namespace?, start_date?,
//                  catchup?, use_gpu?, dry_run?, user?}
//                 -> {dag_id, dry_run, dag: the DAG file's source, and unless a dry run
//                     repository, branch, commit, path}
//   offline/list: {} -> {repository, dags: [{dag_id, path}]}
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

}  // namespace somlier::api
