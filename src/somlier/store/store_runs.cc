// Store: runs, their params, metrics and tags, and run search (dataset inputs: store_inputs.cc).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "somlier/core/ids.h"
#include "somlier/core/time.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::CheckRun;
using store_internal::Exec;
using store_internal::kRowsPerInsert;
using store_internal::Placeholders;
using store_internal::ValueRows;
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

Status Store::CreateRun(const RunInfo& info, const std::vector<Tag>& tags,
                        const std::vector<Param>& params) {
  if (!IsValidRunId(info.run_id)) {
    return InvalidArgument(
        fmt::format("run id '{}' is not 32 lowercase hexadecimal digits", info.run_id));
  }
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult e, Exec(c,
                                                 "SELECT lifecycle_stage FROM experiments "
                                                 "WHERE experiment_id = ?",
                                                 {info.experiment_id}));
    if (e.rows.empty()) {
      return NotFound(fmt::format("experiment with id '{}' does not exist", info.experiment_id));
    }
    if (AsText(e.rows[0][0]) != "active") {
      return FailedPrecondition(
          fmt::format("experiment with id '{}' is deleted; restore it to create runs in it",
                      info.experiment_id));
    }
    auto optional_int = [](const auto& v) { return v ? SqlValue(int64_t{*v}) : SqlValue(); };
    auto inserted =
        Exec(c,
             fmt::format("INSERT INTO runs ({}) VALUES ({})", store_internal::RunColumns(""),
                         Placeholders(18)),
             {info.run_id, info.experiment_id, info.run_name, std::string(ToString(info.status)),
              optional_int(info.start_time), optional_int(info.end_time), info.user_id,
              info.artifact_uri, std::string(ToString(info.lifecycle_stage)), info.source.git_uri,
              info.source.git_ref, info.source.git_commit, info.source.project_path,
              info.source.entrypoint, optional_int(info.exit_code), info.status_message,
              info.executor, optional_int(info.pid)});
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
    for (const Param& param : params) {
      SOMLIER_RETURN_IF_ERROR(Exec(c, "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)",
                                   {info.run_id, param.key, param.value})
                                  .status());
    }
    return OkStatus();
  });
}

Result<Run> Store::GetRun(const std::string& run_id) {
  std::vector<Run> runs;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                             Exec(c,
                                  fmt::format("SELECT {} FROM runs r WHERE r.run_uuid = ?",
                                              store_internal::RunColumns("r")),
                                  {run_id}));
    if (r.rows.empty()) return NotFound(fmt::format("run '{}' does not exist", run_id));
    SOMLIER_ASSIGN_OR_RETURN(RunInfo info, store_internal::RunInfoFromRow(r.rows[0]));
    runs.push_back({std::move(info), {}, {}, {}, {}});
    SOMLIER_RETURN_IF_ERROR(store_internal::LoadRunData(c, runs));
    return store_internal::LoadRunInputs(c, runs).status();
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
  if (u.executor) set("executor", *u.executor);
  if (u.pid) set("pid", *u.pid);
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/false).status());
    if (sets.empty()) return OkStatus();
    Values all = values;
    all.emplace_back(run_id);
    std::string where = "run_uuid = ?";
    if (!u.only_from.empty()) {
      // In the UPDATE itself, so the check and the change are one atomic step on both engines.
      where += fmt::format(" AND status IN ({})", Placeholders(u.only_from.size()));
      for (RunStatus from : u.only_from) all.emplace_back(std::string(ToString(from)));
    }
    SOMLIER_ASSIGN_OR_RETURN(QueryResult updated,
                             Exec(c, fmt::format("UPDATE runs SET {} WHERE {}", sets, where), all));
    if (updated.affected_rows == 0) {
      SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                               Exec(c, "SELECT status FROM runs WHERE run_uuid = ?", {run_id}));
      return FailedPrecondition(fmt::format("run '{}' is {}", run_id, AsText(r.rows.at(0)[0])));
    }
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

