// Store: runs, their params, metrics and tags, and run search.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "somlier/core/ids.h"
#include "somlier/core/time.h"
#include "somlier/store/store.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::CheckRun;
using store_internal::Exec;
using store_internal::Placeholders;
using store_internal::Values;

namespace {

constexpr std::string_view kRunNameTag = "mlflow.runName";

Status UpsertTag(Connection& c, const std::string& run_id, const std::string& key,
                 const std::string& value) {
  return Exec(c,
              "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) "
              "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
              {run_id, key, value})
      .status();
}

}  // namespace

Status Store::CreateRun(const RunInfo& info, const std::vector<Tag>& tags) {
  if (!IsValidRunId(info.run_id)) {
    return InvalidArgument(
        fmt::format("run id '{}' is not 32 lowercase hexadecimal digits", info.run_id));
  }
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult e,
                             Exec(c, "SELECT lifecycle_stage FROM experiments "
                                     "WHERE experiment_id = ?",
                                  {info.experiment_id}));
    if (e.rows.empty()) {
      return NotFound(
          fmt::format("experiment with id '{}' does not exist", info.experiment_id));
    }
    if (AsText(e.rows[0][0]) != "active") {
      return FailedPrecondition(fmt::format(
          "experiment with id '{}' is deleted; restore it to create runs in it",
          info.experiment_id));
    }
    auto optional_int = [](const auto& v) { return v ? SqlValue(int64_t{*v}) : SqlValue(); };
    auto inserted = Exec(
        c,
        fmt::format("INSERT INTO runs ({}) VALUES ({})",
                    store_internal::RunColumns(""),
                    Placeholders(16)),
        {info.run_id, info.experiment_id, info.run_name, std::string(ToString(info.status)),
         optional_int(info.start_time), optional_int(info.end_time), info.user_id,
         info.artifact_uri, std::string(ToString(info.lifecycle_stage)), info.source.git_uri,
         info.source.git_ref, info.source.git_commit, info.source.project_path,
         info.source.entrypoint, optional_int(info.exit_code), info.status_message});
    if (inserted.status().code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(fmt::format("run '{}' already exists", info.run_id));
    }
    SOMLIER_RETURN_IF_ERROR(inserted.status());
    for (const Tag& tag : tags) {
      if (tag.key == kRunNameTag) continue;  // the run's name decides it
      SOMLIER_RETURN_IF_ERROR(UpsertTag(c, info.run_id, tag.key, tag.value));
    }
    if (!info.run_name.empty()) {
      SOMLIER_RETURN_IF_ERROR(UpsertTag(c, info.run_id, std::string(kRunNameTag), info.run_name));
    }
    return OkStatus();
  });
}

Result<Run> Store::GetRun(const std::string& run_id) {
  std::vector<Run> runs;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c,
             fmt::format("SELECT {} FROM runs r WHERE r.run_uuid = ?",
                         store_internal::RunColumns("r")),
             {run_id}));
    if (r.rows.empty()) return NotFound(fmt::format("run '{}' does not exist", run_id));
    runs.push_back({store_internal::RunInfoFromRow(r.rows[0]), {}, {}, {}});
    return store_internal::LoadRunData(c, runs);
  }));
  return std::move(runs[0]);
}

Status Store::UpdateRun(const std::string& run_id, const RunUpdate& u) {
  std::string sets;
  Values values;
  auto set = [&](std::string_view column, SqlValue v) {
    if (!sets.empty()) sets += ", ";
    sets += fmt::format("{} = ?", column);
    values.push_back(std::move(v));
  };
  if (u.status) set("status", std::string(ToString(*u.status)));
  if (u.start_time) set("start_time", *u.start_time);
  if (u.end_time) set("end_time", *u.end_time);
  if (u.run_name) set("name", *u.run_name);
  if (u.exit_code) set("exit_code", int64_t{*u.exit_code});
  if (u.status_message) set("status_message", *u.status_message);
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/false).status());
    if (sets.empty()) return OkStatus();
    Values all = values;
    all.emplace_back(run_id);
    SOMLIER_RETURN_IF_ERROR(
        Exec(c, fmt::format("UPDATE runs SET {} WHERE run_uuid = ?", sets), all).status());
    if (u.run_name) {
      SOMLIER_RETURN_IF_ERROR(UpsertTag(c, run_id, std::string(kRunNameTag), *u.run_name));
    }
    return OkStatus();
  });
}

Status Store::SetRunLifecycle(const std::string& run_id, LifecycleStage stage) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/false).status());
    return Exec(c, "UPDATE runs SET lifecycle_stage = ? WHERE run_uuid = ?",
                {std::string(ToString(stage)), run_id})
        .status();
  });
}

