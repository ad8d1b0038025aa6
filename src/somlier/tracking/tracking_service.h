// TrackingService: experiments, runs and their metrics, params, tags, dataset inputs and
// artifacts, with MLflow's semantics — the one place the CLI, the seed REST endpoints and
// the MLflow REST API go through for tracking.
//
// It validates requests (tracking/validation.h), parses MLflow search strings
// (tracking/search_syntax.h) and page tokens, assigns artifact locations
// (`mlflow-artifacts:/<experiment_id>` for experiments, `<location>/<run_id>/artifacts` for
// runs, stored by the ArtifactStore), and keeps MLflow's default experiment "0". Store and
// ArtifactStore are borrowed and must outlive the service. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "somlier/artifacts/artifact_store.h"
#include "somlier/core/result.h"
#include "somlier/store/store.h"
#include "somlier/tracking/paging.h"
#include "somlier/tracking/run_lifecycle.h"
#include "somlier/tracking/search_syntax.h"

namespace somlier {

struct CreateRunRequest {
  std::string experiment_id;          // empty: the default experiment "0"
  std::string user_id;                // empty: the mlflow.user tag, if any
  std::string run_name;               // empty: the mlflow.runName tag, else a generated name
  std::optional<int64_t> start_time;  // empty: now
  std::vector<Tag> tags;
  RunStatus status = RunStatus::kRunning;
  RunSource source;           // where the code came from, for runs started by `train`
  std::vector<Param> params;  // logged with the run (distinct keys)
  std::string executor;       // the process that will execute it (execution/process_identity.h)
};

struct RunUpdateRequest {
  std::optional<RunStatus> status;
  std::optional<int64_t> end_time;
  std::optional<std::string> run_name;
};

// One row of the seed's `search`: a run and its value of the metric searched by.
struct RankedRun {
  Run run;
  double metric_value = 0;
};

class TrackingService {
 public:
  TrackingService(Store& store, ArtifactStore& artifacts)
      : store_(store), artifacts_(artifacts), lifecycle_(store, artifacts, *this) {}

  // The runs SoMLier executes: their transitions, logs and kills.
  RunLifecycle& lifecycle() { return lifecycle_; }
  ArtifactStore& artifacts() { return artifacts_; }

  // Creates MLflow's default experiment (id 0, "Default") when missing.
  Status EnsureDefaultExperiment();

  // ---- Experiments ----
  Result<int64_t> CreateExperiment(const std::string& name, const std::string& artifact_location,
                                   const std::vector<Tag>& tags);
  Result<Experiment> GetExperiment(int64_t experiment_id);
  Result<Experiment> GetExperimentByName(const std::string& name);
  // The active experiment of this name, created when missing (for projects' runs).
  Result<Experiment> GetOrCreateExperiment(const std::string& name);
  Result<Page<Experiment>> SearchExperiments(const SearchRequest& request);
  Status RenameExperiment(int64_t experiment_id, const std::string& new_name);
  Status DeleteExperiment(int64_t experiment_id);   // and its runs
  Status RestoreExperiment(int64_t experiment_id);  // and its runs
  Status SetExperimentTag(int64_t experiment_id, const Tag& tag);
  Status DeleteExperimentTag(int64_t experiment_id, const std::string& key);

  // ---- Runs ----
  Result<Run> CreateRun(const CreateRunRequest& request);
  Result<Run> GetRun(const std::string& run_id);
  // A run that SoMLier executes (train) ends when its process ends: while it is SCHEDULED or
  // RUNNING with an executor, clients' status and end time changes are not applied (its
  // transitions are the RunLifecycle's).
  Result<RunInfo> UpdateRun(const std::string& run_id, const RunUpdateRequest& request);
  Status DeleteRun(const std::string& run_id);
  Status RestoreRun(const std::string& run_id);
  // The runs carry their dataset inputs only `with_inputs` (MLflow's runs/search); then a
  // page whose runs' datasets pass kMaxRunSearchInputChars ends early (at least one run),
  // with a next_page_token for the rest.
  Result<Page<Run>> SearchRuns(const std::vector<int64_t>& experiment_ids,
                               const SearchRequest& request, bool with_inputs = false);
  // Validated against MLflow's limits; all or nothing.
  Status LogBatch(const std::string& run_id, const std::vector<Metric>& metrics,
                  const std::vector<Param>& params, const std::vector<Tag>& tags);
  Status DeleteTag(const std::string& run_id, const std::string& key);
  // MLflow's log-inputs: validated against MLflow's limits (ValidateDatasetInputs); all or
  // nothing; the rules of Store::LogInputs (a dataset the run already has is not added
  // again). The run must exist (NotFound) and not be deleted (FailedPrecondition).
  Status LogInputs(const std::string& run_id, const std::vector<DatasetInput>& inputs);
  Result<std::vector<Metric>> GetMetricHistory(const std::string& run_id, const std::string& key);
  // Records a logged model (MLmodel as JSON) in the run's `mlflow.log-model.history` tag.
  Status LogModel(const std::string& run_id, const std::string& model_json);

  // ---- Run artifacts ----
  // The run's artifact directory as a path relative to the artifact store's root.
  Result<std::string> RunArtifactDirectory(const RunInfo& info);
  // Entries of `path` inside the run's artifacts, named relative to the run's artifact
  // directory (as MLflow's artifacts/list answers).
  Result<std::vector<ArtifactFile>> ListRunArtifacts(const std::string& run_id,
                                                     const std::string& path);

  // ---- The seed's `search` ----
  // The `top` best active runs of the project's experiment by `metric`, `order` being ASC
  // or DESC in any case. Errors as the seed's tool: an unknown project or a project without
  // runs is NotFound; a bad order, or a metric no run has, is InvalidArgument.
  Result<std::vector<RankedRun>> BestRuns(const std::string& project_name,
                                          const std::string& metric, const std::string& order,
                                          int64_t top);

 private:
  Status RequireActiveRun(const std::string& run_id);

  Store& store_;
  ArtifactStore& artifacts_;
  RunLifecycle lifecycle_;
};

}  // namespace somlier
