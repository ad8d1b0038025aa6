// Store: registered models, their versions, tags and aliases.
#include <fmt/core.h>

#include <map>
#include <set>

#include "somlier/core/time.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::Exec;
using store_internal::Placeholders;
using store_internal::Values;

namespace {

// Column names of model_versions, in VersionFromRow's order, for INSERT.
constexpr std::string_view kVersionColumns =
    "name, version, creation_time, last_updated_time, description, user_id, current_stage, "
    "source, run_id, run_link, status, status_message";

constexpr store_internal::AttributeColumn kModelAttributes[] = {
    {"name", "name", false},
    {"creation_timestamp", "creation_time", true},
    {"last_updated_timestamp", "last_updated_time", true},
};

constexpr store_internal::EntityTable kModelTable = {
    "registered_models m",
    "m",
    "m.name, m.creation_time, m.last_updated_time, m.description",
    kModelAttributes,
    "registered_model_tags",
    "t.name = m.name",
    "m.name ASC",
    "m.name ASC",
};

constexpr store_internal::AttributeColumn kVersionAttributes[] = {
    {"name", "name", false},
    {"version_number", "version", true},
    {"run_id", "run_id", false},
    {"source_path", "source", false},
    {"current_stage", "current_stage", false},
    {"creation_timestamp", "creation_time", true},
    {"last_updated_timestamp", "last_updated_time", true},
};

constexpr store_internal::EntityTable kVersionTable = {
    "model_versions v",
    "v",
    "v.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, "
    "v.current_stage, v.source, v.run_id, v.run_link, v.status, v.status_message",
    kVersionAttributes,
    "model_version_tags",
    "t.name = v.name AND t.version = v.version",
    "v.last_updated_time DESC",
    "v.name ASC, v.version DESC",
};

RegisteredModel ModelFromRow(const SqlRow& row) {
  RegisteredModel m;
  m.name = AsText(row[0]);
  m.creation_time = AsInt(row[1]);
  m.last_updated_time = AsInt(row[2]);
  m.description = AsText(row[3]);
  return m;
}

ModelVersion VersionFromRow(const SqlRow& row) {
  ModelVersion v;
  v.name = AsText(row[0]);
  v.version = AsInt(row[1]);
  v.creation_time = AsInt(row[2]);
  v.last_updated_time = AsInt(row[3]);
  v.description = AsText(row[4]);
  v.user_id = AsText(row[5]);
  v.current_stage = AsText(row[6]);
  v.source = AsText(row[7]);
  v.run_id = AsText(row[8]);
  v.run_link = AsText(row[9]);
  v.status = AsText(row[10]);
  v.status_message = AsText(row[11]);
  return v;
}

std::string InList(size_t n) { return "(" + Placeholders(n) + ")"; }

// Fills tags and aliases of `models`.
Status LoadModelExtras(Connection& c, std::vector<RegisteredModel>& models) {
  if (models.empty()) return OkStatus();
  std::map<std::string, RegisteredModel*> by_name;
  Values names;
  for (auto& m : models) {
    by_name[m.name] = &m;
    names.emplace_back(m.name);
  }
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult tags, Exec(c,
                             "SELECT name, key, value FROM registered_model_tags WHERE name IN " +
                                 InList(names.size()) + " ORDER BY name, key",
                             names));
  for (const SqlRow& row : tags.rows) {
    by_name[AsText(row[0])]->tags.push_back({AsText(row[1]), AsText(row[2])});
  }
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult aliases,
      Exec(c,
           "SELECT name, alias, version FROM registered_model_aliases WHERE name IN " +
               InList(names.size()) + " ORDER BY name, alias",
           names));
  for (const SqlRow& row : aliases.rows) {
    by_name[AsText(row[0])]->aliases.push_back({AsText(row[1]), AsInt(row[2])});
  }
  return OkStatus();
}

// Fills tags and aliases of `versions`.
Status LoadVersionExtras(Connection& c, std::vector<ModelVersion>& versions) {
  if (versions.empty()) return OkStatus();
  std::map<std::pair<std::string, int64_t>, ModelVersion*> by_key;
  std::set<std::string> name_set;
  for (auto& v : versions) {
    by_key[{v.name, v.version}] = &v;
    name_set.insert(v.name);
  }
  Values names(name_set.begin(), name_set.end());
  auto find = [&](const SqlRow& row) -> ModelVersion* {
    auto it = by_key.find({AsText(row[0]), AsInt(row[1])});
    return it == by_key.end() ? nullptr : it->second;
  };
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult tags,
      Exec(c,
           "SELECT name, version, key, value FROM model_version_tags WHERE name IN " +
               InList(names.size()) + " ORDER BY name, version, key",
           names));
  for (const SqlRow& row : tags.rows) {
    if (ModelVersion* v = find(row)) v->tags.push_back({AsText(row[2]), AsText(row[3])});
  }
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult aliases,
      Exec(c,
           "SELECT name, version, alias FROM registered_model_aliases WHERE name IN " +
               InList(names.size()) + " ORDER BY name, alias",
           names));
  for (const SqlRow& row : aliases.rows) {
    if (ModelVersion* v = find(row)) v->aliases.push_back(AsText(row[2]));
  }
  return OkStatus();
}

