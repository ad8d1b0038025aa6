// The helpers of store_internal.h: SQL placeholders, run rows and their data.
#include "somlier/store/store_internal.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/store/migrations.h"
#include "somlier/store/query_sql.h"

namespace somlier {

namespace store_internal {

std::string Placeholders(size_t n) {
  std::string out;
  out.reserve(n * 3);
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

std::string ValueRows(size_t rows, size_t columns) {
  const std::string row = "(" + Placeholders(columns) + ")";
  std::string out;
  out.reserve(rows * (row.size() + 2));
  for (size_t i = 0; i < rows; ++i) {
    if (i) out += ", ";
    out += row;
  }
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
  SOMLIER_ASSIGN_OR_RETURN(
      info.status, KnownInDatabase(ParseRunStatus, AsText(row[3]), "run", info.run_id, "status"));
  if (!IsNull(row[4])) info.start_time = AsInt(row[4]);
  if (!IsNull(row[5])) info.end_time = AsInt(row[5]);
  info.user_id = AsText(row[6]);
  info.artifact_uri = AsText(row[7]);
  SOMLIER_ASSIGN_OR_RETURN(
      info.lifecycle_stage,
      KnownInDatabase(ParseLifecycleStage, AsText(row[8]), "run", info.run_id, "lifecycle stage"));
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

namespace {

// Calls `fn(chunk)` for consecutive slices of `values`, each at most kValuesPerInList long.
template <typename Fn>
Status ForEachInList(const Values& values, Fn fn) {
  for (size_t start = 0; start < values.size(); start += kValuesPerInList) {
    const size_t end = std::min(values.size(), start + kValuesPerInList);
    SOMLIER_RETURN_IF_ERROR(fn(Values(values.begin() + static_cast<std::ptrdiff_t>(start),
                                      values.begin() + static_cast<std::ptrdiff_t>(end))));
  }
  return OkStatus();
}

std::string InList(size_t n) { return "(" + Placeholders(n) + ")"; }

// The text of `v`, moved out when it holds text (a dataset's profile may be 16 MiB).
std::string TakeText(SqlValue& v) {
  if (auto* text = std::get_if<std::string>(&v)) return std::move(*text);
  return AsText(v);
}

}  // namespace

Result<bool> LoadRunInputs(Connection& c, std::vector<somlier::Run>& runs, int64_t max_chars) {
  if (runs.empty()) return false;
  std::map<std::string, size_t> position;  // run id -> index in `runs`
  Values run_ids;
  for (size_t i = 0; i < runs.size(); ++i) {
    position[runs[i].info.run_id] = i;
    run_ids.emplace_back(runs[i].info.run_id);
  }
  // Which datasets each run used: ids only, however large the datasets are.
  struct InputRow {
    int64_t input_id;
    int64_t dataset_id;
  };
  std::vector<std::vector<InputRow>> used(runs.size());
  SOMLIER_RETURN_IF_ERROR(ForEachInList(run_ids, [&](const Values& chunk) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult rows,
                             Exec(c,
                                  "SELECT run_uuid, input_id, dataset_id FROM run_inputs "
                                  "WHERE run_uuid IN " +
                                      InList(chunk.size()) + " ORDER BY run_uuid, input_id",
                                  chunk));
    for (const SqlRow& row : rows.rows) {
      used[position.at(AsText(row[0]))].push_back({AsInt(row[1]), AsInt(row[2])});
    }
    return OkStatus();
  }));
  auto distinct_datasets = [&] {
    std::set<int64_t> ids;
    for (const auto& inputs : used) {
      for (const InputRow& input : inputs) ids.insert(input.dataset_id);
    }
    Values out;
    for (int64_t id : ids) out.emplace_back(id);
    return out;
  };
  Values dataset_ids = distinct_datasets();
  if (dataset_ids.empty()) return false;

  bool cut = false;
  if (max_chars > 0) {
    // Each dataset's size first, to keep only the runs whose datasets fit.
    std::map<int64_t, int64_t> chars;
    SOMLIER_RETURN_IF_ERROR(ForEachInList(dataset_ids, [&](const Values& chunk) -> Status {
      SOMLIER_ASSIGN_OR_RETURN(
          QueryResult rows,
          Exec(c,
               "SELECT dataset_id, LENGTH(name) + LENGTH(digest) + LENGTH(source_type) + "
               "LENGTH(source) + LENGTH(dataset_schema) + LENGTH(profile) FROM datasets "
               "WHERE dataset_id IN " +
                   InList(chunk.size()),
               chunk));
      for (const SqlRow& row : rows.rows) chars[AsInt(row[0])] = AsInt(row[1]);
      return OkStatus();
    }));
    int64_t total = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
      int64_t run_chars = 0;
      for (const InputRow& input : used[i]) run_chars += chars[input.dataset_id];
      if (i > 0 && total + run_chars > max_chars) {
        runs.resize(i);
        used.resize(i);
        run_ids.resize(i);
        cut = true;
        break;
      }
      total += run_chars;
    }
    if (cut) dataset_ids = distinct_datasets();
    if (dataset_ids.empty()) return cut;
  }

  // Each dataset once.
  std::map<int64_t, std::shared_ptr<const Dataset>> datasets;
  SOMLIER_RETURN_IF_ERROR(ForEachInList(dataset_ids, [&](const Values& chunk) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult rows,
        Exec(c,
             "SELECT dataset_id, name, digest, source_type, source, dataset_schema, profile "
             "FROM datasets WHERE dataset_id IN " +
                 InList(chunk.size()),
             chunk));
    for (SqlRow& row : rows.rows) {
      datasets[AsInt(row[0])] = std::make_shared<const Dataset>(
          Dataset{TakeText(row[1]), TakeText(row[2]), TakeText(row[3]), TakeText(row[4]),
                  TakeText(row[5]), TakeText(row[6])});
    }
    return OkStatus();
  }));
  // The inputs' tags.
  std::map<int64_t, std::vector<Tag>> tags;
  SOMLIER_RETURN_IF_ERROR(ForEachInList(run_ids, [&](const Values& chunk) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult rows,
                             Exec(c,
                                  "SELECT t.input_id, t.key, t.value FROM run_input_tags t "
                                  "JOIN run_inputs i ON i.input_id = t.input_id "
                                  "WHERE i.run_uuid IN " +
                                      InList(chunk.size()) + " ORDER BY t.input_id, t.key",
                                  chunk));
    for (const SqlRow& row : rows.rows) {
      tags[AsInt(row[0])].push_back({AsText(row[1]), AsText(row[2])});
    }
    return OkStatus();
  }));
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i].inputs.clear();
    runs[i].inputs.reserve(used[i].size());
    for (const InputRow& input : used[i]) {
      auto dataset = datasets.find(input.dataset_id);
      if (dataset == datasets.end()) {
        return Internal(fmt::format("run '{}' used dataset {}, which is not in the database",
                                    runs[i].info.run_id, input.dataset_id));
      }
      auto input_tags = tags.find(input.input_id);
      runs[i].inputs.emplace_back(dataset->second, input_tags == tags.end()
                                                       ? std::vector<Tag>()
                                                       : std::move(input_tags->second));
    }
  }
  return cut;
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

}  // namespace somlier
