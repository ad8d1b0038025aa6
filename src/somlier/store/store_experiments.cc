// Store: experiments and their tags.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/store/migrations.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::Exec;
using store_internal::Values;

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
  SOMLIER_ASSIGN_OR_RETURN(
      e.lifecycle_stage,
      store_internal::KnownInDatabase(ParseLifecycleStage, AsText(row[3]), "experiment",
                                      std::to_string(e.experiment_id), "lifecycle stage"));
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

}  // namespace somlier