Result<std::vector<RunInfo>> Store::ListHeldRuns() {
  std::vector<RunInfo> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    out.clear();
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c, fmt::format("SELECT {} FROM runs r WHERE r.executor <> ''",  // runs_held
                            store_internal::RunColumns("r"))));
    for (const SqlRow& row : r.rows) {
      SOMLIER_ASSIGN_OR_RETURN(RunInfo info, store_internal::RunInfoFromRow(row));
      out.push_back(std::move(info));
    }
    return OkStatus();
  }));
  return out;
}

Result<std::vector<Run>> Store::SearchRuns(const RunQuery& query, bool* cut_short) {
  if (cut_short != nullptr) *cut_short = false;
  // Is the first order on a metric, param or tag that no filter already requires? Then
  // read the runs having it (index order) first and those without it after.
  bool split = false;
  if (!query.order_by.empty() && query.order_by[0].kind != FieldKind::kAttribute &&
      query.order_by[0].kind != FieldKind::kDataset) {  // refused by BuildRunSearch
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
  bool cut = false;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    runs.clear();
    cut = false;
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, first_part.sql, first_part.values));
    for (const SqlRow& row : r.rows) {
      SOMLIER_ASSIGN_OR_RETURN(RunInfo info, store_internal::RunInfoFromRow(row));
      runs.push_back({std::move(info), {}, {}, {}, {}});
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
        SOMLIER_ASSIGN_OR_RETURN(RunInfo info, store_internal::RunInfoFromRow(row));
        runs.push_back({std::move(info), {}, {}, {}, {}});
      }
    }
    if (query.with_inputs) {  // first: it may leave runs out
      SOMLIER_ASSIGN_OR_RETURN(cut, store_internal::LoadRunInputs(c, runs, query.max_input_chars));
    }
    return store_internal::LoadRunData(c, runs);
  }));
  if (cut_short != nullptr) *cut_short = cut;
  return runs;
}

