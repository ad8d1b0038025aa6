#include "somlier/store/migrations.h"

#include <fmt/core.h>

#include <string>
#include <vector>

#include "somlier/core/log.h"

namespace somlier {
namespace {

struct Migration {
  int64_t version;
  const char* description;
  // Portable SQL; "{ID}" becomes an auto-assigned integer primary key of the dialect,
  // "{BLOB}" its bytes type, and "{WITHOUT_ROWID}" SQLite's clause for tables stored as
  // one b-tree on their key.
  const char* sql;
};

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "tracking, registry and deployments", R"SQL(
CREATE TABLE experiments (
  experiment_id {ID},
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL DEFAULT '',
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  creation_time BIGINT NOT NULL,
  last_update_time BIGINT NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
  run_uuid TEXT PRIMARY KEY,
  experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
  name TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  start_time BIGINT,
  end_time BIGINT,
  user_id TEXT NOT NULL DEFAULT '',
  artifact_uri TEXT NOT NULL DEFAULT '',
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  source_git_uri TEXT NOT NULL DEFAULT '',
  source_git_ref TEXT NOT NULL DEFAULT '',
  source_git_commit TEXT NOT NULL DEFAULT '',
  source_project_path TEXT NOT NULL DEFAULT '',
  source_entrypoint TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  status_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE INDEX runs_by_status ON runs (status);
CREATE TABLE params (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE TABLE tags (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
-- Metric history: metric_log takes new points, one row per logged batch with its points
-- packed in a blob (append-only, so an ingest transaction writes a few pages however many
-- series it touches), and the store moves them in bulk into metrics, clustered by series.
-- Runs are never removed (only marked deleted), so neither table refers to runs by a
-- foreign key: the writers check the run in the same transaction.
CREATE TABLE metric_log (
  seq {ID},
  run_uuid TEXT NOT NULL,
  points {BLOB} NOT NULL
);
CREATE TABLE metrics (
  run_uuid TEXT NOT NULL,
  key TEXT NOT NULL,
  step BIGINT NOT NULL DEFAULT 0,
  timestamp BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,  -- 0 when is_nan
  is_nan INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)
){WITHOUT_ROWID};
CREATE TABLE latest_metrics (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  experiment_id BIGINT NOT NULL,
  key TEXT NOT NULL,
  value DOUBLE PRECISION,
  is_nan INTEGER NOT NULL DEFAULT 0,
  timestamp BIGINT NOT NULL,
  step BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX latest_metrics_by_value ON latest_metrics (experiment_id, key, value);
CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  last_version BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE registered_model_tags (
  name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
);
CREATE TABLE model_versions (
  name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
  version BIGINT NOT NULL,
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  user_id TEXT NOT NULL DEFAULT '',
  current_stage TEXT NOT NULL DEFAULT 'None',
  source TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  run_link TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'READY',
  status_message TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, version, key),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE registered_model_aliases (
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE deployments (
  name TEXT PRIMARY KEY,
  model_name TEXT NOT NULL,
  model_version TEXT NOT NULL,
  target TEXT NOT NULL,
  url TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  pid BIGINT,
  message TEXT NOT NULL DEFAULT '',
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL
);
)SQL"},
      {2, "runs record the process that executes them", R"SQL(
ALTER TABLE runs ADD COLUMN executor TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid BIGINT;
)SQL"},
      {3, "the runs an executor holds are found without reading every run", R"SQL(
CREATE INDEX runs_held ON runs (executor) WHERE executor <> '';
)SQL"},
      {4, "datasets and the runs that used them (MLflow's log-inputs)", R"SQL(
-- One row per (experiment, name, digest); the first logging decides the other fields.
CREATE TABLE datasets (
  dataset_id {ID},
  experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source TEXT NOT NULL,
  dataset_schema TEXT NOT NULL DEFAULT '',
  profile TEXT NOT NULL DEFAULT '',
  UNIQUE (experiment_id, name, digest)
);
CREATE INDEX datasets_by_name ON datasets (name);
-- A run used a dataset once: logging it again changes nothing. input_id orders a run's
-- inputs as they were first logged.
CREATE TABLE run_inputs (
  input_id {ID},
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  dataset_id BIGINT NOT NULL REFERENCES datasets (dataset_id),
  UNIQUE (run_uuid, dataset_id)
);
CREATE INDEX run_inputs_by_dataset ON run_inputs (dataset_id);
-- Searched by (input_id, key) only: no index on values, whose entries (a 255-character key
-- and a 500-character value, 4 bytes a character) could pass PostgreSQL's b-tree limit.
CREATE TABLE run_input_tags (
  input_id BIGINT NOT NULL REFERENCES run_inputs (input_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (input_id, key)
);
)SQL"},
  };
  return kMigrations;
}

void ReplaceAll(std::string& text, std::string_view token, std::string_view with) {
  for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
    text.replace(at, token.size(), with);
  }
}

std::string ForDialect(std::string sql, Dialect dialect) {
  const bool sqlite = dialect == Dialect::kSqlite;
  ReplaceAll(
      sql, "{ID}",
      sqlite ? "INTEGER PRIMARY KEY" : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  ReplaceAll(sql, "{WITHOUT_ROWID}", sqlite ? " WITHOUT ROWID" : "");
  ReplaceAll(sql, "{BLOB}", sqlite ? "BLOB" : "BYTEA");
  return sql;
}

}  // namespace

int64_t LatestSchemaVersion() { return AllMigrations().back().version; }

Status Migrate(Database& db) {
  return db.Transaction(true, [&](Connection& c) -> Status {
    if (db.dialect() == Dialect::kPostgres) {
      // Concurrent first opens of a fresh database: one migrates, the others wait.
      SOMLIER_RETURN_IF_ERROR(c.ExecuteScript("SELECT pg_advisory_xact_lock(7301554023)"));
    }
    SOMLIER_RETURN_IF_ERROR(
        c.ExecuteScript("CREATE TABLE IF NOT EXISTS somlier_schema (version BIGINT NOT NULL)"));
    SOMLIER_ASSIGN_OR_RETURN(QueryResult current,
                             c.Execute("SELECT MAX(version) FROM somlier_schema", {}));
    const int64_t at = current.rows.empty() ? 0 : AsInt(current.rows[0][0]);
    const int64_t latest = LatestSchemaVersion();
    if (at > latest) {
      return FailedPrecondition(
          fmt::format("the database schema is at version {}, newer than this somlier knows ({}); "
                      "upgrade somlier",
                      at, latest));
    }
    for (const Migration& m : AllMigrations()) {
      if (m.version <= at) continue;
      LogDebug("applying schema migration {}: {}", m.version, m.description);
      SOMLIER_RETURN_IF_ERROR(c.ExecuteScript(ForDialect(m.sql, db.dialect()))
                                  .WithContext(fmt::format("schema migration {}", m.version)));
    }
    if (at < latest) {
      const SqlValue v = latest;
      SOMLIER_RETURN_IF_ERROR(c.Execute("DELETE FROM somlier_schema", {}).status());
      SOMLIER_RETURN_IF_ERROR(
          c.Execute("INSERT INTO somlier_schema (version) VALUES (?)", {&v, 1}).status());
    }
    return OkStatus();
  });
}

}  // namespace somlier
