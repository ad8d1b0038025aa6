// The helpers of store_internal.h: SQL placeholders, run rows and their data.
#include "somlier/store/store_internal.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

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
  return LoadRunInputs(c, by_id, ids);
}

Status LoadRunInputs(Connection& c, const std::map<std::string, somlier::Run*>& by_id,
                     const Values& ids) {
  const std::string in = "(" + Placeholders(ids.size()) + ")";
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult inputs,
      Exec(c,
           "SELECT i.run_uuid, i.input_id, d.name, d.digest, d.source_type, d.source, "
           "d.dataset_schema, d.profile FROM run_inputs i JOIN datasets d ON d.dataset_id = "
           "i.dataset_id WHERE i.run_uuid IN " +
               in + " ORDER BY i.run_uuid, i.input_id",
           ids));
  if (inputs.rows.empty()) return OkStatus();
  // Where each input went (an index: a run's inputs move while they are appended).
  std::map<int64_t, std::pair<somlier::Run*, size_t>> by_input;
  for (const SqlRow& row : inputs.rows) {
    somlier::Run* run = by_id.at(AsText(row[0]));
    DatasetInput input;
    input.dataset = {AsText(row[2]), AsText(row[3]), AsText(row[4]),
                     AsText(row[5]), AsText(row[6]), AsText(row[7])};
    by_input[AsInt(row[1])] = {run, run->inputs.size()};
    run->inputs.push_back(std::move(input));
  }
  SOMLIER_ASSIGN_OR_RETURN(
      QueryResult tags,
      Exec(c,
           "SELECT t.input_id, t.key, t.value FROM run_input_tags t JOIN run_inputs i ON "
           "i.input_id = t.input_id WHERE i.run_uuid IN " +
               in + " ORDER BY t.input_id, t.key",
           ids));
  for (const SqlRow& row : tags.rows) {
    auto it = by_input.find(AsInt(row[0]));
    if (it == by_input.end()) continue;  // an input logged since the first read
    auto& [run, index] = it->second;
    run->inputs[index].tags.push_back({AsText(row[1]), AsText(row[2])});
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

}  // namespace somlier
