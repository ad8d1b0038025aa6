// Store: runs, their params, metrics and tags, and run search.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "somlier/core/ids.h"
#include "somlier/core/time.h"
#include "somlier/store/store.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::CheckRun;
using store_internal::Exec;
using store_internal::Placeholders;
using store_internal::Values;

namespace {

struct AttributeColumn {
  std::string_view key;
  std::string_view column;
  bool numeric;
};

constexpr AttributeColumn kAttributeColumns[] = {
    {"run_id", "run_uuid", false},
    {"run_name", "name", false},
    {"status", "status", false},
    {"start_time", "start_time", true},
    {"end_time", "end_time", true},
    {"user_id", "user_id", false},
    {"artifact_uri", "artifact_uri", false},
    {"lifecycle_stage", "lifecycle_stage", false},
    {"git_commit", "source_git_commit", false},
    {"git_ref", "source_git_ref", false},
    {"git_uri", "source_git_uri", false},
    {"project_path", "source_project_path", false},
    {"entrypoint", "source_entrypoint", false},
};

const AttributeColumn* FindAttribute(std::string_view key) {
  for (const auto& a : kAttributeColumns) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

std::string_view FieldName(RunField field) {
  switch (field) {
    case RunField::kMetric:
      return "metric";
    case RunField::kParam:
      return "param";
    case RunField::kTag:
      return "tag";
    case RunField::kAttribute:
      break;
  }
  return "attribute";
}

std::string_view OpSql(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "<>";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kLike:
      return "LIKE";
    case CompareOp::kILike:
      return "LIKE";  // applied to LOWER() of both sides
    case CompareOp::kIn:
      return "IN";
    case CompareOp::kNotIn:
      return "NOT IN";
    case CompareOp::kExists:
      break;
  }
  return "";
}

// Builds the one SELECT of a RunQuery. Each metric, param or tag key that is filtered or
// ordered on gets one join: inner when a filter needs the key present, left otherwise.
class RunSearchSql {
 public:
  Status Build(const RunQuery& q) {
    if (q.experiment_ids.empty()) {
      return InvalidArgument("a run search needs at least one experiment id");
    }
    if (q.max_results < 0 || q.offset < 0) {
      return InvalidArgument(fmt::format("max_results ({}) and offset ({}) must not be negative",
                                         q.max_results, q.offset));
    }
    experiments_ = "(" + Placeholders(q.experiment_ids.size()) + ")";
    for (int64_t id : q.experiment_ids) experiment_values_.emplace_back(id);

    where_ = "r.experiment_id IN " + experiments_;
    where_values_ = experiment_values_;
    if (q.view == ViewType::kActiveOnly) where_ += " AND r.lifecycle_stage = 'active'";
    if (q.view == ViewType::kDeletedOnly) where_ += " AND r.lifecycle_stage = 'deleted'";

    for (const RunFilter& f : q.filters) SOMLIER_RETURN_IF_ERROR(AddFilter(f));
    for (const RunOrder& o : q.order_by) SOMLIER_RETURN_IF_ERROR(AddOrder(o));
    order_ += order_.empty() ? "" : ", ";
    order_ += "r.start_time DESC, r.run_uuid ASC";
    limit_values_ = {q.max_results, q.offset};
    return OkStatus();
  }

  std::string sql() const {
    std::string joins;
    for (const Join& j : joins_) {
      joins += fmt::format(" {} {} {} ON {}.run_uuid = r.run_uuid AND {}.key = ?",
                           j.inner ? "JOIN" : "LEFT JOIN", j.table, j.alias, j.alias, j.alias);
      // Lets the engine walk latest_metrics' (experiment_id, key, value) index.
      if (j.inner && j.field == RunField::kMetric) {
        joins += fmt::format(" AND {}.experiment_id IN {}", j.alias, experiments_);
      }
    }
    return fmt::format("SELECT {} FROM runs r{} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
                       store_internal::RunColumns("r"), joins, where_, order_);
  }

  Values values() const {
    Values out;
    for (const Join& j : joins_) {
      out.emplace_back(j.key);
      if (j.inner && j.field == RunField::kMetric) {
        out.insert(out.end(), experiment_values_.begin(), experiment_values_.end());
      }
    }
    out.insert(out.end(), where_values_.begin(), where_values_.end());
    out.insert(out.end(), limit_values_.begin(), limit_values_.end());
    return out;
  }

 private:
  struct Join {
    RunField field;
    std::string key;
    std::string alias;
    std::string_view table;
    bool inner;
    bool not_null_added = false;
  };

  Join& JoinFor(RunField field, const std::string& key, bool inner) {
    for (Join& j : joins_) {
      if (j.field == field && j.key == key) {
        j.inner = j.inner || inner;
        return j;
      }
    }
    std::string_view table = field == RunField::kMetric  ? "latest_metrics"
                             : field == RunField::kParam ? "params"
                                                         : "tags";
    joins_.push_back({field, key, fmt::format("j{}", joins_.size()), table, inner});
    return joins_.back();
  }