Status RequireModel(Connection& c, const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                           Exec(c, "SELECT 1 FROM registered_models WHERE name = ?", {name}));
  if (r.rows.empty()) return NotFound(fmt::format("registered model '{}' does not exist", name));
  return OkStatus();
}

Result<RegisteredModel> LoadModel(Connection& c, const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c,
                                               fmt::format("SELECT {} FROM {} WHERE m.name = ?",
                                                           kModelTable.columns, kModelTable.from),
                                               {name}));
  if (r.rows.empty()) return NotFound(fmt::format("registered model '{}' does not exist", name));
  std::vector<RegisteredModel> models = {ModelFromRow(r.rows[0])};
  SOMLIER_RETURN_IF_ERROR(LoadModelExtras(c, models));
  return std::move(models[0]);
}

Result<ModelVersion> LoadVersion(Connection& c, const std::string& name, int64_t version) {
  SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                           Exec(c,
                                fmt::format("SELECT {} FROM {} WHERE v.name = ? AND v.version = ?",
                                            kVersionTable.columns, kVersionTable.from),
                                {name, version}));
  if (r.rows.empty()) {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    return NotFound(
        fmt::format("version {} of registered model '{}' does not exist", version, name));
  }
  std::vector<ModelVersion> versions = {VersionFromRow(r.rows[0])};
  SOMLIER_RETURN_IF_ERROR(LoadVersionExtras(c, versions));
  return std::move(versions[0]);
}

Status TouchModel(Connection& c, const std::string& name, int64_t now) {
  return Exec(c, "UPDATE registered_models SET last_updated_time = ? WHERE name = ?", {now, name})
      .status();
}

}  // namespace

// ---- Registered models -----------------------------------------------------------------

Result<RegisteredModel> Store::CreateRegisteredModel(const std::string& name,
                                                     const std::string& description,
                                                     const std::vector<Tag>& tags) {
  if (name.empty()) return InvalidArgument("registered model name must not be empty");
  std::optional<RegisteredModel> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    const int64_t now = NowMillis();
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c,
             "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
             "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name",
             {name, now, now, description}));
    if (r.rows.empty()) {
      return AlreadyExists(fmt::format("registered model '{}' already exists", name));
    }
    for (const Tag& tag : tags) {
      SOMLIER_RETURN_IF_ERROR(
          Exec(c,
               "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
               "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
               {name, tag.key, tag.value})
              .status());
    }
    SOMLIER_ASSIGN_OR_RETURN(out, LoadModel(c, name));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<RegisteredModel> Store::GetRegisteredModel(const std::string& name) {
  std::optional<RegisteredModel> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(out, LoadModel(c, name));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<RegisteredModel> Store::RenameRegisteredModel(const std::string& name,
                                                     const std::string& new_name) {
  if (new_name.empty()) return InvalidArgument("registered model name must not be empty");
  std::optional<RegisteredModel> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    auto updated = Exec(c,
                        "UPDATE registered_models SET name = ?, last_updated_time = ? "
                        "WHERE name = ?",
                        {new_name, NowMillis(), name});
    if (updated.status().code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(fmt::format("registered model '{}' already exists", new_name));
    }
    SOMLIER_RETURN_IF_ERROR(updated.status());
    SOMLIER_ASSIGN_OR_RETURN(out, LoadModel(c, new_name));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<RegisteredModel> Store::UpdateRegisteredModel(const std::string& name,
                                                     const std::string& description) {
  std::optional<RegisteredModel> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    SOMLIER_RETURN_IF_ERROR(Exec(c,
                                 "UPDATE registered_models SET description = ?, "
                                 "last_updated_time = ? WHERE name = ?",
                                 {description, NowMillis(), name})
                                .status());
    SOMLIER_ASSIGN_OR_RETURN(out, LoadModel(c, name));
    return OkStatus();
  }));
  return std::move(*out);
}

Status Store::DeleteRegisteredModel(const std::string& name) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    return Exec(c, "DELETE FROM registered_models WHERE name = ?", {name}).status();
  });
}

Result<std::vector<RegisteredModel>> Store::SearchRegisteredModels(const RegisteredModelQuery& q) {
  SOMLIER_ASSIGN_OR_RETURN(store_internal::SqlStatement statement,
                           store_internal::BuildEntitySearch(kModelTable, "", q.filters, q.order_by,
                                                             q.max_results, q.offset));
  std::vector<RegisteredModel> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    out.clear();
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, statement.sql, statement.values));
    for (const SqlRow& row : r.rows) out.push_back(ModelFromRow(row));
    return LoadModelExtras(c, out);
  }));
  return out;
}