namespace {

SqlValue MetricValue(double v) { return std::isnan(v) ? SqlValue() : SqlValue(v); }

// Metric points packed into metric_log's blob: per point a 2-byte key length, the key,
// then step, timestamp (int64), value (double) and an is-NaN byte, in this machine's byte
// order (the log is consumed by the same store that wrote it... and by any SoMLier on the
// same architecture).
std::string PackPoints(const std::vector<Metric>& metrics) {
  std::string out;
  out.reserve(metrics.size() * 40);
  for (const Metric& m : metrics) {
    const uint16_t length = static_cast<uint16_t>(m.key.size());
    const bool nan = std::isnan(m.value);
    const double value = nan ? 0.0 : m.value;
    const char is_nan = nan ? 1 : 0;
    out.append(reinterpret_cast<const char*>(&length), sizeof length);
    out.append(m.key);
    out.append(reinterpret_cast<const char*>(&m.step), sizeof m.step);
    out.append(reinterpret_cast<const char*>(&m.timestamp), sizeof m.timestamp);
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
    out.append(&is_nan, 1);
  }
  return out;
}

// Calls `fn(key, step, timestamp, value, is_nan)` for each packed point; false when the
// bytes are not a packing of points.
template <typename Fn>
bool UnpackPoints(std::string_view bytes, Fn fn) {
  size_t at = 0;
  auto take = [&](void* out, size_t n) {
    if (bytes.size() - at < n) return false;
    std::memcpy(out, bytes.data() + at, n);
    at += n;
    return true;
  };
  while (at < bytes.size()) {
    uint16_t length;
    if (!take(&length, sizeof length) || bytes.size() - at < length) return false;
    std::string_view key = bytes.substr(at, length);
    at += length;
    int64_t step, timestamp;
    double value;
    char is_nan;
    if (!take(&step, sizeof step) || !take(&timestamp, sizeof timestamp) ||
        !take(&value, sizeof value) || !take(&is_nan, 1)) {
      return false;
    }
    fn(key, step, timestamp, value, is_nan != 0);
  }
  return true;
}

// The statements of one log-batch, built before it joins the group commit, so that the
// serialised part only runs them.
struct PreparedBatch {
  std::map<std::string, std::string> params;  // wanted values, by key
  std::vector<store_internal::SqlStatement> param_inserts;
  store_internal::SqlStatement param_check;
  std::optional<store_internal::SqlStatement> tag_upsert;
  std::optional<std::string> new_run_name;  // from an mlflow.runName tag
  std::optional<store_internal::SqlStatement> metric_log_insert;
  std::optional<store_internal::SqlStatement> latest_upsert;
  std::vector<size_t> experiment_slots;  // positions in latest_upsert's values
};

Result<PreparedBatch> Prepare(const std::string& run_id, const std::vector<Metric>& metrics,
                              const std::vector<Param>& params, const std::vector<Tag>& tags) {
  PreparedBatch b;
  // Params: the same key twice in one batch is fine with the same value, an error with
  // another; they are inserted if absent, then compared with what is stored.
  for (const Param& p : params) {
    if (p.key.empty()) return InvalidArgument("a param key must not be empty");
    auto [it, inserted] = b.params.emplace(p.key, p.value);
    if (!inserted && it->second != p.value) {
      return InvalidArgument(fmt::format(
          "param '{}' is given twice in one batch with different values ('{}' and '{}')", p.key,
          it->second, p.value));
    }
  }
  if (!b.params.empty()) {
    std::vector<std::pair<std::string, std::string>> rows(b.params.begin(), b.params.end());
    for (size_t start = 0; start < rows.size(); start += kRowsPerInsert) {
      const size_t end = std::min(rows.size(), start + kRowsPerInsert);
      store_internal::SqlStatement insert;
      insert.sql = "INSERT INTO params (run_uuid, key, value) VALUES " + ValueRows(end - start, 3) +
                   " ON CONFLICT (run_uuid, key) DO NOTHING";
      for (size_t i = start; i < end; ++i) {
        insert.values.insert(insert.values.end(), {run_id, rows[i].first, rows[i].second});
      }
      b.param_inserts.push_back(std::move(insert));
    }
    b.param_check.sql =
        fmt::format("SELECT key, value FROM params WHERE run_uuid = ? AND key IN ({})",
                    Placeholders(rows.size()));
    b.param_check.values.emplace_back(run_id);
    for (const auto& [key, value] : rows) b.param_check.values.emplace_back(key);
  }

  // Tags: the last value of a key in the batch wins; mlflow.runName also renames the run.
  std::map<std::string, std::string> latest_tags;
  for (const Tag& t : tags) {
    if (t.key.empty()) return InvalidArgument("a tag key must not be empty");
    latest_tags[t.key] = t.value;
    if (t.key == kRunNameTag) b.new_run_name = t.value;
  }
  if (!latest_tags.empty()) {
    store_internal::SqlStatement upsert;
    upsert.sql = "INSERT INTO tags (run_uuid, key, value) VALUES " +
                 ValueRows(latest_tags.size(), 3) +
                 " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value";
    for (const auto& [key, value] : latest_tags)
      upsert.values.insert(upsert.values.end(), {run_id, key, value});
    b.tag_upsert = std::move(upsert);
  }

  // Metrics: the history goes to the append-only metric_log (CompactMetrics moves it on),
  // then the batch's latest value per key (highest step, then timestamp; a later one wins
  // a tie) replaces a stored latest value that is not newer.
  if (metrics.empty()) return b;
  for (const Metric& m : metrics) {
    if (m.key.empty()) return InvalidArgument("a metric key must not be empty");
  }
  for (const Metric& m : metrics) {
    if (m.key.size() > 65535) return InvalidArgument("a metric key is too long");
  }
  b.metric_log_insert =
      store_internal::SqlStatement{"INSERT INTO metric_log (run_uuid, points) VALUES (?, ?)",
                                   {run_id, SqlBlob{PackPoints(metrics)}}};
  std::map<std::string, const Metric*> latest;
  for (const Metric& m : metrics) {
    auto [it, inserted] = latest.emplace(m.key, &m);
    if (!inserted &&
        std::tie(m.step, m.timestamp) >= std::tie(it->second->step, it->second->timestamp)) {
      it->second = &m;
    }
  }
  store_internal::SqlStatement upsert;
  upsert.sql =
      "INSERT INTO latest_metrics (run_uuid, experiment_id, key, value, is_nan, timestamp, step) "
      "VALUES " +
      ValueRows(latest.size(), 7) +
      " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = "
      "excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step "
      "WHERE (excluded.step, excluded.timestamp) >= (latest_metrics.step, "
      "latest_metrics.timestamp)";
  for (const auto& [key, m] : latest) {
    b.experiment_slots.push_back(upsert.values.size() + 1);
    upsert.values.insert(upsert.values.end(),
                         {run_id, int64_t{0}, key, MetricValue(m->value),
                          int64_t{std::isnan(m->value) ? 1 : 0}, m->timestamp, m->step});
  }
  b.latest_upsert = std::move(upsert);
  return b;
}

Status Execute(Connection& c, const std::string& run_id, PreparedBatch& b) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t experiment_id, CheckRun(c, run_id, /*require_active=*/true));
  for (const auto& insert : b.param_inserts) {
    SOMLIER_RETURN_IF_ERROR(Exec(c, insert.sql, insert.values).status());
  }
  if (!b.params.empty()) {
    // A different earlier value wins and is an error.
    SOMLIER_ASSIGN_OR_RETURN(QueryResult stored, Exec(c, b.param_check.sql, b.param_check.values));
    for (const SqlRow& row : stored.rows) {
      const std::string key = AsText(row[0]);
      const std::string value = AsText(row[1]);
      if (b.params[key] != value) {
        return InvalidArgument(fmt::format(
            "param '{}' of run '{}' was already logged with value '{}'; params are write-once "
            "and cannot be changed to '{}'",
            key, run_id, value, b.params[key]));
      }
    }
  }
  if (b.tag_upsert)
    SOMLIER_RETURN_IF_ERROR(Exec(c, b.tag_upsert->sql, b.tag_upsert->values).status());
  if (b.new_run_name) {
    SOMLIER_RETURN_IF_ERROR(
        Exec(c, "UPDATE runs SET name = ? WHERE run_uuid = ?", {*b.new_run_name, run_id}).status());
  }
  if (b.metric_log_insert) {
    SOMLIER_RETURN_IF_ERROR(
        Exec(c, b.metric_log_insert->sql, b.metric_log_insert->values).status());
  }
  if (b.latest_upsert) {
    for (size_t slot : b.experiment_slots) b.latest_upsert->values[slot] = experiment_id;
    SOMLIER_RETURN_IF_ERROR(Exec(c, b.latest_upsert->sql, b.latest_upsert->values).status());
  }
  return OkStatus();
}

}  // namespace

