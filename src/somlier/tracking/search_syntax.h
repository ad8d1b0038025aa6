// SearchSyntax: MLflow's search filter and order_by strings, parsed into the Store's
// structured queries (store/query.h).
//
//   filter:   comparison [AND comparison]...       (AND in any case; no OR, no parentheses)
//   comparison: identifier comparator value
//   identifier: [entity.]key — entity is metric(s), param(s)/parameter(s), tag(s),
//               attribute(s)/attr/run, and for runs' filters dataset(s) (keys name, digest,
//               context); without one the key is an attribute. A key with special
//               characters is quoted: metrics."val loss", tags.`user-name`.
//   comparator: = != < <= > >= LIKE ILIKE IN NOT IN (words in any case)
//   value:    a number (metrics, numeric attributes), a quoted string ('x' or "x"; a doubled
//             quote inside stands for one), or for IN a parenthesised list of strings
//             (attributes and datasets).
//   order_by: identifier [ASC|DESC] (not datasets)
//
// Which entities, keys and comparators each search accepts follows MLflow (see the .cc);
// everything else is InvalidArgument naming the offending part. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/entities.h"
#include "somlier/store/query.h"

namespace somlier {

enum class SearchKind { kRuns, kExperiments, kRegisteredModels, kModelVersions };

Result<std::vector<Filter>> ParseSearchFilter(SearchKind kind, std::string_view filter);

Result<std::vector<Order>> ParseOrderBy(SearchKind kind, const std::vector<std::string>& clauses);

// A search request as MLflow's APIs take it.
struct SearchRequest {
  std::string filter;
  std::vector<std::string> order_by;
  int64_t max_results = 1000;
  std::string page_token;
  ViewType view = ViewType::kActiveOnly;
};

// What a search asks the Store for: the parsed filter and order, and which rows — one more
// than max_results, so that MakePage (tracking/paging.h) can tell whether a page follows.
struct SearchPlan {
  std::vector<Filter> filters;
  std::vector<Order> order_by;
  int64_t offset = 0;
  int64_t fetch = 0;
};

// Errors: InvalidArgument for max_results outside 1..limit, a bad filter, order or token.
Result<SearchPlan> PlanSearch(SearchKind kind, const SearchRequest& request, int64_t limit);

}  // namespace somlier
