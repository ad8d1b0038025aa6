// QuerySql: turns the structured searches of store/query.h into SQL with bound values.
// Internal to the store (include only from store*.cc and the store tests).
//
// Runs: every metric, param or tag key that is filtered or ordered on gets one join on its
// (run_uuid, key) primary key — inner when a filter needs the key present, left otherwise —
// so the latest_metrics (experiment_id, key, value) index can drive "best run by metric".
// Dataset filters are EXISTS sub-queries on the run's inputs. Experiments, registered
// models and model versions: attribute comparisons on columns and EXISTS sub-queries for
// tags.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/store/query.h"
#include "somlier/store/store_internal.h"

namespace somlier::store_internal {

struct SqlStatement {
  std::string sql;
  Values values;
};

// SELECT <run columns> ... ORDER BY ... LIMIT ? OFFSET ?, or SELECT COUNT(*) ... when
// `count_only`.
Result<SqlStatement> BuildRunSearch(const RunQuery& query, bool count_only = false);

// A searchable attribute: its name in queries, its column, and whether it is a number.
struct AttributeColumn {
  std::string_view key;
  std::string_view column;
  bool numeric;
};

// How one of the simpler entities is stored, for BuildEntitySearch.
struct EntityTable {
  std::string_view from;     // e.g. "experiments e"
  std::string_view alias;    // e.g. "e"
  std::string_view columns;  // the selected columns, qualified with the alias
  std::span<const AttributeColumn> attributes;
  std::string_view tag_table;      // e.g. "experiment_tags"
  std::string_view tag_match;      // e.g. "t.experiment_id = e.experiment_id"
  std::string_view default_order;  // used when a query gives no order
  std::string_view tiebreak;       // always appended, for stable paging
};

Result<SqlStatement> BuildEntitySearch(const EntityTable& table, std::string_view fixed_where,
                                       const std::vector<Filter>& filters,
                                       const std::vector<Order>& order_by, int64_t max_results,
                                       int64_t offset);

}  // namespace somlier::store_internal
