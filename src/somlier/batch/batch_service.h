// BatchService: the seed's `batch create` (also spelled `offline create`) — an Airflow DAG
// that runs a docker image's ENTRYPOINT on a schedule in a Kubernetes pod
// (batch/dag_file.h), checked (batch/dag_inputs.h, batch/schedule.h), rendered, and
// delivered to the DAGs repository (batch/dags_repository.h) — or, as a dry run, only
// rendered and answered. Thread-safe (deliveries take turns).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "somlier/batch/airflow.h"
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

  // The DAGs in the repository.
  Result<std::vector<DagEntry>> List();

  // One look at what Airflow knows of DAG `dag_id` (batch/airflow.h); with `unpause`, a DAG
  // Airflow knows and holds paused is unpaused. Errors: InvalidArgument for a DAG id; those of
  // LookUpDag and UnpauseDag.
  struct DagCheck {
    AirflowDag dag;
    bool unpaused = false;
  };
  Result<DagCheck> Check(const std::string& dag_id, bool unpause);

 private:
  BatchServiceConfig config_;
  std::mutex mutex_;  // one delivery at a time
};

}  // namespace somlier::batch
