#include "somlier/batch/batch_service.h"

#include <fmt/core.h>

#include "somlier/batch/dag_file.h"
#include "somlier/batch/dag_inputs.h"
#include "somlier/batch/schedule.h"
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
  SOMLIER_RETURN_IF_ERROR(kubernetes::CheckDnsLabel("--namespace", dag.ns));
  if (r.start_date.empty()) {
    dag.start_date = SeoulDate(now_seconds, -1);  // the day before, as the original did
  } else {
    SOMLIER_ASSIGN_OR_RETURN(dag.start_date, ParseDate("--start_date", r.start_date));
  }
  dag.catchup = r.catchup;
  dag.gpu = r.use_gpu;
  if (!r.owner.empty()) dag.owner = r.owner;
  BatchCreated created;
  created.dag_id = r.dag_id;
  SOMLIER_ASSIGN_OR_RETURN(created.source, RenderBatchDag(dag, config_.kubernetes));
  if (r.dry_run) return created;
  std::lock_guard lock(mutex_);
  DagsRepository repository(config_.repository);
  SOMLIER_ASSIGN_OR_RETURN(created.delivery,
                           repository.Deliver(r.dag_id, created.source, r.github_token));
  return created;
}

Result<std::vector<DagEntry>> BatchService::List() {
  DagsRepository repository(config_.repository);
  return repository.List();
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
