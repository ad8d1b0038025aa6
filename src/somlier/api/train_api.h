// TrainApi: the seed's `train` and SoMLier's `runs` commands as request fields -> JSON
// response: rows of the use-case table (api/use_cases.h), exactly as POST /train and POST
// /runs/{list,show,logs,kill} answer them. The CLI's in-process `train` also reads its
// request with TrainRequestFromFields and answers with TrainAnswer, following the runs
// itself.
//
//   train: {project_name, project_ref, github_uri?, entrypoint?, params?: {NAME: SPEC},
//           env_manager?, max_parallel?, timeout?, use_k8s_job?, use_gpu?, user?, dry_run?}
//          -> {run_id, status, experiment_id, commit, executor, runs: [RunSummary],
//              warnings: [..]}
//          (run_id and status are the grid's first run, as the seed answered; executor
//          "local" or "kubernetes": where the runs execute)
//          dry_run: true -> {dry_run: true, executor, commit, runs: [..]}: each run as the
//          executor would start it (a Job manifest; a command), nothing created
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

#include "somlier/api/fields.h"
#include "somlier/core/result.h"
#include "somlier/training/train_service.h"

namespace somlier {
class TrackingService;
}  // namespace somlier

namespace somlier::api {

// The fields a train request accepts.
inline constexpr std::string_view kTrainFields[] = {
    "project_name", "project_ref", "github_uri",  "entrypoint", "params", "env_manager",
    "max_parallel", "timeout",     "use_k8s_job", "use_gpu",    "user",   "dry_run"};

// The request of POST /train; params keep the order they have in the body. Errors:
// InvalidArgument for an unknown field (listing kTrainFields) or a bad value.
Result<TrainRequest> TrainRequestFromFields(const Fields& request);

// The answer to a train request that made `job`.
Result<nlohmann::json> TrainAnswer(TrackingService& tracking, const TrainJob& job);
// The answer to a dry run.
nlohmann::json DryRunAnswer(const TrainService::Preview& preview);

Result<nlohmann::json> RunsList(TrackingService& tracking, const Fields& request);
Result<nlohmann::json> RunsShow(TrackingService& tracking, const Fields& request);
Result<nlohmann::json> RunsLogs(TrackingService& tracking, const Fields& request);
Result<nlohmann::json> RunsKill(TrackingService& tracking, const Fields& request);

}  // namespace somlier::api
