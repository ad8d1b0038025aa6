// Query: structured searches (which rows, in which order, which page) that the Store
// turns into SQL with bound values — for runs, experiments, registered models and model
// versions.
//
// The tracking and registry layers parse MLflow's filter and order_by strings
// ("metrics.rmse < 1 and params.lr = '0.1'", "metrics.rmse DESC") into these; the Store
// never parses text. Each search names the attributes it accepts (see the comments
// below); an unknown attribute, or a value of the wrong type for its comparator, is
// InvalidArgument. Plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "somlier/store/database.h"
#include "somlier/store/entities.h"

namespace somlier {

// kDataset: the datasets a run used (its dataset inputs); its keys are "name", "digest" and
// "context" (the input's mlflow.data.context tag). A filter on one holds when any of the
// run's inputs matches; compared with =, !=, LIKE, ILIKE, IN and NOT IN; never ordered by.
enum class FieldKind { kAttribute, kMetric, kParam, kTag, kDataset };

enum class CompareOp {
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLike,
  kILike,  // SQL LIKE patterns (% and _); LIKE is case-sensitive, ILIKE is not
  kIn,
  kNotIn,      // `values` holds the set
  kExists,     // the metric, param or tag is present (a metric: with a non-NaN value)
  kNotExists,  // ... is absent
};

struct Filter {
  FieldKind kind = FieldKind::kAttribute;
  std::string key;
  CompareOp op = CompareOp::kEq;
  std::vector<SqlValue> values;  // one value, or the set for kIn / kNotIn; numbers for
                                 // metrics and numeric attributes, text otherwise
};

struct Order {
  FieldKind kind = FieldKind::kAttribute;
  std::string key;
  bool ascending = true;
};

// Run attributes: run_id, run_name, status, start_time, end_time, user_id, artifact_uri,
// lifecycle_stage, git_uri, git_ref, git_commit, project_path, entrypoint. Filters and
// orders may also name metrics, params and tags, and filters datasets. Runs missing an
// ordering metric, param or tag sort last; ties are broken by start time (newest first),
// then run id.
// What one search may ask for: every metric, param or tag key a run search names costs the
// engine a join (SQLite allows 64 tables in one), and every filter a condition.
inline constexpr size_t kMaxSearchKeys = 50;
inline constexpr size_t kMaxSearchFilters = 100;

struct RunQuery {
  std::vector<int64_t> experiment_ids;  // at least one
  ViewType view = ViewType::kActiveOnly;
  std::vector<Filter> filters;  // all must hold
  std::vector<Order> order_by;
  int64_t max_results = 1000;
  int64_t offset = 0;
  // Whether the runs carry their dataset inputs (Run::inputs). MLflow's answers show them;
  // SoMLier's own lists do not, and then nothing of them is read.
  bool with_inputs = false;
  // With inputs, when more than 0: about how many characters of datasets one search may
  // return, counting every run's datasets (a dataset many runs used counts once per run, as
  // an answer showing each run carries it). From the first run that would pass it, the runs
  // are left out — the first run is always kept — and SearchRuns says that it cut the
  // result short.
  int64_t max_input_chars = 0;
};

// Experiment attributes: experiment_id, name, creation_time, last_update_time; filters
// may name tags. Default order: creation_time DESC; ties by experiment_id.
struct ExperimentQuery {
  ViewType view = ViewType::kActiveOnly;
  std::vector<Filter> filters;
  std::vector<Order> order_by;
  int64_t max_results = 1000;
  int64_t offset = 0;
};

// Registered model attributes: name, creation_timestamp, last_updated_timestamp; filters
// may name tags. Default order: name ASC.
struct RegisteredModelQuery {
  std::vector<Filter> filters;
  std::vector<Order> order_by;
  int64_t max_results = 100;
  int64_t offset = 0;
};

// Model version attributes: name, version_number, run_id, source_path, current_stage,
// creation_timestamp, last_updated_timestamp; filters may name tags. Default order:
// last_updated_timestamp DESC; ties by name ASC, version DESC.
struct ModelVersionQuery {
  std::vector<Filter> filters;
  std::vector<Order> order_by;
  int64_t max_results = 1000;
  int64_t offset = 0;
};

}  // namespace somlier
