#include "somlier/api/batch_api.h"

#include "somlier/batch/batch_service.h"
#include "somlier/core/time.h"
#include "somlier/offline/offline_service.h"
#include "somlier/registry/registry_service.h"

namespace somlier::api {

using nlohmann::json;

namespace {
json CreatedAnswer(const batch::BatchCreated& created, bool dry_run) {
  json answer = {{"dag_id", created.dag_id}, {"dry_run", dry_run}, {"dag", created.source}};
  if (created.delivery) {
    answer["repository"] = created.delivery->repository;
    answer["branch"] = created.delivery->branch;
    answer["commit"] = created.delivery->commit;
    answer["path"] = created.delivery->path;
    if (!created.delivery->pull_request_url.empty()) {
      answer["pull_request_url"] = created.delivery->pull_request_url;
      answer["resumed"] = created.delivery->resumed;
    }
  }
  return answer;
}
}  // namespace

Result<json> BatchCreate(batch::BatchService& batch, const Fields& request) {
  batch::BatchCreateRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.image, request.RequiredString("docker_image"));
  SOMLIER_ASSIGN_OR_RETURN(r.schedule, request.RequiredString("schedule"));
  SOMLIER_ASSIGN_OR_RETURN(r.entrypoint, request.RequiredString("entrypoint"));
  SOMLIER_ASSIGN_OR_RETURN(r.dag_id, request.RequiredString("dag_id"));
  SOMLIER_ASSIGN_OR_RETURN(r.ns, request.String("namespace"));
  SOMLIER_ASSIGN_OR_RETURN(r.start_date, request.String("start_date"));
  SOMLIER_ASSIGN_OR_RETURN(auto catchup, request.Bool("catchup"));
  SOMLIER_ASSIGN_OR_RETURN(auto gpu, request.Bool("use_gpu"));
  SOMLIER_ASSIGN_OR_RETURN(auto dry_run, request.Bool("dry_run"));
  SOMLIER_ASSIGN_OR_RETURN(r.owner, request.String("user"));
  SOMLIER_ASSIGN_OR_RETURN(r.github_token, request.String("github_personal_access_token"));
  r.catchup = catchup.value_or(false);
  r.use_gpu = gpu.value_or(false);
  r.dry_run = dry_run.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(batch::BatchCreated created, batch.Create(r, NowMillis() / 1000));
  return CreatedAnswer(created, r.dry_run);
}

Result<json> OfflineCreateV2(batch::BatchService& batch, RegistryService& registry,
                             const Fields& request) {
  batch::OfflineCreateRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.model_ref, request.RequiredString("model_ref"));
  SOMLIER_ASSIGN_OR_RETURN(r.dag_id, request.RequiredString("dag_id"));
  SOMLIER_ASSIGN_OR_RETURN(r.schedule, request.RequiredString("schedule_interval"));
  SOMLIER_ASSIGN_OR_RETURN(r.dataset_ref, request.RequiredString("dataset_ref"));
  SOMLIER_ASSIGN_OR_RETURN(r.load_column, request.RequiredString("dataset_load_column"));
  SOMLIER_ASSIGN_OR_RETURN(r.destination_ref, request.RequiredString("destination_table_ref"));
  SOMLIER_ASSIGN_OR_RETURN(r.start_date, request.String("start_date"));
  SOMLIER_ASSIGN_OR_RETURN(auto window, request.Int("dataset_load_window"));
  SOMLIER_ASSIGN_OR_RETURN(auto by_kst, request.Bool("dataset_load_by_kst"));
  SOMLIER_ASSIGN_OR_RETURN(r.warehouse, request.String("warehouse"));
  SOMLIER_ASSIGN_OR_RETURN(r.ns, request.String("namespace"));
  SOMLIER_ASSIGN_OR_RETURN(auto dry_run, request.Bool("dry_run"));
  SOMLIER_ASSIGN_OR_RETURN(r.owner, request.String("user"));
  SOMLIER_ASSIGN_OR_RETURN(r.github_token, request.String("github_personal_access_token"));
  if (window) {
    if (*window < 1 || *window > 366) {
      return InvalidArgument(
          fmt::format("'dataset_load_window' {} is not a number of days from 1 to 366", *window));
    }
    r.window = static_cast<int>(*window);
  }
  r.by_kst = by_kst.value_or(true);
  r.dry_run = dry_run.value_or(false);
  // The model must exist: a DAG that fails every night is worse than an error now.
  SOMLIER_ASSIGN_OR_RETURN(std::string uri, offline::ModelRefUri(r.model_ref));
  if (r.model_ref.starts_with("models:/")) {
    return InvalidArgument(
        fmt::format("MODEL_REF '{}' is not NAME/VERSION or NAME@ALIAS", r.model_ref));
  }
  SOMLIER_RETURN_IF_ERROR(registry.LocateModel(uri).status());
  SOMLIER_ASSIGN_OR_RETURN(batch::BatchCreated created, batch.CreateV2(r, NowMillis() / 1000));
  return CreatedAnswer(created, r.dry_run);
}

