// Store: SoMLier's durable state — experiments, runs with their params, metrics, tags and
// dataset inputs, the model registry, and deployments — on SQLite (embedded default) or
// PostgreSQL (a team's shared server), chosen by the database URL.
//
// Both backends run the same SQL (store/database.h abstracts the engine), so there is
// one implementation of every rule here:
//   * Each method is one transaction: when it returns OK the change is committed; when
//     it fails nothing of it is written.
//   * Params are write-once: logging the same value again is fine, another value is
//     InvalidArgument and the whole batch is rejected.
//   * Metrics keep their full history and, per (run, key), the latest value (highest
//     step, then timestamp; a later write wins a tie). New points are appended to a log
//     (cheap to write: few pages per commit however many series are logging) that a
//     background thread of the Store moves into the series-ordered history when logging
//     pauses, or in chunks once the log passes 50,000 batches (CompactMetrics). Reads
//     see both, so this shows only in speed: ingest at full rate, history reads that also
//     scan the not-yet-compacted points. The latest values are indexed by
//     (experiment, key, value), so "best run of an experiment by metric K" is an index
//     lookup (SearchRuns with an existence filter and order on K).
//   * Model version numbers are allocated per registered model from a counter updated in
//     the same transaction as the insert, so concurrent registrations never collide and
//     numbers are never reused.
//   * The schema is versioned; Open() applies pending migrations (store/migrations.h).
//
// Errors: NotFound names the missing id or name; AlreadyExists names the duplicate;
// InvalidArgument names the bad value; FailedPrecondition for writes to deleted runs or
// experiments; Unavailable when the database is unreachable or stays busy.
//
// Thread-safe: any number of threads may call any method concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/database.h"
#include "somlier/store/entities.h"
#include "somlier/store/group_commit.h"
#include "somlier/store/query.h"

namespace somlier {

// Fields of a run to change; unset fields keep their value.
struct RunUpdate {
  std::optional<RunStatus> status;
  std::optional<int64_t> start_time;
  std::optional<int64_t> end_time;
  std::optional<std::string> run_name;
  std::optional<int> exit_code;
  std::optional<std::string> status_message;
  std::optional<std::string> executor;
  std::optional<int64_t> pid;
  // When not empty, the update applies only while the run's status is one of these, else
  // FailedPrecondition naming the status it has (a compare-and-set for executors).
  std::vector<RunStatus> only_from;
};

// What RegisterRunModel did.
struct RunRegistration {
  ModelVersion version;
  bool created = false;  // false: the run was already registered under this name
};

class Store {
 public:
  // Opens the database named by `url` (see Database::Open) and migrates its schema.
  static Result<std::unique_ptr<Store>> Open(std::string_view url);

  explicit Store(std::unique_ptr<Database> db);
  ~Store();

  Dialect dialect() const { return db_->dialect(); }

  // ---- Experiments -------------------------------------------------------------------
  // `artifact_location` may contain "{experiment_id}", replaced by the new id.
  Result<int64_t> CreateExperiment(const std::string& name, const std::string& artifact_location,
                                   const std::vector<Tag>& tags = {});
  // Creates the experiment with this id and name unless an experiment with this id exists
  // (for MLflow's "Default" experiment 0).
  Status EnsureExperiment(int64_t experiment_id, const std::string& name,
                          const std::string& artifact_location);
  Result<Experiment> GetExperiment(int64_t experiment_id);
  Result<Experiment> GetExperimentByName(const std::string& name);
  Result<std::vector<Experiment>> SearchExperiments(const ExperimentQuery& query);
  Status RenameExperiment(int64_t experiment_id, const std::string& new_name);
  // Deleting an experiment deletes its runs; restoring it restores them.
  Status SetExperimentLifecycle(int64_t experiment_id, LifecycleStage stage);
  Status SetExperimentTag(int64_t experiment_id, const Tag& tag);
  Status DeleteExperimentTag(int64_t experiment_id, const std::string& key);

