// Store: opening, experiments, deployments, and the helpers of store_internal.h.
// Runs are in store_runs.cc, the model registry in store_registry.cc.
#include "somlier/store/store.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/store/migrations.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::Exec;
using store_internal::Values;

namespace store_internal {

std::string Placeholders(size_t n) {
  std::string out;
  out.reserve(n * 3);
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

std::string RunColumns(std::string_view alias) {
  static constexpr std::string_view kColumns[] = {"run_uuid",
                                                  "experiment_id",
                                                  "name",
                                                  "status",
                                                  "start_time",
                                                  "end_time",
                                                  "user_id",
                                                  "artifact_uri",
                                                  "lifecycle_stage",
                                                  "source_git_uri",
                                                  "source_git_ref",
                                                  "source_git_commit",
                                                  "source_project_path",
                                                  "source_entrypoint",
                                                  "exit_code",
                                                  "status_message",
                                                  "executor",
                                                  "pid"};
  std::string out;
  for (std::string_view column : kColumns) {
    if (!out.empty()) out += ", ";
    if (!alias.empty()) {
      out += alias;
      out += '.';
    }
    out += column;
  }
  return out;
}

Status UnknownInDatabase(std::string_view what, const std::string& id, std::string_view field,
                         const std::string& value) {
  return Internal(fmt::format(
      "{} '{}' has the {} '{}' in the database, which this version of SoMLier does not know "
      "(was the database written by a newer version?)",
      what, id, field, value));
}

Result<RunInfo> RunInfoFromRow(const SqlRow& row) {
  RunInfo info;
  info.run_id = AsText(row[0]);
  info.experiment_id = AsInt(row[1]);
  info.run_name = AsText(row[2]);
  const std::optional<RunStatus> status = ParseRunStatus(AsText(row[3]));
  if (!status) return UnknownInDatabase("run", info.run_id, "status", AsText(row[3]));
  info.status = *status;
  if (!IsNull(row[4])) info.start_time = AsInt(row[4]);
  if (!IsNull(row[5])) info.end_time = AsInt(row[5]);
  info.user_id = AsText(row[6]);
  info.artifact_uri = AsText(row[7]);
  const std::optional<LifecycleStage> stage = ParseLifecycleStage(AsText(row[8]));
  if (!stage) return UnknownInDatabase("run", info.run_id, "lifecycle stage", AsText(row[8]));
  info.lifecycle_stage = *stage;
  info.source.git_uri = AsText(row[9]);
  info.source.git_ref = AsText(row[10]);
  info.source.git_commit = AsText(row[11]);
  info.source.project_path = AsText(row[12]);
  info.source.entrypoint = AsText(row[13]);
  if (!IsNull(row[14])) info.exit_code = static_cast<int>(AsInt(row[14]));
  info.status_message = AsText(row[15]);
  info.executor = AsText(row[16]);
  if (!IsNull(row[17])) info.pid = AsInt(row[17]);
  return info;
}

std::vector<Tag> TagsFromRows(const std::vector<SqlRow>& rows, size_t key_column) {
  std::vector<Tag> tags;
  tags.reserve(rows.size());
  for (const SqlRow& row : rows) {
    tags.push_back({AsText(row[key_column]), AsText(row[key_column + 1])});
  }
  return tags;
}

Status LoadRunData(Connection& c, std::vector<somlier::Run>& runs) {
  if (runs.empty()) return OkStatus();
  std::map<std::string, somlier::Run*> by_id;
  Values ids;
  for (auto& run : runs) {
    by_id[run.info.run_id] = &run;
    ids.emplace_back(run.info.run_id);
  }
  const std::string in = "(" + Placeholders(ids.size()) + ")";
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult metrics,
      Exec(c,
           "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics "
           "WHERE run_uuid IN " +
               in + " ORDER BY run_uuid, key",
           ids));
  for (const SqlRow& row : metrics.rows) {
    Metric m;
    m.key = AsText(row[1]);
    m.value = AsInt(row[3]) ? std::nan("") : AsDouble(row[2]);
    m.timestamp = AsInt(row[4]);
    m.step = AsInt(row[5]);
    by_id[AsText(row[0])]->metrics.push_back(std::move(m));
  }
  SOMLIER_ASSIGN_OR_RETURN(QueryResult params,
                           Exec(c,
                                "SELECT run_uuid, key, value FROM params WHERE run_uuid IN " + in +
                                    " ORDER BY run_uuid, key",
                                ids));
  for (const SqlRow& row : params.rows) {
    by_id[AsText(row[0])]->params.push_back({AsText(row[1]), AsText(row[2])});
  }
  SOMLIER_ASSIGN_OR_RETURN(QueryResult tags,
                           Exec(c,
                                "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN " + in +
                                    " ORDER BY run_uuid, key",
                                ids));
  for (const SqlRow& row : tags.rows) {
    by_id[AsText(row[0])]->tags.push_back({AsText(row[1]), AsText(row[2])});
  }
  return OkStatus();
}

Result<int64_t> CheckRun(Connection& c, const std::string& run_id, bool require_active) {
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult found,
      Exec(c, "SELECT experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?", {run_id}));
  if (found.rows.empty()) return NotFound(fmt::format("run '{}' does not exist", run_id));
  if (require_active && AsText(found.rows[0][1]) != "active") {
    return FailedPrecondition(
        fmt::format("run '{}' is deleted; restore it before changing it", run_id));
  }
  return AsInt(found.rows[0][0]);
}

}  // namespace store_internal