Status Store::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  if (tag.key.empty()) return InvalidArgument("a tag key must not be empty");
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    return Exec(c,
                "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                {name, tag.key, tag.value})
        .status();
  });
}

Status Store::DeleteRegisteredModelTag(const std::string& name, const std::string& key) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    return Exec(c, "DELETE FROM registered_model_tags WHERE name = ? AND key = ?", {name, key})
        .status();
  });
}

Status Store::SetModelAlias(const std::string& name, const std::string& alias, int64_t version) {
  if (alias.empty()) return InvalidArgument("an alias must not be empty");
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(LoadVersion(c, name, version).status());
    return Exec(c,
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                {name, alias, version})
        .status();
  });
}

Status Store::DeleteModelAlias(const std::string& name, const std::string& alias) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    return Exec(c, "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
                {name, alias})
        .status();
  });
}

Result<ModelVersion> Store::GetModelVersionByAlias(const std::string& name,
                                                   const std::string& alias) {
  std::optional<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c, "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
             {name, alias}));
    if (r.rows.empty()) {
      return NotFound(fmt::format("registered model '{}' has no alias '{}'", name, alias));
    }
    SOMLIER_ASSIGN_OR_RETURN(out, LoadVersion(c, name, AsInt(r.rows[0][0])));
    return OkStatus();
  }));
  return std::move(*out);
}

// ---- Model versions --------------------------------------------------------------------

namespace {

// Allocates the next version of req.name and inserts it; NotFound without the model.
Result<ModelVersion> InsertVersion(Connection& c, const ModelVersion& req) {
  const int64_t now = NowMillis();
  // The counter row is locked by this UPDATE until commit, so concurrent registrations
  // of one model take turns and each gets its own number.
  SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                           Exec(c,
                                "UPDATE registered_models SET last_version = last_version + 1, "
                                "last_updated_time = ? WHERE name = ? RETURNING last_version",
                                {now, req.name}));
  if (r.rows.empty()) {
    return NotFound(fmt::format("registered model '{}' does not exist", req.name));
  }
  const int64_t version = AsInt(r.rows[0][0]);
  const std::string stage = CanonicalStage(req.current_stage).value_or(std::string(kStageNone));
  SOMLIER_RETURN_IF_ERROR(
      Exec(c,
           fmt::format("INSERT INTO model_versions ({}) VALUES ({})", kVersionColumns,
                       Placeholders(12)),
           {req.name, version, now, now, req.description, req.user_id, stage, req.source,
            req.run_id, req.run_link, req.status.empty() ? std::string("READY") : req.status,
            req.status_message})
          .status());
  for (const Tag& tag : req.tags) {
    SOMLIER_RETURN_IF_ERROR(
        Exec(c,
             "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
             "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
             {req.name, version, tag.key, tag.value})
            .status());
  }
  return LoadVersion(c, req.name, version);
}

}  // namespace

Result<ModelVersion> Store::CreateModelVersion(const ModelVersion& req) {
  std::optional<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(out, InsertVersion(c, req));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<RunRegistration> Store::RegisterRunModel(const ModelVersion& req) {
  if (req.name.empty()) return InvalidArgument("registered model name must not be empty");
  RunRegistration out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    const int64_t now = NowMillis();
    SOMLIER_RETURN_IF_ERROR(
        Exec(c,
             "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
             "VALUES (?, ?, ?, '') ON CONFLICT (name) DO NOTHING",
             {req.name, now, now})
            .status());
    // Lock the model's row first, so concurrent registrations of one run take turns and
    // the second sees the first's version.
    SOMLIER_RETURN_IF_ERROR(
        Exec(c, "UPDATE registered_models SET last_version = last_version WHERE name = ?",
             {req.name})
            .status());
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult existing,
        Exec(c,
             "SELECT MAX(version) FROM model_versions WHERE name = ? AND run_id = ? AND source = ?",
             {req.name, req.run_id, req.source}));
    if (!existing.rows.empty() && !IsNull(existing.rows[0][0])) {
      SOMLIER_ASSIGN_OR_RETURN(out.version, LoadVersion(c, req.name, AsInt(existing.rows[0][0])));
      out.created = false;
      return OkStatus();
    }
    SOMLIER_ASSIGN_OR_RETURN(out.version, InsertVersion(c, req));
    out.created = true;
    return OkStatus();
  }));
  return out;
}