Result<std::vector<Run>> Store::SearchRuns(const RunQuery& query) {
  // Is the first order on a metric, param or tag that no filter already requires? Then
  // read the runs having it (index order) first and those without it after.
  bool split = false;
  if (!query.order_by.empty() && query.order_by[0].kind != FieldKind::kAttribute) {
    split = true;
    for (const Filter& f : query.filters) {
      if (f.kind == query.order_by[0].kind && f.key == query.order_by[0].key) split = false;
    }
  }
  RunQuery having = query;
  RunQuery lacking = query;
  if (split) {
    const Order& first = query.order_by[0];
    having.filters.push_back({first.kind, first.key, CompareOp::kExists, {}});
    lacking.filters.push_back({first.kind, first.key, CompareOp::kNotExists, {}});
    lacking.order_by.erase(lacking.order_by.begin());
  }
  SOMLIER_ASSIGN_OR_RETURN(store_internal::SqlStatement first_part,
                           store_internal::BuildRunSearch(having));
  std::optional<store_internal::SqlStatement> count_having;
  if (split) {
    SOMLIER_ASSIGN_OR_RETURN(count_having, store_internal::BuildRunSearch(having, true));
  }

  std::vector<Run> runs;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    runs.clear();
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, first_part.sql, first_part.values));
    for (const SqlRow& row : r.rows) {
      runs.push_back({store_internal::RunInfoFromRow(row), {}, {}, {}});
    }
    const int64_t missing = query.max_results - static_cast<int64_t>(runs.size());
    if (split && missing > 0) {
      // Where the first part ended: all of it fit before this page's end, so the runs
      // having the key number offset + rows read, unless this page began past them all.
      int64_t having_total = query.offset + static_cast<int64_t>(runs.size());
      if (runs.empty() && query.offset > 0) {
        SOMLIER_ASSIGN_OR_RETURN(QueryResult n, Exec(c, count_having->sql, count_having->values));
        having_total = AsInt(n.rows[0][0]);
      }
      lacking.offset = std::max<int64_t>(0, query.offset - having_total);
      lacking.max_results = missing;
      SOMLIER_ASSIGN_OR_RETURN(store_internal::SqlStatement second_part,
                               store_internal::BuildRunSearch(lacking));
      SOMLIER_ASSIGN_OR_RETURN(QueryResult r2, Exec(c, second_part.sql, second_part.values));
      for (const SqlRow& row : r2.rows) {
        runs.push_back({store_internal::RunInfoFromRow(row), {}, {}, {}});
      }
    }
    return store_internal::LoadRunData(c, runs);
  }));
  return runs;
}

namespace {

constexpr size_t kRowsPerInsert = 500;

Status InsertParams(Connection& c, const std::string& run_id, const std::vector<Param>& params) {
  // Same key twice in one batch: fine with the same value, an error with another.
  std::map<std::string, std::string> wanted;
  for (const Param& p : params) {
    if (p.key.empty()) return InvalidArgument("a param key must not be empty");
    auto [it, inserted] = wanted.emplace(p.key, p.value);
    if (!inserted && it->second != p.value) {
      return InvalidArgument(fmt::format(
          "param '{}' is given twice in one batch with different values ('{}' and '{}')", p.key,
          it->second, p.value));
    }
  }
  std::vector<std::pair<std::string, std::string>> rows(wanted.begin(), wanted.end());
  for (size_t start = 0; start < rows.size(); start += kRowsPerInsert) {
    const size_t end = std::min(rows.size(), start + kRowsPerInsert);
    std::string sql = "INSERT INTO params (run_uuid, key, value) VALUES ";
    Values values;
    for (size_t i = start; i < end; ++i) {
      sql += i == start ? "(?, ?, ?)" : ", (?, ?, ?)";
      values.emplace_back(run_id);
      values.emplace_back(rows[i].first);
      values.emplace_back(rows[i].second);
    }
    sql += " ON CONFLICT (run_uuid, key) DO NOTHING";
    SOMLIER_RETURN_IF_ERROR(Exec(c, sql, values).status());
  }
  // Compare with what is stored now: a different earlier value wins and is an error.
  Values keys = {run_id};
  for (const auto& [key, value] : rows) keys.emplace_back(key);
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult stored,
      Exec(c, fmt::format("SELECT key, value FROM params WHERE run_uuid = ? AND key IN ({})",
                          Placeholders(rows.size())),
           keys));
  for (const SqlRow& row : stored.rows) {
    const std::string key = AsText(row[0]);
    const std::string value = AsText(row[1]);
    if (wanted[key] != value) {
      return InvalidArgument(fmt::format(
          "param '{}' of run '{}' was already logged with value '{}'; params are write-once "
          "and cannot be changed to '{}'",
          key, run_id, value, wanted[key]));
    }
  }
  return OkStatus();
}