  // ---- Runs --------------------------------------------------------------------------
  // `info.run_id` must be a new valid run id; the experiment must exist and be active.
  // The run's name is mirrored in its `mlflow.runName` tag (as MLflow does), here and
  // whenever the name or that tag changes.
  // The run with its tags and params, in one transaction.
  Status CreateRun(const RunInfo& info, const std::vector<Tag>& tags = {},
                   const std::vector<Param>& params = {});
  Result<Run> GetRun(const std::string& run_id);
  Status UpdateRun(const std::string& run_id, const RunUpdate& update);
  Status SetRunLifecycle(const std::string& run_id, LifecycleStage stage);
  // When the first order is on a metric, param or tag that no filter requires, runs having
  // it are read in index order first and the others after, so "best by metric" stays an
  // index walk even though runs without the metric are part of the result. With
  // query.with_inputs the runs carry their dataset inputs, each dataset read once and shared
  // by the runs that used it; `cut_short` (when given) is set when query.max_input_chars
  // left runs out: the runs returned are then the first of the result, and the next page
  // starts after them.
  Result<std::vector<Run>> SearchRuns(const RunQuery& query, bool* cut_short = nullptr);
  // The runs an executor holds (executor not empty), whatever their status: SCHEDULED or
  // RUNNING ones, and ended ones whose executor has not yet seen the end.
  Result<std::vector<RunInfo>> ListHeldRuns();
  // All or nothing. Tags overwrite; params are write-once (see the file comment).
  // Concurrent calls are committed together (store/group_commit.h); each returns once its
  // own batch is committed.
  Status LogBatch(const std::string& run_id, const std::vector<Metric>& metrics,
                  const std::vector<Param>& params, const std::vector<Tag>& tags);
  Status DeleteRunTag(const std::string& run_id, const std::string& key);
  // Records that the run used these datasets, as MLflow's log-inputs does, all or nothing:
  // a dataset is the run's experiment's (name, digest) — created by its first logging,
  // whose source, schema and profile stand — and a run uses it once: a (name, digest) the
  // run already has, or that comes twice in `inputs`, is skipped with its tags (the first
  // stands). The run must exist and not be deleted (a finished run is fine); its row is
  // locked first, so concurrent calls for one run follow each other and a deletion cannot
  // come between the check and the inputs. Errors: InvalidArgument for a missing dataset,
  // an empty name, digest, source_type or source, or an empty tag key.
  Status LogInputs(const std::string& run_id, const std::vector<DatasetInput>& inputs);
  // Moves about `max_points` of the oldest logged metric points (whole logged batches) into
  // the series-ordered history table; returns how many it moved. Runs on the Store's own
  // thread too.
  Result<int64_t> CompactMetrics(int64_t max_points = 100000);
  // How many logged batches wait for compaction.
  Result<int64_t> MetricLogBacklog();
  // Ordered by step, then timestamp, then value; a point logged twice is returned once.
  Result<std::vector<Metric>> GetMetricHistory(const std::string& run_id, const std::string& key,
                                               int64_t max_results = 1000000, int64_t offset = 0);

  // ---- Registered models -------------------------------------------------------------
  Result<RegisteredModel> CreateRegisteredModel(const std::string& name,
                                                const std::string& description,
                                                const std::vector<Tag>& tags = {});
  Result<RegisteredModel> GetRegisteredModel(const std::string& name);
  // Versions, tags and aliases follow the model to its new name.
  Result<RegisteredModel> RenameRegisteredModel(const std::string& name,
                                                const std::string& new_name);
  Result<RegisteredModel> UpdateRegisteredModel(const std::string& name,
                                                const std::string& description);
  Status DeleteRegisteredModel(const std::string& name);  // with its versions
  Result<std::vector<RegisteredModel>> SearchRegisteredModels(const RegisteredModelQuery& query);
  Status SetRegisteredModelTag(const std::string& name, const Tag& tag);
  // Deleting a tag or alias that is not there is fine (as in MLflow); the model must exist.
  Status DeleteRegisteredModelTag(const std::string& name, const std::string& key);
  Status SetModelAlias(const std::string& name, const std::string& alias, int64_t version);
  Status DeleteModelAlias(const std::string& name, const std::string& alias);
  Result<ModelVersion> GetModelVersionByAlias(const std::string& name, const std::string& alias);

  // ---- Model versions ----------------------------------------------------------------
  // Allocates the next version number of `request.name` (which must exist); other fields
  // of `request` are stored as given, with times set to now.
  Result<ModelVersion> CreateModelVersion(const ModelVersion& request);
  // In one transaction: creates the registered model `request.name` if missing, and returns
  // the existing version with the same run id and source if there is one, else a new version.
  Result<RunRegistration> RegisterRunModel(const ModelVersion& request);
  Result<ModelVersion> GetModelVersion(const std::string& name, int64_t version);
  Result<ModelVersion> UpdateModelVersion(const std::string& name, int64_t version,
                                          const std::string& description);
  // `stage` in any case; with `archive_existing`, other versions in that stage move to
  // Archived in the same transaction.
  Result<ModelVersion> TransitionModelVersionStage(const std::string& name, int64_t version,
                                                   const std::string& stage, bool archive_existing);
  Status DeleteModelVersion(const std::string& name, int64_t version);  // and its aliases
  Result<std::vector<ModelVersion>> SearchModelVersions(const ModelVersionQuery& query);
  // The highest version in each of `stages` (all stages when empty).
  Result<std::vector<ModelVersion>> GetLatestVersions(const std::string& name,
                                                      const std::vector<std::string>& stages);
  Status SetModelVersionTag(const std::string& name, int64_t version, const Tag& tag);
  // A missing tag is fine; the version must exist.
  Status DeleteModelVersionTag(const std::string& name, int64_t version, const std::string& key);

  // ---- Deployments -------------------------------------------------------------------
  Status PutDeployment(const Deployment& deployment);  // insert, or replace by name
  Result<Deployment> GetDeployment(const std::string& name);
  Result<std::vector<Deployment>> ListDeployments();  // by name
  Status DeleteDeployment(const std::string& name);

  // The schema version the database is at (after Open: the latest this binary knows).
  Result<int64_t> SchemaVersion();

 private:
  void CompactInBackground();

  std::unique_ptr<Database> db_;
  std::unique_ptr<GroupCommit> log_batches_;
  std::mutex compactor_mu_;
  std::condition_variable compactor_cv_;
  bool stopping_ = false;
  std::atomic<int64_t> last_log_batch_ms_{0};
  std::thread compactor_;
};

}  // namespace somlier