Status Store::LogBatch(const std::string& run_id, const std::vector<Metric>& metrics,
                       const std::vector<Param>& params, const std::vector<Tag>& tags) {
  SOMLIER_ASSIGN_OR_RETURN(PreparedBatch batch, Prepare(run_id, metrics, params, tags));
  if (!metrics.empty()) last_log_batch_ms_.store(NowMillis());
  return log_batches_->Run([&](Connection& c) { return Execute(c, run_id, batch); });
}

Result<int64_t> Store::CompactMetrics(int64_t max_points) {
  int64_t moved = 0;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(true, [&](Connection& c) -> Status {
    moved = 0;
    // Read whole logged batches until about `max_points` points are gathered.
    struct Point {
      std::string run;
      std::string key;
      int64_t step, timestamp;
      double value;
      bool is_nan;
    };
    std::vector<Point> points;
    Values seqs;  // exactly the rows read: on PostgreSQL a lower seq may commit later
    int64_t last_seq = -1;
    while (static_cast<int64_t>(points.size()) < max_points) {
      SOMLIER_ASSIGN_OR_RETURN(
          QueryResult rows,
          Exec(c,
               "SELECT seq, run_uuid, points FROM metric_log WHERE seq > ? ORDER BY seq LIMIT 256",
               {last_seq}));
      if (rows.rows.empty()) break;
      for (const SqlRow& row : rows.rows) {
        last_seq = AsInt(row[0]);
        seqs.emplace_back(last_seq);
        const std::string run = AsText(row[1]);
        const std::string bytes = AsText(row[2]);
        if (!UnpackPoints(bytes,
                          [&](std::string_view key, int64_t step, int64_t ts, double v, bool nan) {
                            points.push_back({run, std::string(key), step, ts, v, nan});
                          })) {
          return Internal(fmt::format("metric_log row {} is damaged", last_seq));
        }
      }
    }
    if (last_seq < 0) return OkStatus();
    // In series order, so each page of the clustered table is written once per compaction.
    std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
      return std::tie(a.run, a.key, a.step, a.timestamp) <
             std::tie(b.run, b.key, b.step, b.timestamp);
    });
    for (size_t start = 0; start < points.size(); start += kRowsPerInsert) {
      const size_t end = std::min(points.size(), start + kRowsPerInsert);
      Values values;
      values.reserve((end - start) * 6);
      for (size_t i = start; i < end; ++i) {
        const Point& p = points[i];
        values.insert(values.end(),
                      {p.run, p.key, p.step, p.timestamp, p.value, int64_t{p.is_nan ? 1 : 0}});
      }
      SOMLIER_RETURN_IF_ERROR(
          Exec(c,
               "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES " +
                   ValueRows(end - start, 6) + " ON CONFLICT DO NOTHING",
               values)
              .status());
    }
    for (size_t start = 0; start < seqs.size(); start += kRowsPerInsert) {
      const size_t end = std::min(seqs.size(), start + kRowsPerInsert);
      SOMLIER_RETURN_IF_ERROR(
          Exec(c, "DELETE FROM metric_log WHERE seq IN (" + Placeholders(end - start) + ")",
               Values(seqs.begin() + static_cast<std::ptrdiff_t>(start),
                      seqs.begin() + static_cast<std::ptrdiff_t>(end)))
              .status());
    }
    moved = static_cast<int64_t>(points.size());
    return OkStatus();
  }));
  return moved;
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
    out.clear();
    SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/false).status());
    // Points not yet compacted are in metric_log.
    std::vector<Metric> logged;
    SOMLIER_ASSIGN_OR_RETURN(QueryResult log,
                             Exec(c, "SELECT points FROM metric_log WHERE run_uuid = ?", {run_id}));
    for (const SqlRow& row : log.rows) {
      UnpackPoints(AsText(row[0]),
                   [&](std::string_view k, int64_t step, int64_t ts, double v, bool nan) {
                     if (k == key) logged.push_back({key, nan ? std::nan("") : v, ts, step});
                   });
    }
    // With nothing logged, the page comes straight from the clustered table; otherwise
    // merge its first offset + max_results points with the logged ones.
    const int64_t limit = logged.empty() ? max_results : offset + max_results;
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c,
             "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ? "
             "ORDER BY step, timestamp, value LIMIT ? OFFSET ?",
             {run_id, key, limit, logged.empty() ? offset : int64_t{0}}));
    out.reserve(r.rows.size() + logged.size());
    for (const SqlRow& row : r.rows) {
      out.push_back(
          {key, AsInt(row[1]) ? std::nan("") : AsDouble(row[0]), AsInt(row[2]), AsInt(row[3])});
    }
    if (logged.empty()) return OkStatus();
    out.insert(out.end(), logged.begin(), logged.end());
    // Order by (step, timestamp, value) with NaN as the clustered table stores it (0), and
    // drop exact repeats: a point logged twice is one point, as in MLflow.
    auto order_key = [](const Metric& m) {
      return std::make_tuple(m.step, m.timestamp, std::isnan(m.value) ? 0.0 : m.value,
                             std::isnan(m.value));
    };
    std::stable_sort(out.begin(), out.end(),
                     [&](const Metric& a, const Metric& b) { return order_key(a) < order_key(b); });
    out.erase(
        std::unique(out.begin(), out.end(),
                    [&](const Metric& a, const Metric& b) { return order_key(a) == order_key(b); }),
        out.end());
    const size_t begin = std::min(out.size(), static_cast<size_t>(offset));
    const size_t end = std::min(out.size(), begin + static_cast<size_t>(max_results));
    out = std::vector<Metric>(out.begin() + static_cast<std::ptrdiff_t>(begin),
                              out.begin() + static_cast<std::ptrdiff_t>(end));
    return OkStatus();
  }));
  return out;
}

}  // namespace somlier