  // Appends "<lhs> <op> <values>" to the WHERE clause.
  Status AddComparison(const std::string& lhs, const RunFilter& f, bool numeric) {
    const std::string what = fmt::format("{} '{}'", FieldName(f.field), f.key);
    const bool is_set = f.op == CompareOp::kIn || f.op == CompareOp::kNotIn;
    if (is_set ? f.values.empty() : f.values.size() != 1) {
      return InvalidArgument(fmt::format("filter on {} needs {}", what,
                                         is_set ? "at least one value" : "exactly one value"));
    }
    if (numeric && (f.op == CompareOp::kLike || f.op == CompareOp::kILike)) {
      return InvalidArgument(fmt::format("LIKE does not apply to numeric {}", what));
    }
    for (const SqlValue& v : f.values) {
      const bool is_number = std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
      if (numeric != is_number) {
        return InvalidArgument(fmt::format("filter on {} needs a {} value", what,
                                           numeric ? "numeric" : "string"));
      }
      where_values_.push_back(v);
    }
    if (is_set) {
      where_ += fmt::format(" AND {} {} ({})", lhs, OpSql(f.op), Placeholders(f.values.size()));
    } else if (f.op == CompareOp::kILike) {
      where_ += fmt::format(" AND LOWER({}) LIKE LOWER(?)", lhs);
    } else {
      where_ += fmt::format(" AND {} {} ?", lhs, OpSql(f.op));
    }
    return OkStatus();
  }

  Status AddFilter(const RunFilter& f) {
    if (f.key.empty()) return InvalidArgument("a run filter needs a key");
    if (f.field == RunField::kAttribute) {
      const AttributeColumn* a = FindAttribute(f.key);
      if (a == nullptr) {
        return InvalidArgument(fmt::format("'{}' is not a run attribute one can search on", f.key));
      }
      if (f.op == CompareOp::kExists) {
        where_ += fmt::format(" AND r.{} IS NOT NULL", a->column);
        return OkStatus();
      }
      return AddComparison(fmt::format("r.{}", a->column), f, a->numeric);
    }
    Join& j = JoinFor(f.field, f.key, /*inner=*/true);
    if (f.field == RunField::kMetric && !j.not_null_added) {
      // NaN is stored as NULL: a run whose metric is NaN has no comparable value.
      where_ += fmt::format(" AND {}.value IS NOT NULL", j.alias);
      j.not_null_added = true;
    }
    if (f.op == CompareOp::kExists) return OkStatus();
    return AddComparison(j.alias + ".value", f, f.field == RunField::kMetric);
  }

  Status AddOrder(const RunOrder& o) {
    if (!order_.empty()) order_ += ", ";
    const char* direction = o.ascending ? "ASC" : "DESC";
    if (o.field == RunField::kAttribute) {
      const AttributeColumn* a = FindAttribute(o.key);
      if (a == nullptr) {
        return InvalidArgument(fmt::format("'{}' is not a run attribute one can order by", o.key));
      }
      order_ += fmt::format("r.{} {}", a->column, direction);
      return OkStatus();
    }
    Join& j = JoinFor(o.field, o.key, /*inner=*/false);
    if (j.not_null_added) {
      order_ += fmt::format("{}.value {}", j.alias, direction);  // keeps index order usable
    } else {
      order_ += fmt::format("{}.value {} NULLS LAST", j.alias, direction);
    }
    return OkStatus();
  }

  std::string experiments_;
  Values experiment_values_;
  std::vector<Join> joins_;
  std::string where_;
  Values where_values_;
  std::string order_;
  Values limit_values_;
};

}  // namespace

bool IsRunAttribute(std::string_view key) { return FindAttribute(key) != nullptr; }

Result<store_internal::SqlStatement> store_internal::BuildRunSearch(const RunQuery& query) {
  RunSearchSql builder;
  SOMLIER_RETURN_IF_ERROR(builder.Build(query));
  return SqlStatement{builder.sql(), builder.values()};
}

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
      SOMLIER_RETURN_IF_ERROR(Exec(c,
                                   "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) "
                                   "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
                                   {info.run_id, tag.key, tag.value})
                                  .status());
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
    return Exec(c, fmt::format("UPDATE runs SET {} WHERE run_uuid = ?", sets), all).status();
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
  SOMLIER_ASSIGN_OR_RETURN(store_internal::SqlStatement statement,
                           store_internal::BuildRunSearch(query));
  std::vector<Run> runs;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    runs.clear();
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, statement.sql, statement.values));
    for (const SqlRow& row : r.rows) {
      runs.push_back({store_internal::RunInfoFromRow(row), {}, {}, {}});
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
    if (!tags.empty()) SOMLIER_RETURN_IF_ERROR(UpsertTags(c, run_id, tags));
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