Store::Store(std::unique_ptr<Database> db)
    : db_(std::move(db)), log_batches_(std::make_unique<GroupCommit>(*db_)) {
  compactor_ = std::thread([this] { CompactInBackground(); });
}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lock(compactor_mu_);
    stopping_ = true;
  }
  compactor_cv_.notify_all();
  compactor_.join();
}

void Store::CompactInBackground() {
  // Compaction competes with ingest for the one writer, so it waits for a pause in
  // logging; it only runs during a long burst when the log has grown big enough to slow
  // history reads, and then in chunks, so ingest keeps going in between.
  constexpr int64_t kChunk = 100000;      // points per compaction transaction
  constexpr int64_t kMaxBacklog = 50000;  // logged batches (~5M points of 100 each)
  constexpr int64_t kQuietMillis = 1000;
  std::unique_lock<std::mutex> lock(compactor_mu_);
  while (!stopping_) {
    compactor_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    while (true) {
      auto backlog = MetricLogBacklog();
      if (!backlog.ok() || *backlog == 0) break;
      const bool quiet = NowMillis() - last_log_batch_ms_.load() >= kQuietMillis;
      if (!quiet && *backlog < kMaxBacklog) break;
      auto moved = CompactMetrics(kChunk);
      if (!moved.ok()) {
        LogWarning("compacting metric history: {}", moved.status().ToString());
        break;
      }
      std::lock_guard<std::mutex> check(compactor_mu_);
      if (stopping_) break;
    }
    lock.lock();
  }
}

Result<int64_t> Store::MetricLogBacklog() {
  int64_t backlog = 0;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, "SELECT MIN(seq), MAX(seq) FROM metric_log"));
    if (!r.rows.empty() && !IsNull(r.rows[0][0])) {
      backlog = AsInt(r.rows[0][1]) - AsInt(r.rows[0][0]) + 1;
    }
    return OkStatus();
  }));
  return backlog;
}

Result<std::unique_ptr<Store>> Store::Open(std::string_view url) {
  SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(url));
  SOMLIER_RETURN_IF_ERROR(Migrate(*db));
  return std::make_unique<Store>(std::move(db));
}

Result<int64_t> Store::SchemaVersion() {
  int64_t version = 0;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, "SELECT MAX(version) FROM somlier_schema"));
    version = r.rows.empty() ? 0 : AsInt(r.rows[0][0]);
    return OkStatus();
  }));
  return version;
}

// ---- Experiments -----------------------------------------------------------------------

namespace {

constexpr store_internal::AttributeColumn kExperimentAttributes[] = {
    {"experiment_id", "experiment_id", true},
    {"name", "name", false},
    {"creation_time", "creation_time", true},
    {"last_update_time", "last_update_time", true},
};

constexpr store_internal::EntityTable kExperimentTable = {
    "experiments e",
    "e",
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "
    "e.last_update_time",
    kExperimentAttributes,
    "experiment_tags",
    "t.experiment_id = e.experiment_id",
    "e.creation_time DESC",
    "e.experiment_id ASC",
};

Result<Experiment> ExperimentFromRow(const SqlRow& row) {
  Experiment e;
  e.experiment_id = AsInt(row[0]);
  e.name = AsText(row[1]);
  e.artifact_location = AsText(row[2]);
  const std::optional<LifecycleStage> stage = ParseLifecycleStage(AsText(row[3]));
  if (!stage) {
    return store_internal::UnknownInDatabase("experiment", std::to_string(e.experiment_id),
                                             "lifecycle stage", AsText(row[3]));
  }
  e.lifecycle_stage = *stage;
  e.creation_time = AsInt(row[4]);
  e.last_update_time = AsInt(row[5]);
  return e;
}

Status LoadExperimentTags(Connection& c, std::vector<Experiment>& experiments) {
  for (Experiment& e : experiments) {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult tags,
        Exec(c, "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key",
             {e.experiment_id}));
    e.tags = store_internal::TagsFromRows(tags.rows);
  }
  return OkStatus();
}

