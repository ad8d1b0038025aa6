// Store: the datasets runs used (MLflow's log-inputs) — written here; read with the runs
// (store_internal.cc, LoadRunInputs).
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "somlier/store/store.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::CheckRun;
using store_internal::Exec;
using store_internal::kRowsPerInsert;
using store_internal::ValueRows;
using store_internal::Values;

Status Store::LogInputs(const std::string& run_id, const std::vector<DatasetInput>& inputs) {
  // The first input of each (name, digest), in the order given, as MLflow keeps them.
  std::vector<const DatasetInput*> distinct;
  std::map<std::pair<std::string, std::string>, int64_t> dataset_ids;  // filled below
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dataset == nullptr) {
      return InvalidArgument(fmt::format("dataset input {} has no dataset", i));
    }
    const Dataset& d = *inputs[i].dataset;
    const std::pair<std::string_view, const std::string*> required[] = {
        {"name", &d.name},
        {"digest", &d.digest},
        {"source_type", &d.source_type},
        {"source", &d.source}};
    for (const auto& [field, value] : required) {
      if (value->empty()) {
        return InvalidArgument(fmt::format("dataset input {} has no {}", i, field));
      }
    }
    for (const Tag& tag : inputs[i].tags) {
      if (tag.key.empty()) {
        return InvalidArgument(fmt::format("dataset input {} has a tag without a key", i));
      }
    }
    if (dataset_ids.emplace(std::pair(d.name, d.digest), 0).second) distinct.push_back(&inputs[i]);
  }
  // Datasets are written in (name, digest) order: concurrent writers of the same datasets
  // (to other runs of the experiment) then take their locks in one order.
  std::vector<const DatasetInput*> sorted = distinct;
  std::sort(sorted.begin(), sorted.end(), [](const DatasetInput* a, const DatasetInput* b) {
    return std::tie(a->dataset->name, a->dataset->digest) <
           std::tie(b->dataset->name, b->dataset->digest);
  });
  return db_->Transaction(true, [&](Connection& c) -> Status {
    // The run's row first, with an UPDATE that changes nothing: it holds the row until
    // commit (PostgreSQL; SQLite's writers take turns anyway), so concurrent log-inputs of
    // one run follow each other — they cannot deadlock on its inputs, whatever order their
    // datasets come in — and the run cannot be deleted between this check and the inserts.
    SOMLIER_ASSIGN_OR_RETURN(QueryResult locked,
                             Exec(c,
                                  "UPDATE runs SET lifecycle_stage = lifecycle_stage "
                                  "WHERE run_uuid = ? AND lifecycle_stage = 'active' "
                                  "RETURNING experiment_id",
                                  {run_id}));
    if (locked.rows.empty()) {
      SOMLIER_RETURN_IF_ERROR(CheckRun(c, run_id, /*require_active=*/true).status());
      // Restored since the UPDATE looked: Unavailable has PostgreSQL's transaction retried.
      return Unavailable(
          fmt::format("run '{}' changed while its inputs were being logged; try again", run_id));
    }
    const int64_t experiment_id = AsInt(locked.rows[0][0]);
    for (const DatasetInput* input : sorted) {
      const Dataset& d = *input->dataset;
      SOMLIER_RETURN_IF_ERROR(
          Exec(c,
               "INSERT INTO datasets (experiment_id, name, digest, source_type, source, "
               "dataset_schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (experiment_id, name, digest) DO NOTHING",
               {experiment_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile})
              .status());
      SOMLIER_ASSIGN_OR_RETURN(QueryResult found,
                               Exec(c,
                                    "SELECT dataset_id FROM datasets WHERE experiment_id = ? "
                                    "AND name = ? AND digest = ?",
                                    {experiment_id, d.name, d.digest}));
      if (found.rows.empty()) {
        return Internal(fmt::format("dataset '{}' ({}) was not stored", d.name, d.digest));
      }
      dataset_ids[{d.name, d.digest}] = AsInt(found.rows[0][0]);
    }
    // Then the run's inputs, in the order given (the run's row orders concurrent calls);
    // one the run already has keeps its tags.
    std::vector<std::tuple<int64_t, std::string, std::string>> tag_rows;
    for (const DatasetInput* input : distinct) {
      const int64_t dataset_id = dataset_ids.at({input->dataset->name, input->dataset->digest});
      SOMLIER_ASSIGN_OR_RETURN(QueryResult added,
                               Exec(c,
                                    "INSERT INTO run_inputs (run_uuid, dataset_id) VALUES (?, ?) "
                                    "ON CONFLICT (run_uuid, dataset_id) DO NOTHING "
                                    "RETURNING input_id",
                                    {run_id, dataset_id}));
      if (added.rows.empty()) continue;
      const int64_t input_id = AsInt(added.rows[0][0]);
      std::map<std::string, std::string> tags;  // the last value of a key wins
      for (const Tag& tag : input->tags) tags[tag.key] = tag.value;
      for (const auto& [key, value] : tags) tag_rows.emplace_back(input_id, key, value);
    }
    // The new inputs' tags, kRowsPerInsert to a statement.
    for (size_t start = 0; start < tag_rows.size(); start += kRowsPerInsert) {
      const size_t end = std::min(tag_rows.size(), start + kRowsPerInsert);
      Values values;
      values.reserve((end - start) * 3);
      for (size_t i = start; i < end; ++i) {
        const auto& [input_id, key, value] = tag_rows[i];
        values.insert(values.end(), {input_id, key, value});
      }
      SOMLIER_RETURN_IF_ERROR(Exec(c,
                                   "INSERT INTO run_input_tags (input_id, key, value) VALUES " +
                                       ValueRows(end - start, 3),
                                   values)
                                  .status());
    }
    return OkStatus();
  });
}

}  // namespace somlier
