// TrainApi: the seed's `train` and SoMLier's `runs` commands as JSON request -> JSON
// response, exactly as POST /train and POST /runs/{list,show,logs,kill} answer them.
//
// One implementation for three doors, like api/seed_api.h: the REST endpoints
// (api/train_routes.cc), the in-process CLI and the CLI against a remote server.
//
//   train: {project_name, project_ref, github_uri?, entrypoint?, params?: {NAME: SPEC},
//           env_manager?, max_parallel?, timeout?, use_k8s_job?, use_gpu?}
//          -> {run_id, status, experiment_id, commit, runs: [RunSummary], warnings: [..]}
//          (run_id and status are the grid's first run, as the seed answered)
//   runs/list: {project_name, max_results?} -> {experiment_id, runs: [RunSummary]}, newest first
//   runs/show: {run_id} -> RunSummary plus {user_id, artifact_uri, source, tags}
//   runs/logs: {run_id, offset?} -> {run_id, status, offset, text, ended}: the output from
//              `offset` on in whole lines; `ended` once the run has ended and all is read
//   runs/kill: {run_id, wait?} -> RunSummary of the killed run (once it has ended, unless
//              wait is false)
//
// RunSummary: {run_id, run_name, status, start_time?, end_time?, exit_code?,
// status_message?, params: {..}, metrics: {..}} (latest metric values).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/training/train_service.h"

namespace somlier {
class TrackingService;
}  // namespace somlier

namespace somlier::api {

// The request of POST /train; params keep the order they have in the body.
Result<TrainRequest> TrainRequestFromJson(std::string_view body);

// The answer to a train request that made `job`.
Result<nlohmann::json> TrainAnswer(TrackingService& tracking, const TrainJob& job);

Result<nlohmann::json> RunsList(TrackingService& tracking, const nlohmann::json& request);
Result<nlohmann::json> RunsShow(TrackingService& tracking, const nlohmann::json& request);
Result<nlohmann::json> RunsLogs(TrackingService& tracking, const nlohmann::json& request);
Result<nlohmann::json> RunsKill(TrainService& train, TrackingService& tracking,
                                const nlohmann::json& request);

}  // namespace somlier::api