Result<Experiment> FindExperiment(Connection& c, std::string_view where, const SqlValue& key,
                                  const std::string& description) {
  SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                           Exec(c,
                                fmt::format("SELECT {} FROM {} WHERE {}", kExperimentTable.columns,
                                            kExperimentTable.from, where),
                                {key}));
  if (r.rows.empty()) return NotFound(fmt::format("experiment {} does not exist", description));
  SOMLIER_ASSIGN_OR_RETURN(Experiment experiment, ExperimentFromRow(r.rows[0]));
  std::vector<Experiment> found = {std::move(experiment)};
  SOMLIER_RETURN_IF_ERROR(LoadExperimentTags(c, found));
  return std::move(found[0]);
}

Status RequireExperiment(Connection& c, int64_t experiment_id) {
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult r, Exec(c, "SELECT 1 FROM experiments WHERE experiment_id = ?", {experiment_id}));
  if (r.rows.empty()) {
    return NotFound(fmt::format("experiment with id '{}' does not exist", experiment_id));
  }
  return OkStatus();
}

}  // namespace

Result<int64_t> Store::CreateExperiment(const std::string& name,
                                        const std::string& artifact_location,
                                        const std::vector<Tag>& tags) {
  if (name.empty()) return InvalidArgument("experiment name must not be empty");
  int64_t id = 0;
  Status status = db_->Transaction(true, [&](Connection& c) -> Status {
    const int64_t now = NowMillis();
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult inserted,
        Exec(c,
             "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
             "last_update_time) VALUES (?, ?, 'active', ?, ?) ON CONFLICT (name) DO NOTHING "
             "RETURNING experiment_id",
             {name, artifact_location, now, now}));
    if (inserted.rows.empty()) {
      return AlreadyExists(fmt::format("experiment '{}' already exists", name));
    }
    id = AsInt(inserted.rows[0][0]);
    const std::string placeholder = "{experiment_id}";
    if (auto at = artifact_location.find(placeholder); at != std::string::npos) {
      std::string location = artifact_location;
      location.replace(at, placeholder.size(), std::to_string(id));
      SOMLIER_RETURN_IF_ERROR(
          Exec(c, "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
               {location, id})
              .status());
    }
    for (const Tag& tag : tags) {
      SOMLIER_RETURN_IF_ERROR(
          Exec(c,
               "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
               "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
               {id, tag.key, tag.value})
              .status());
    }
    return OkStatus();
  });
  if (!status.ok()) return status;
  return id;
}

Status Store::EnsureExperiment(int64_t experiment_id, const std::string& name,
                               const std::string& artifact_location) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    const int64_t now = NowMillis();
    return Exec(c,
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?) "
                "ON CONFLICT DO NOTHING",
                {experiment_id, name, artifact_location, now, now})
        .status();
  });
}

Result<Experiment> Store::GetExperiment(int64_t experiment_id) {
  std::optional<Experiment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(out, FindExperiment(c, "e.experiment_id = ?", experiment_id,
                                                 fmt::format("with id '{}'", experiment_id)));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<Experiment> Store::GetExperimentByName(const std::string& name) {
  std::optional<Experiment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(out, FindExperiment(c, "e.name = ?", name, "'" + name + "'"));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<std::vector<Experiment>> Store::SearchExperiments(const ExperimentQuery& query) {
  std::string_view lifecycle = query.view == ViewType::kActiveOnly ? "e.lifecycle_stage = 'active'"
                               : query.view == ViewType::kDeletedOnly
                                   ? "e.lifecycle_stage = 'deleted'"
                                   : "";
  SOMLIER_ASSIGN_OR_RETURN(
      store_internal::SqlStatement statement,
      store_internal::BuildEntitySearch(kExperimentTable, lifecycle, query.filters, query.order_by,
                                        query.max_results, query.offset));
  std::vector<Experiment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    out.clear();
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, statement.sql, statement.values));
    for (const SqlRow& row : r.rows) {
      SOMLIER_ASSIGN_OR_RETURN(Experiment experiment, ExperimentFromRow(row));
      out.push_back(std::move(experiment));
    }
    return LoadExperimentTags(c, out);
  }));
  return out;
}

Status Store::RenameExperiment(int64_t experiment_id, const std::string& new_name) {
  if (new_name.empty()) return InvalidArgument("experiment name must not be empty");
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireExperiment(c, experiment_id));
    auto updated = Exec(c,
                        "UPDATE experiments SET name = ?, last_update_time = ? "
                        "WHERE experiment_id = ?",
                        {new_name, NowMillis(), experiment_id});
    if (updated.status().code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(fmt::format("experiment '{}' already exists", new_name));
    }
    return updated.status();
  });
}

