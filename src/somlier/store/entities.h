// Entities: the records the Store keeps, shaped after MLflow's tracking and registry
// model (experiments, runs with params/metrics/tags and dataset inputs, registered models
// and versions), plus SoMLier's deployments.
//
// Plain value types. Times are milliseconds since the Unix epoch. Enumerations have one
// spelling each (ToString / Parse*), which is what the database and the APIs store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace somlier {

enum class LifecycleStage { kActive, kDeleted };
std::string_view ToString(LifecycleStage stage);  // "active" | "deleted"
std::optional<LifecycleStage> ParseLifecycleStage(std::string_view text);

// Which entities a search sees, by lifecycle stage.
enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

enum class RunStatus { kScheduled, kRunning, kFinished, kFailed, kKilled };
std::string_view ToString(RunStatus status);  // "SCHEDULED" | "RUNNING" | ...
std::optional<RunStatus> ParseRunStatus(std::string_view text);
bool IsTerminal(RunStatus status);  // FINISHED, FAILED or KILLED

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

struct Experiment {
  int64_t experiment_id = 0;
  std::string name;
  std::string artifact_location;
  LifecycleStage lifecycle_stage = LifecycleStage::kActive;
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
  std::vector<Tag> tags;
};

// Where a run's code came from (empty fields when it was not started from a project).
struct RunSource {
  std::string git_uri;
  std::string git_ref;
  std::string git_commit;  // the commit the ref resolved to
  std::string project_path;
  std::string entrypoint;
  bool operator==(const RunSource&) const = default;
};

struct RunInfo {
  std::string run_id;  // 32 lowercase hex
  int64_t experiment_id = 0;
  std::string run_name;
  RunStatus status = RunStatus::kRunning;
  std::optional<int64_t> start_time;
  std::optional<int64_t> end_time;
  std::string user_id;
  std::string artifact_uri;
  LifecycleStage lifecycle_stage = LifecycleStage::kActive;
  RunSource source;
  std::optional<int> exit_code;  // of the run's process, when it had one
  std::string status_message;    // why a run failed or was killed
  // The SoMLier process executing the run ("host:pid:start-ticks"), and the run's own
  // process id (also its process group), while a local executor runs it.
  std::string executor;
  std::optional<int64_t> pid;
};

struct Metric {
  std::string key;
  double value = 0;  // may be NaN or +-infinity
  int64_t timestamp = 0;
  int64_t step = 0;
};

struct Param {
  std::string key;
  std::string value;
  bool operator==(const Param&) const = default;
};

// A dataset as MLflow records it (service.proto's Dataset): one per (experiment, name,
// digest). Name, digest, source_type and source are required; schema and profile may be
// empty. The first logging of a (name, digest) in an experiment decides the other fields.
struct Dataset {
  std::string name;
  std::string digest;       // a hash of the dataset's content
  std::string source_type;  // e.g. "local", "http", "delta_table"
  std::string source;       // JSON describing where the data came from
  std::string schema;       // JSON, may be empty
  std::string profile;      // JSON, may be empty
  bool operator==(const Dataset&) const = default;
};

// The input tag naming what a run used a dataset for ("training", "eval", ...).
inline constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

// A dataset a run used, with the input's tags (e.g. mlflow.data.context).
//
// The dataset is shared, never null: the Store reads each dataset once per read, and every
// run of that read that used it points to the one copy (a schema may be 1 MiB and a profile
// 16 MiB, and one dataset may be used by thousands of runs). Equal when the datasets'
// fields and the tags are.
struct DatasetInput {
  std::shared_ptr<const Dataset> dataset;
  std::vector<Tag> tags;  // sorted by key when read from the Store

  DatasetInput() = default;
  DatasetInput(Dataset d, std::vector<Tag> t)
      : dataset(std::make_shared<const Dataset>(std::move(d))), tags(std::move(t)) {}
  DatasetInput(std::shared_ptr<const Dataset> d, std::vector<Tag> t)
      : dataset(std::move(d)), tags(std::move(t)) {}

  friend bool operator==(const DatasetInput& a, const DatasetInput& b) {
    const bool same_dataset =
        a.dataset == b.dataset || (a.dataset && b.dataset && *a.dataset == *b.dataset);
    return same_dataset && a.tags == b.tags;
  }
};

struct Run {
  RunInfo info;
  std::vector<Metric> metrics;  // the latest value of each key, sorted by key
  std::vector<Param> params;    // sorted by key
  std::vector<Tag> tags;        // sorted by key
  // In the order they were first logged. Filled by GetRun, and by SearchRuns only when
  // asked (RunQuery::with_inputs).
  std::vector<DatasetInput> inputs;
};

struct ModelAlias {
  std::string alias;
  int64_t version = 0;
  bool operator==(const ModelAlias&) const = default;
};

// MLflow's model version stages and statuses, spelled as MLflow does.
inline constexpr std::string_view kStageNone = "None";
inline constexpr std::string_view kStageStaging = "Staging";
inline constexpr std::string_view kStageProduction = "Production";
inline constexpr std::string_view kStageArchived = "Archived";
// Canonical spelling of a stage name given in any case, or nullopt when unknown.
std::optional<std::string> CanonicalStage(std::string_view stage);

struct ModelVersion {
  std::string name;
  int64_t version = 0;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
  std::string description;
  std::string user_id;
  std::string current_stage = std::string(kStageNone);
  std::string source;  // e.g. runs:/<run_id>/model
  std::string run_id;
  std::string run_link;
  std::string status = "READY";  // READY | PENDING_REGISTRATION | FAILED_REGISTRATION
  std::string status_message;
  std::vector<Tag> tags;
  std::vector<std::string> aliases;
};

struct RegisteredModel {
  std::string name;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
  std::string description;
  std::vector<Tag> tags;
  std::vector<ModelAlias> aliases;
  // The highest version in each stage. Filled by the registry service, not the Store.
  std::vector<ModelVersion> latest_versions;
};

// Where a deployment runs (serving/deployment_target.h).
enum class DeploymentTargetKind { kLocal, kKubernetes };
std::string_view ToString(DeploymentTargetKind target);  // "local" | "kubernetes"
std::optional<DeploymentTargetKind> ParseDeploymentTargetKind(std::string_view text);

// A deployment's state; the transitions are documented in serving/deployment_target.h.
enum class DeploymentStatus { kStarting, kRunning, kStopped, kFailed };
std::string_view ToString(DeploymentStatus status);  // "STARTING" | "RUNNING" | ...
std::optional<DeploymentStatus> ParseDeploymentStatus(std::string_view text);

struct Deployment {
  std::string name;
  std::string model_name;
  std::string model_version;
  DeploymentTargetKind target = DeploymentTargetKind::kLocal;
  std::string url;
  DeploymentStatus status = DeploymentStatus::kStarting;
  std::optional<int64_t> pid;
  std::string message;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
};

}  // namespace somlier
