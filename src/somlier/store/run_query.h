// RunQuery: a structured run search (which experiments, which runs, in which order) that
// the Store turns into one SQL query with bound values.
//
// The tracking layer parses MLflow's filter strings ("metrics.rmse < 1 and params.lr =
// '0.1'") into this form; the Store never parses text. Plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "somlier/store/database.h"
#include "somlier/store/entities.h"

namespace somlier {

enum class RunField { kMetric, kParam, kTag, kAttribute };

// Attribute keys: run_id, run_name, status, start_time, end_time, user_id, artifact_uri,
// lifecycle_stage, git_commit, git_ref, git_uri, project_path, entrypoint.
bool IsRunAttribute(std::string_view key);

enum class CompareOp {
  kEq, kNe, kLt, kLe, kGt, kGe,
  kLike, kILike,  // SQL LIKE patterns: % and _
  kIn, kNotIn,    // `values` holds the set
  kExists,        // the metric, param or tag is present (no value)
};

struct RunFilter {
  RunField field = RunField::kMetric;
  std::string key;
  CompareOp op = CompareOp::kEq;
  std::vector<SqlValue> values;  // one value, or the set for kIn / kNotIn
};

struct RunOrder {
  RunField field = RunField::kAttribute;
  std::string key;
  bool ascending = true;
};

struct RunQuery {
  std::vector<int64_t> experiment_ids;  // required, at least one
  ViewType view = ViewType::kActiveOnly;
  std::vector<RunFilter> filters;  // all must hold
  // Runs missing an ordering metric/param/tag sort last. Ties are broken by start time
  // (newest first) and run id, so paging with `offset` is stable.
  std::vector<RunOrder> order_by;
  int64_t max_results = 1000;
  int64_t offset = 0;
};

}  // namespace somlier