Status Store::SetExperimentLifecycle(int64_t experiment_id, LifecycleStage stage) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireExperiment(c, experiment_id));
    const std::string value(ToString(stage));
    SOMLIER_RETURN_IF_ERROR(Exec(c,
                                 "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                                 "WHERE experiment_id = ?",
                                 {value, NowMillis(), experiment_id})
                                .status());
    return Exec(c, "UPDATE runs SET lifecycle_stage = ? WHERE experiment_id = ?",
                {value, experiment_id})
        .status();
  });
}

Status Store::SetExperimentTag(int64_t experiment_id, const Tag& tag) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireExperiment(c, experiment_id));
    return Exec(c,
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                {experiment_id, tag.key, tag.value})
        .status();
  });
}

Status Store::DeleteExperimentTag(int64_t experiment_id, const std::string& key) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireExperiment(c, experiment_id));
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r, Exec(c, "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                            {experiment_id, key}));
    if (r.affected_rows == 0) {
      return NotFound(fmt::format("experiment '{}' has no tag '{}'", experiment_id, key));
    }
    return OkStatus();
  });
}

// ---- Deployments -----------------------------------------------------------------------

namespace {

constexpr std::string_view kDeploymentColumns =
    "name, model_name, model_version, target, url, status, pid, message, creation_time, "
    "last_updated_time";

Result<Deployment> DeploymentFromRow(const SqlRow& row) {
  Deployment d;
  d.name = AsText(row[0]);
  d.model_name = AsText(row[1]);
  d.model_version = AsText(row[2]);
  const auto target = ParseDeploymentTargetKind(AsText(row[3]));
  if (!target)
    return store_internal::UnknownInDatabase("deployment", d.name, "target", AsText(row[3]));
  d.target = *target;
  d.url = AsText(row[4]);
  const auto status = ParseDeploymentStatus(AsText(row[5]));
  if (!status)
    return store_internal::UnknownInDatabase("deployment", d.name, "status", AsText(row[5]));
  d.status = *status;
  if (!IsNull(row[6])) d.pid = AsInt(row[6]);
  d.message = AsText(row[7]);
  d.creation_time = AsInt(row[8]);
  d.last_updated_time = AsInt(row[9]);
  return d;
}

}  // namespace

Status Store::PutDeployment(const Deployment& d) {
  if (d.name.empty()) return InvalidArgument("deployment name must not be empty");
  return db_->Transaction(true, [&](Connection& c) -> Status {
    const int64_t now = NowMillis();
    SqlValue pid = d.pid ? SqlValue(*d.pid) : SqlValue();
    return Exec(c,
                fmt::format("INSERT INTO deployments ({}) VALUES ({}) ON CONFLICT (name) DO UPDATE "
                            "SET model_name = excluded.model_name, model_version = "
                            "excluded.model_version, target = excluded.target, url = excluded.url, "
                            "status = excluded.status, pid = excluded.pid, message = "
                            "excluded.message, last_updated_time = excluded.last_updated_time",
                            kDeploymentColumns, store_internal::Placeholders(10)),
                {d.name, d.model_name, d.model_version, std::string(ToString(d.target)), d.url,
                 std::string(ToString(d.status)), pid, d.message,
                 d.creation_time ? d.creation_time : now, now})
        .status();
  });
}

Result<Deployment> Store::GetDeployment(const std::string& name) {
  std::optional<Deployment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c, fmt::format("SELECT {} FROM deployments WHERE name = ?", kDeploymentColumns),
             {name}));
    if (r.rows.empty()) return NotFound(fmt::format("deployment '{}' does not exist", name));
    SOMLIER_ASSIGN_OR_RETURN(out, DeploymentFromRow(r.rows[0]));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<std::vector<Deployment>> Store::ListDeployments() {
  std::vector<Deployment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c, fmt::format("SELECT {} FROM deployments ORDER BY name", kDeploymentColumns)));
    for (const SqlRow& row : r.rows) {
      SOMLIER_ASSIGN_OR_RETURN(Deployment d, DeploymentFromRow(row));
      out.push_back(std::move(d));
    }
    return OkStatus();
  }));
  return out;
}

Status Store::DeleteDeployment(const std::string& name) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                             Exec(c, "DELETE FROM deployments WHERE name = ?", {name}));
    if (r.affected_rows == 0) {
      return NotFound(fmt::format("deployment '{}' does not exist", name));
    }
    return OkStatus();
  });
}

}  // namespace somlier