Result<ModelVersion> Store::GetModelVersion(const std::string& name, int64_t version) {
  std::optional<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(out, LoadVersion(c, name, version));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<ModelVersion> Store::UpdateModelVersion(const std::string& name, int64_t version,
                                               const std::string& description) {
  std::optional<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(LoadVersion(c, name, version).status());
    const int64_t now = NowMillis();
    SOMLIER_RETURN_IF_ERROR(Exec(c,
                                 "UPDATE model_versions SET description = ?, "
                                 "last_updated_time = ? WHERE name = ? AND version = ?",
                                 {description, now, name, version})
                                .status());
    SOMLIER_RETURN_IF_ERROR(TouchModel(c, name, now));
    SOMLIER_ASSIGN_OR_RETURN(out, LoadVersion(c, name, version));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<ModelVersion> Store::TransitionModelVersionStage(const std::string& name, int64_t version,
                                                        const std::string& stage,
                                                        bool archive_existing) {
  const std::optional<std::string> canonical = CanonicalStage(stage);
  if (!canonical) {
    return InvalidArgument(
        fmt::format("stage '{}' is not one of None, Staging, Production, Archived", stage));
  }
  std::optional<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(LoadVersion(c, name, version).status());
    const int64_t now = NowMillis();
    if (archive_existing && (*canonical == kStageStaging || *canonical == kStageProduction)) {
      SOMLIER_RETURN_IF_ERROR(Exec(c,
                                   "UPDATE model_versions SET current_stage = 'Archived', "
                                   "last_updated_time = ? WHERE name = ? AND current_stage = ? "
                                   "AND version <> ?",
                                   {now, name, *canonical, version})
                                  .status());
    }
    SOMLIER_RETURN_IF_ERROR(Exec(c,
                                 "UPDATE model_versions SET current_stage = ?, "
                                 "last_updated_time = ? WHERE name = ? AND version = ?",
                                 {*canonical, now, name, version})
                                .status());
    SOMLIER_RETURN_IF_ERROR(TouchModel(c, name, now));
    SOMLIER_ASSIGN_OR_RETURN(out, LoadVersion(c, name, version));
    return OkStatus();
  }));
  return std::move(*out);
}

Status Store::DeleteModelVersion(const std::string& name, int64_t version) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(LoadVersion(c, name, version).status());
    SOMLIER_RETURN_IF_ERROR(
        Exec(c, "DELETE FROM model_versions WHERE name = ? AND version = ?", {name, version})
            .status());
    return TouchModel(c, name, NowMillis());
  });
}

Result<std::vector<ModelVersion>> Store::SearchModelVersions(const ModelVersionQuery& q) {
  SOMLIER_ASSIGN_OR_RETURN(store_internal::SqlStatement statement,
                           store_internal::BuildEntitySearch(kVersionTable, "", q.filters,
                                                             q.order_by, q.max_results, q.offset));
  std::vector<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    out.clear();
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, statement.sql, statement.values));
    for (const SqlRow& row : r.rows) out.push_back(VersionFromRow(row));
    return LoadVersionExtras(c, out);
  }));
  return out;
}

Result<std::vector<ModelVersion>> Store::GetLatestVersions(const std::string& name,
                                                           const std::vector<std::string>& stages) {
  std::vector<std::string> canonical;
  for (const std::string& stage : stages) {
    auto c = CanonicalStage(stage);
    if (!c) {
      return InvalidArgument(
          fmt::format("stage '{}' is not one of None, Staging, Production, Archived", stage));
    }
    canonical.push_back(*c);
  }
  std::vector<ModelVersion> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    out.clear();
    SOMLIER_RETURN_IF_ERROR(RequireModel(c, name));
    std::string sql = fmt::format(
        "SELECT {} FROM {} WHERE v.name = ? AND v.version = (SELECT MAX(version) "
        "FROM model_versions w WHERE w.name = v.name AND w.current_stage = v.current_stage)",
        kVersionTable.columns, kVersionTable.from);
    Values values = {name};
    if (!canonical.empty()) {
      sql += " AND v.current_stage IN " + InList(canonical.size());
      values.insert(values.end(), canonical.begin(), canonical.end());
    }
    sql += " ORDER BY v.version";
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, sql, values));
    for (const SqlRow& row : r.rows) out.push_back(VersionFromRow(row));
    return LoadVersionExtras(c, out);
  }));
  return out;
}

Status Store::SetModelVersionTag(const std::string& name, int64_t version, const Tag& tag) {
  if (tag.key.empty()) return InvalidArgument("a tag key must not be empty");
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(LoadVersion(c, name, version).status());
    return Exec(c,
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                {name, version, tag.key, tag.value})
        .status();
  });
}

Status Store::DeleteModelVersionTag(const std::string& name, int64_t version,
                                    const std::string& key) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(LoadVersion(c, name, version).status());
    return Exec(c, "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
                {name, version, key})
        .status();
  });
}

}  // namespace somlier
