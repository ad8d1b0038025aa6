#include "somlier/api/use_cases.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <string>

#include "somlier/api/batch_api.h"
#include "somlier/api/deploy_api.h"
#include "somlier/api/error_answers.h"
#include "somlier/api/http_util.h"
#include "somlier/api/seed_api.h"
#include "somlier/api/train_api.h"
#include "somlier/core/log.h"
#include "somlier/net/http_routes.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/training/train_service.h"

namespace somlier::api {
namespace {

using nlohmann::json;
using Services = UseCaseServices;

constexpr std::string_view kSearchFields[] = {"project_name", "standard_metric", "order_by", "top"};
constexpr std::string_view kRegisterFields[] = {"run_id", "model_name"};
constexpr std::string_view kRegisterV2Fields[] = {
    "model_type",   "uri",         "gcs_uri",           "model_name",      "github_uri",
    "project_name", "project_ref", "model_module_path", "model_class_name"};
constexpr std::string_view kRunsListFields[] = {"project_name", "max_results"};
constexpr std::string_view kRunIdFields[] = {"run_id"};
constexpr std::string_view kRunsLogsFields[] = {"run_id", "offset"};
constexpr std::string_view kRunsKillFields[] = {"run_id", "wait"};
constexpr std::string_view kDeployFields[] = {
    "project_name", "model_name", "model_version", "use_k8s_job",  "istio_enabled",  "workers",
    "use_gpu",      "replicas",   "min_replicas",  "max_replicas", "canary_percent", "dry_run"};
constexpr std::string_view kBatchCreateFields[] = {"docker_image",
                                                   "schedule",
                                                   "entrypoint",
                                                   "dag_id",
                                                   "namespace",
                                                   "start_date",
                                                   "catchup",
                                                   "use_gpu",
                                                   "dry_run",
                                                   "user",
                                                   "github_personal_access_token"};
constexpr std::string_view kOfflineCheckFields[] = {"dag_id", "unpause"};
constexpr std::string_view kOfflineListFields[] = {"github_personal_access_token"};
constexpr std::string_view kOfflineCreateV2Fields[] = {"model_ref",
                                                       "dag_id",
                                                       "schedule_interval",
                                                       "dataset_ref",
                                                       "dataset_load_column",
                                                       "destination_table_ref",
                                                       "start_date",
                                                       "dataset_load_window",
                                                       "dataset_load_by_kst",
                                                       "warehouse",
                                                       "namespace",
                                                       "dry_run",
                                                       "user",
                                                       "github_personal_access_token"};
constexpr std::string_view kOfflinePredictFields[] = {
    "model_ref", "dataset", "load_column", "date", "window", "by_kst", "destination", "warehouse"};
constexpr std::span<const std::string_view> kNoFields;
constexpr std::string_view kNameFields[] = {"name"};
constexpr std::string_view kDeploymentLogsFields[] = {"name", "tail"};

bool Always(const Services&) { return true; }
bool WithTrain(const Services& s) { return s.train != nullptr; }
bool WithDeployments(const Services& s) { return s.deployments != nullptr; }
bool WithModelImport(const Services& s) { return s.model_import != nullptr; }
bool WithBatch(const Services& s) { return s.batch != nullptr; }
bool WithOffline(const Services& s) { return s.offline != nullptr; }

Result<json> Train(const Services& s, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(TrainRequest train, TrainRequestFromFields(request));
  if (train.dry_run) {
    SOMLIER_ASSIGN_OR_RETURN(TrainService::Preview preview, s.train->DryRun(train));
    return DryRunAnswer(preview);
  }
  SOMLIER_ASSIGN_OR_RETURN(std::shared_ptr<TrainJob> job, s.train->Submit(train));
  LogInfo("train: {} run(s) of {} at {} ({}) in experiment {} on {}", job->runs().size(),
          train.project_name, train.project_ref, job->commit().substr(0, 12), job->experiment_id(),
          job->executor());
  return TrainAnswer(*s.tracking, *job);
}

// clang-format off
const UseCase kUseCases[] = {
    {"/train", true, kTrainFields, WithTrain, Train},
    {"/search", true, kSearchFields, Always,
     [](const Services& s, const Fields& f) { return SeedSearch(*s.tracking, f); }},
    {"/register", true, kRegisterFields, Always,
     [](const Services& s, const Fields& f) { return SeedRegister(*s.registry, f); }},
    {"/register_v2", true, kRegisterV2Fields, WithModelImport,
     [](const Services& s, const Fields& f) { return SeedRegisterV2(*s.model_import, f); }},
    {"/runs/list", false, kRunsListFields, WithTrain,
     [](const Services& s, const Fields& f) { return RunsList(*s.tracking, f); }},
    {"/runs/show", false, kRunIdFields, WithTrain,
     [](const Services& s, const Fields& f) { return RunsShow(*s.tracking, f); }},
    {"/runs/logs", false, kRunsLogsFields, WithTrain,
     [](const Services& s, const Fields& f) { return RunsLogs(*s.tracking, f); }},
    {"/runs/kill", false, kRunsKillFields, WithTrain,
     [](const Services& s, const Fields& f) { return RunsKill(*s.tracking, f); }},
    {"/deploy", true, kDeployFields, WithDeployments,
     [](const Services& s, const Fields& f) { return SeedDeploy(*s.deployments, f); }},
    {"/deployments/list", false, kNoFields, WithDeployments,
     [](const Services& s, const Fields& f) { return DeploymentsList(*s.deployments, f); }},
    {"/deployments/stop", false, kNameFields, WithDeployments,
     [](const Services& s, const Fields& f) { return DeploymentsStop(*s.deployments, f); }},
    {"/deployments/logs", false, kDeploymentLogsFields, WithDeployments,
     [](const Services& s, const Fields& f) { return DeploymentsLogs(*s.deployments, f); }},
    {"/deployments/promote", false, kNameFields, WithDeployments,
     [](const Services& s, const Fields& f) { return DeploymentsPromote(*s.deployments, f); }},
    {"/deployments/rollback", false, kNameFields, WithDeployments,
     [](const Services& s, const Fields& f) { return DeploymentsRollback(*s.deployments, f); }},
    {"/batch/create", false, kBatchCreateFields, WithBatch,
     [](const Services& s, const Fields& f) { return BatchCreate(*s.batch, f); }},
    {"/offline/create", false, kBatchCreateFields, WithBatch,
     [](const Services& s, const Fields& f) { return BatchCreate(*s.batch, f); }},
    {"/offline/create_v2", false, kOfflineCreateV2Fields, WithBatch,
     [](const Services& s, const Fields& f) {
       return OfflineCreateV2(*s.batch, *s.registry, f);
     }},
    {"/offline/list", false, kOfflineListFields, WithBatch,
     [](const Services& s, const Fields& f) { return OfflineList(*s.batch, f); }},
    {"/offline/check", false, kOfflineCheckFields, WithBatch,
     [](const Services& s, const Fields& f) { return OfflineCheck(*s.batch, f); }},
    {"/offline/predict", false, kOfflinePredictFields, WithOffline,
     [](const Services& s, const Fields& f) { return OfflinePredict(*s.offline, f); }},
};
// clang-format on

}  // namespace

std::span<const UseCase> AllUseCases() { return kUseCases; }

const UseCase* FindUseCase(std::string_view path) {
  for (const UseCase& use_case : kUseCases) {
    if (use_case.path == path) return &use_case;
  }
  return nullptr;
}

Result<json> RunUseCase(const UseCase& use_case, const UseCaseServices& services,
                        const Fields& request) {
  SOMLIER_RETURN_IF_ERROR(request.OnlyKnown(use_case.fields));
  if (!use_case.offered(services)) {
    return FailedPrecondition(fmt::format("{} is not offered here", use_case.path));
  }
  return use_case.run(services, request);
}

void AddUseCaseRoutes(HttpRoutes& server, const UseCaseServices& services) {
  for (const UseCase& use_case : kUseCases) {
    if (!use_case.offered(services)) continue;
    auto handler = [&use_case, services](const httplib::Request& request,
                                         httplib::Response& response) {
      Result<json> answer = [&]() -> Result<json> {
        SOMLIER_ASSIGN_OR_RETURN(Fields fields,
                                 Fields::FromJsonBody(request.body, FieldDialect::kSomlier));
        return RunUseCase(use_case, services, fields);
      }();
      if (!answer.ok()) return SendSeedError(response, answer.status());
      SendJson(response, *answer);
    };
    const std::string path(use_case.path);
    server.Post(RegexEscape(path), handler);
    if (use_case.online_alias) server.Post(RegexEscape("/online" + path), handler);
  }
}

}  // namespace somlier::api