Status UpsertTags(Connection& c, const std::string& run_id, const std::vector<Tag>& tags) {
  std::map<std::string, std::string> latest;  // the last value of a key in the batch wins
  for (const Tag& t : tags) {
    if (t.key.empty()) return InvalidArgument("a tag key must not be empty");
    latest[t.key] = t.value;
  }
  std::string sql = "INSERT INTO tags (run_uuid, key, value) VALUES ";
  Values values;
  bool first = true;
  for (const auto& [key, value] : latest) {
    sql += first ? "(?, ?, ?)" : ", (?, ?, ?)";
    first = false;
    values.emplace_back(run_id);
    values.emplace_back(key);
    values.emplace_back(value);
  }
  sql += " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value";
  return Exec(c, sql, values).status();
}

SqlValue MetricValue(double v) { return std::isnan(v) ? SqlValue() : SqlValue(v); }

Status InsertMetrics(Connection& c, const std::string& run_id, int64_t experiment_id,
                     const std::vector<Metric>& metrics) {
  for (const Metric& m : metrics) {
    if (m.key.empty()) return InvalidArgument("a metric key must not be empty");
  }
  for (size_t start = 0; start < metrics.size(); start += kRowsPerInsert) {
    const size_t end = std::min(metrics.size(), start + kRowsPerInsert);
    std::string sql =
        "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES ";
    Values values;
    values.reserve((end - start) * 6);
    for (size_t i = start; i < end; ++i) {
      const Metric& m = metrics[i];
      sql += i == start ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
      values.emplace_back(run_id);
      values.emplace_back(m.key);
      values.push_back(MetricValue(m.value));
      values.emplace_back(int64_t{std::isnan(m.value) ? 1 : 0});
      values.emplace_back(m.timestamp);
      values.emplace_back(m.step);
    }
    SOMLIER_RETURN_IF_ERROR(Exec(c, sql, values).status());
  }

  // The batch's own latest value per key (highest step, then timestamp; later wins a tie),
  // then one upsert that only replaces a stored value that is not newer.
  std::map<std::string, const Metric*> latest;
  for (const Metric& m : metrics) {
    auto [it, inserted] = latest.emplace(m.key, &m);
    if (!inserted &&
        std::tie(m.step, m.timestamp) >= std::tie(it->second->step, it->second->timestamp)) {
      it->second = &m;
    }
  }
  std::string sql =
      "INSERT INTO latest_metrics (run_uuid, experiment_id, key, value, is_nan, timestamp, step) "
      "VALUES ";
  Values values;
  bool first = true;
  for (const auto& [key, m] : latest) {
    sql += first ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
    first = false;
    values.emplace_back(run_id);
    values.emplace_back(experiment_id);
    values.emplace_back(key);
    values.push_back(MetricValue(m->value));
    values.emplace_back(int64_t{std::isnan(m->value) ? 1 : 0});
    values.emplace_back(m->timestamp);
    values.emplace_back(m->step);
  }
  sql +=
      " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = "
      "excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step "
      "WHERE (excluded.step, excluded.timestamp) >= (latest_metrics.step, "
      "latest_metrics.timestamp)";
  return Exec(c, sql, values).status();
}

}  // namespace

Status Store::LogBatch(const std::string& run_id, const std::vector<Metric>& metrics,
                       const std::vector<Param>& params, const std::vector<Tag>& tags) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(int64_t experiment_id, CheckRun(c, run_id, /*require_active=*/true));
    if (!params.empty()) SOMLIER_RETURN_IF_ERROR(InsertParams(c, run_id, params));
    if (!tags.empty()) {
      SOMLIER_RETURN_IF_ERROR(UpsertTags(c, run_id, tags));
      for (auto it = tags.rbegin(); it != tags.rend(); ++it) {
        if (it->key != kRunNameTag) continue;  // the tag renames the run
        SOMLIER_RETURN_IF_ERROR(
            Exec(c, "UPDATE runs SET name = ? WHERE run_uuid = ?", {it->value, run_id}).status());
        break;
      }
    }
    if (!metrics.empty()) {
      SOMLIER_RETURN_IF_ERROR(InsertMetrics(c, run_id, experiment_id, metrics));
    }
    return OkStatus();
  });
}

Status Store::DeleteRunTag(const std::string& run_id, const std::string& key) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/true).status());
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r, Exec(c, "DELETE FROM tags WHERE run_uuid = ? AND key = ?", {run_id, key}));
    if (r.affected_rows == 0) {
      return NotFound(fmt::format("run '{}' has no tag '{}'", run_id, key));
    }
    return OkStatus();
  });
}

Result<std::vector<Metric>> Store::GetMetricHistory(const std::string& run_id,
                                                    const std::string& key, int64_t max_results,
                                                    int64_t offset) {
  std::vector<Metric> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/false).status());
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c,
             "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ? "
             "ORDER BY step, timestamp, value LIMIT ? OFFSET ?",
             {run_id, key, max_results, offset}));
    out.reserve(r.rows.size());
    for (const SqlRow& row : r.rows) {
      out.push_back({key, AsInt(row[1]) ? std::nan("") : AsDouble(row[0]), AsInt(row[2]),
                     AsInt(row[3])});
    }
    return OkStatus();
  }));
  return out;
}

}  // namespace somlier