Result<json> OfflineList(batch::BatchService& batch, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string token, request.String("github_personal_access_token"));
  SOMLIER_ASSIGN_OR_RETURN(batch::BatchService::DagList listed, batch.List(token));
  json dags = json::array();
  for (const auto& [entry, airflow] : listed.dags) {
    json dag = {{"dag_id", entry.dag_id}, {"path", entry.path}, {"made_by", entry.made_by}};
    if (airflow) {
      dag["airflow"] = {
          {"known", airflow->known}, {"active", airflow->active}, {"paused", airflow->paused}};
      if (!airflow->import_error.empty()) dag["airflow"]["import_error"] = airflow->import_error;
    }
    dags.push_back(std::move(dag));
  }
  json answer = {{"dags", std::move(dags)}, {"airflow_configured", listed.airflow_configured}};
  if (!listed.airflow_error.empty()) answer["airflow_error"] = listed.airflow_error;
  return answer;
}

Result<json> OfflineCheck(batch::BatchService& batch, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string dag_id, request.RequiredString("dag_id"));
  SOMLIER_ASSIGN_OR_RETURN(auto unpause, request.Bool("unpause"));
  SOMLIER_ASSIGN_OR_RETURN(batch::BatchService::DagCheck check,
                           batch.Check(dag_id, unpause.value_or(false)));
  json answer = {{"dag_id", dag_id},
                 {"known", check.dag.known},
                 {"active", check.dag.active},
                 {"paused", check.dag.paused},
                 {"unpaused", check.unpaused}};
  if (!check.dag.import_error.empty()) answer["import_error"] = check.dag.import_error;
  return answer;
}

Result<json> OfflinePredict(offline::OfflineService& offline, const Fields& request) {
  offline::OfflinePredictRequest r;
  SOMLIER_ASSIGN_OR_RETURN(std::string model_ref, request.RequiredString("model_ref"));
  SOMLIER_ASSIGN_OR_RETURN(std::string dataset, request.RequiredString("dataset"));
  SOMLIER_ASSIGN_OR_RETURN(r.load_column, request.RequiredString("load_column"));
  SOMLIER_ASSIGN_OR_RETURN(std::string date, request.RequiredString("date"));
  SOMLIER_ASSIGN_OR_RETURN(std::string destination, request.RequiredString("destination"));
  SOMLIER_ASSIGN_OR_RETURN(std::string warehouse, request.String("warehouse"));
  SOMLIER_ASSIGN_OR_RETURN(auto window, request.Int("window"));
  SOMLIER_ASSIGN_OR_RETURN(auto by_kst, request.Bool("by_kst"));
  SOMLIER_ASSIGN_OR_RETURN(r.dataset, batch::ParseTableRef("dataset", dataset, true));
  SOMLIER_ASSIGN_OR_RETURN(r.destination, batch::ParseTableRef("destination", destination, true));
  SOMLIER_ASSIGN_OR_RETURN(r.date, offline::RunDate(date, by_kst.value_or(false)));
  if (window) {
    if (*window < 1 || *window > 366) {
      return InvalidArgument(
          fmt::format("'window' {} is not a number of days from 1 to 366", *window));
    }
    r.window = static_cast<int>(*window);
  }
  SOMLIER_ASSIGN_OR_RETURN(offline::OfflinePredictResult result,
                           offline.Predict(model_ref, r, warehouse, false, false, nullptr));
  return offline::OfflinePredictJson(result, r, warehouse.empty() ? "default" : warehouse);
}

}  // namespace somlier::api
