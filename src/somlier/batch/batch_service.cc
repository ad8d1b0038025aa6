#include "somlier/batch/batch_service.h"

#include <fmt/core.h>

#include "somlier/batch/dag_file.h"
#include "somlier/batch/dag_inputs.h"
#include "somlier/batch/schedule.h"
#include "somlier/batch/table_ref.h"
#include "somlier/kubernetes/names.h"

namespace somlier::batch {

Result<BatchCreated> BatchService::Create(const BatchCreateRequest& r, int64_t now_seconds) {
  SOMLIER_RETURN_IF_ERROR(config_.kubernetes_error);
  SOMLIER_RETURN_IF_ERROR(CheckImageReference(r.image));
  SOMLIER_ASSIGN_OR_RETURN(Schedule schedule, ParseSchedule(r.schedule));
  SOMLIER_ASSIGN_OR_RETURN(std::vector<std::string> command, SplitEntrypoint(r.entrypoint));
  SOMLIER_RETURN_IF_ERROR(CheckDagId(r.dag_id));
  BatchDag dag;
  dag.dag_id = r.dag_id;
  dag.schedule = schedule;
  dag.image = r.image;
  dag.command = std::move(command);
  dag.ns = r.ns.empty() ? config_.kubernetes.ns : r.ns;
  dag.catchup = r.catchup;
  dag.gpu = r.use_gpu;
  if (!r.owner.empty()) dag.owner = r.owner;
  return Render(std::move(dag), r.start_date, now_seconds, r.dry_run, r.github_token);
}

namespace {

// What `offline predict` in the pod will accept as its --warehouse, checked now rather than
// failing every night: a URL of a known kind without a password (the DAG file is committed),
// or a warehouse name; and table references that kind of warehouse can hold.
Status CheckWarehouse(const std::string& warehouse, const TableRef& dataset,
                      const TableRef& destination) {
  const size_t scheme = warehouse.find("://");
  if (scheme == std::string::npos) {
    if (warehouse.empty() || warehouse.size() > 64 ||
        warehouse.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789_") != std::string::npos) {
      return InvalidArgument(fmt::format(
          "--warehouse '{}' is not sqlite:///PATH, postgresql://..., bigquery://PROJECT or a "
          "name of letters, digits and '_' (SOMLIER_WAREHOUSE_<NAME> in the pod)",
          warehouse));
    }
    return OkStatus();
  }
  const std::string kind = warehouse.substr(0, scheme);
  const std::string_view rest = std::string_view(warehouse).substr(scheme + 3);
  const size_t at = rest.find('@');
  const bool user_password =
      at != std::string_view::npos && rest.substr(0, at).find(':') != std::string_view::npos;
  if (user_password || rest.find("password=") != std::string_view::npos ||
      warehouse.find_first_of(" \t\r\n") != std::string::npos) {
    return InvalidArgument(
        "--warehouse has a password: the DAG file is committed to git, so name a warehouse the "
        "pod is configured with instead (SOMLIER_WAREHOUSE_<NAME> in its environment)");
  }
  if (kind == "bigquery") {
    for (const TableRef* t : {&dataset, &destination}) {
      if (t->dataset.empty()) {
        return InvalidArgument(
            fmt::format("table '{}' has no dataset: BigQuery's tables are [project.]dataset.table",
                        t->ToString()));
      }
    }
    return OkStatus();
  }
  if (kind != "sqlite" && kind != "postgresql" && kind != "postgres") {
    return InvalidArgument(fmt::format(
        "--warehouse '{}' is not sqlite:///PATH, postgresql://... or bigquery://PROJECT",
        kind + "://..."));
  }
  for (const TableRef* t : {&dataset, &destination}) {
    if (!t->project.empty()) {
      return InvalidArgument(fmt::format(
          "table '{}' names a project: only a bigquery:// warehouse has projects", t->ToString()));
    }
  }
  return OkStatus();
}

}  // namespace

Result<BatchCreated> BatchService::CreateV2(const OfflineCreateRequest& r, int64_t now_seconds) {
  SOMLIER_RETURN_IF_ERROR(config_.kubernetes_error);
  SOMLIER_ASSIGN_OR_RETURN(Schedule schedule, ParseSchedule(r.schedule));
  if (schedule.sub_daily) {
    return InvalidArgument(fmt::format(
        "SCHEDULE_INTERVAL '{}' runs more than once a day: each run predicts one day's rows "
        "(give a daily schedule, e.g. '0 3 * * *' or '@daily')",
        r.schedule));
  }
  SOMLIER_RETURN_IF_ERROR(CheckDagId(r.dag_id));
  SOMLIER_ASSIGN_OR_RETURN(TableRef dataset, ParseTableRef("DATASET_REF", r.dataset_ref, true));
  SOMLIER_ASSIGN_OR_RETURN(TableRef destination,
                           ParseTableRef("DESTINATION_TABLE_REF", r.destination_ref, true));
  SOMLIER_RETURN_IF_ERROR(CheckColumnName("DATASET_LOAD_COLUMN", r.load_column));
  SOMLIER_RETURN_IF_ERROR(CheckNotTemplated("MODEL_REF", r.model_ref));
  if (r.model_ref.empty() || r.model_ref.front() == '-') {
    return InvalidArgument(
        fmt::format("MODEL_REF '{}' is not NAME/VERSION or NAME@ALIAS", r.model_ref));
  }
  if (r.window < 1 || r.window > 366) {
    return InvalidArgument(
        fmt::format("--dataset_load_window {} is not a number of days from 1 to 366", r.window));
  }
  std::string warehouse = r.warehouse;
  if (warehouse.empty()) {
    if (dataset.project.empty()) {
      return InvalidArgument(fmt::format(
          "DATASET_REF '{}' names no project, so there is no default BigQuery warehouse: give "
          "project.dataset.table or --warehouse",
          r.dataset_ref));
    }
    warehouse = "bigquery://" + dataset.project;
  }
  SOMLIER_RETURN_IF_ERROR(CheckNotTemplated("--warehouse", warehouse));
  SOMLIER_RETURN_IF_ERROR(CheckWarehouse(warehouse, dataset, destination));
  if (dataset.ToString() == destination.ToString()) {
    return InvalidArgument(fmt::format(
        "DESTINATION_TABLE_REF '{}' is the input table: predictions go to a table of their own",
        r.destination_ref));
  }
  const kubernetes::KubernetesSettings& k8s = config_.kubernetes;
  if (k8s.image.empty() || k8s.tracking_url.empty()) {
    return FailedPrecondition(
        "offline create_v2 runs `somlier offline predict` in the runtime image against the "
        "SoMLier server: set SOMLIER_K8S_IMAGE and SOMLIER_K8S_TRACKING_URL (the server as pods "
        "reach it)");
  }
  BatchDag dag;
  dag.dag_id = r.dag_id;
  dag.schedule = schedule;
  dag.image = k8s.image;
  dag.command = {"somlier",       "offline",
                 "predict",       r.model_ref,
                 "--dataset",     dataset.ToString(),
                 "--load_column", r.load_column,
                 "--date",        PredictDateTemplate(r.by_kst),
                 "--window",      std::to_string(r.window),
                 "--destination", destination.ToString(),
                 "--warehouse",   warehouse};
  dag.ns = r.ns.empty() ? k8s.ns : r.ns;
  dag.made_by = "somlier offline create_v2";
  dag.description = fmt::format("daily batch inference of {} over {} into {}", r.model_ref,
                                dataset.ToString(), destination.ToString());
  dag.tag = "offline";
  dag.env = {{"SOMLIER_SERVER", k8s.tracking_url}};
  dag.token_secret = k8s.token_secret;
  if (!r.owner.empty()) dag.owner = r.owner;
  return Render(std::move(dag), r.start_date, now_seconds, r.dry_run, r.github_token);
}

Result<BatchCreated> BatchService::Render(BatchDag dag, const std::string& start_date,
                                          int64_t now_seconds, bool dry_run,
                                          const std::string& github_token) {
  SOMLIER_RETURN_IF_ERROR(kubernetes::CheckDnsLabel("--namespace", dag.ns));
  if (start_date.empty()) {
    dag.start_date = SeoulDate(now_seconds, -1);  // the day before, as the original did
  } else {
    SOMLIER_ASSIGN_OR_RETURN(dag.start_date, ParseDate("--start_date", start_date));
  }
  BatchCreated created;
  created.dag_id = dag.dag_id;
  SOMLIER_ASSIGN_OR_RETURN(created.source, RenderBatchDag(dag, config_.kubernetes));
  if (dry_run) return created;
  std::lock_guard lock(mutex_);
  DagsRepository repository(config_.repository);
  SOMLIER_ASSIGN_OR_RETURN(created.delivery,
                           repository.Deliver(dag.dag_id, created.source, github_token));
  return created;
}

Result<BatchService::DagList> BatchService::List(const std::string& github_token) {
  DagsRepository repository(config_.repository);
  DagList list;
  SOMLIER_ASSIGN_OR_RETURN(std::vector<DagEntry> dags, repository.List(github_token));
  list.airflow_configured = !config_.airflow.url.empty();
  for (DagEntry& dag : dags) {
    ListedDag& listed = list.dags.emplace_back();
    listed.entry = std::move(dag);
    if (!list.airflow_configured || !list.airflow_error.empty()) continue;
    auto look = LookUpDag(config_.airflow, listed.entry.dag_id, listed.entry.dag_id + ".py");
    if (look.ok()) {
      listed.airflow = std::move(*look);
    } else {
      list.airflow_error = look.status().message();  // said once; the rest are not asked
    }
  }
  return list;
}

Result<BatchService::DagCheck> BatchService::Check(const std::string& dag_id, bool unpause) {
  SOMLIER_RETURN_IF_ERROR(CheckDagId(dag_id));
  DagCheck check;
  SOMLIER_ASSIGN_OR_RETURN(check.dag, LookUpDag(config_.airflow, dag_id, dag_id + ".py"));
  if (unpause && check.dag.known && check.dag.paused && check.dag.import_error.empty()) {
    SOMLIER_RETURN_IF_ERROR(UnpauseDag(config_.airflow, dag_id));
    check.dag.paused = false;
    check.unpaused = true;
  }
  return check;
}

}  // namespace somlier::batch
