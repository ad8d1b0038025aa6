// BatchService: the seed's `batch create` (also spelled `offline create`) — an Airflow DAG
// that runs a docker image's ENTRYPOINT on a schedule in a Kubernetes pod — and its
// `offline create_v2` — a DAG whose pod runs `somlier offline predict` of a registered model
// over each day's rows of a warehouse table, in the runtime image, against the SoMLier server
// (batch/dag_file.h); checked (batch/dag_inputs.h, batch/schedule.h, batch/table_ref.h),
// rendered, and delivered to the DAGs repository (batch/dags_repository.h) — or, as a dry
// run, only rendered and answered. That the model exists is the caller's check (this layer
// has no registry). Thread-safe (deliveries take turns).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "somlier/batch/airflow.h"
#include "somlier/batch/dag_file.h"
#include "somlier/batch/dags_repository.h"
#include "somlier/core/result.h"
#include "somlier/kubernetes/kube_settings.h"

namespace somlier::batch {

struct BatchServiceConfig {
  kubernetes::KubernetesSettings kubernetes;  // the pods' namespace, resources, GPUs
  Status kubernetes_error;  // why the settings could not be read (then Create refuses)
  DagsRepositoryConfig repository;
  AirflowConfig airflow;
};

struct BatchCreateRequest {
  std::string image;
  std::string schedule;
  std::string entrypoint;  // split as a shell would, nothing run or expanded
  std::string dag_id;
  std::string ns;          // empty: the settings' namespace
  std::string start_date;  // YYYY-MM-DD; empty: yesterday in Asia/Seoul
  bool catchup = false;
  bool use_gpu = false;
  bool dry_run = false;
  std::string owner;         // who asked; empty: "somlier"
  std::string github_token;  // empty: push to the default branch; else a pull request
};

struct OfflineCreateRequest {
  std::string model_ref;  // NAME/VERSION or NAME@ALIAS, known to exist
  std::string dag_id;
  std::string schedule;  // at most daily
  std::string dataset_ref;
  std::string load_column;
  std::string destination_ref;
  std::string start_date;  // YYYY-MM-DD; empty: yesterday in Asia/Seoul
  int window = 1;
  bool by_kst = true;
  std::string warehouse;  // a URL without credentials or a name; empty: bigquery://PROJECT
  std::string ns;
  bool dry_run = false;
  std::string owner;
  std::string github_token;
};

struct BatchCreated {
  std::string dag_id;
  std::string source;                // the DAG file
  std::optional<Delivery> delivery;  // none for a dry run
};

class BatchService {
 public:
  explicit BatchService(BatchServiceConfig config) : config_(std::move(config)) {}

  // Errors: InvalidArgument naming the bad value (image, schedule and its field, entrypoint,
  // DAG id, namespace, start date); those of DagsRepository::Deliver.
  Result<BatchCreated> Create(const BatchCreateRequest& request, int64_t now_seconds);

  // Errors: InvalidArgument naming the bad value (schedule, also one that runs more than once
  // a day; table references, column, window, warehouse, DAG id, namespace, start date);
  // FailedPrecondition when the Kubernetes settings lack the runtime image or the tracking URL
  // pods reach; those of DagsRepository::Deliver.
  Result<BatchCreated> CreateV2(const OfflineCreateRequest& request, int64_t now_seconds);

  // The DAGs SoMLier wrote in the repository and, when Airflow is configured, what it knows of
  // each (a failing Airflow is reported in `airflow_error`, not as the list's failure).
  struct ListedDag {
    DagEntry entry;
    std::optional<AirflowDag> airflow;
  };
  struct DagList {
    std::vector<ListedDag> dags;
    bool airflow_configured = false;
    std::string airflow_error;
  };
  Result<DagList> List(const std::string& github_token = "");

  // One look at what Airflow knows of DAG `dag_id` (batch/airflow.h); with `unpause`, a DAG
  // Airflow knows and holds paused is unpaused. Errors: InvalidArgument for a DAG id; those of
  // LookUpDag and UnpauseDag.
  struct DagCheck {
    AirflowDag dag;
    bool unpaused = false;
  };
  Result<DagCheck> Check(const std::string& dag_id, bool unpause);

 private:
  Result<BatchCreated> Render(BatchDag dag, const std::string& start_date, int64_t now_seconds,
                              bool dry_run, const std::string& github_token);

  BatchServiceConfig config_;
  std::mutex mutex_;  // one delivery at a time
};

}  // namespace somlier::batch
