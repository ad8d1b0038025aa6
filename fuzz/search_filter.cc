// Fuzz target: MLflow search syntax — ParseSearchFilter and ParseOrderBy
// (tracking/search_syntax.h) for every SearchKind, and PlanSearch with both.
//
// Input: the first byte chooses the kind (its value mod 4: runs, experiments, registered
// models, model versions); the rest, cut at '\n', is the filter and then one order_by
// clause per line.
//
// Invariant: a filter and order the parser accepted run against a store (an empty SQLite
// database, made once per process) without an error other than InvalidArgument — the SQL
// built from them is valid.
#include <memory>

#include "fuzz/fuzz_util.h"
#include "somlier/store/store.h"
#include "somlier/tracking/search_syntax.h"

namespace {

somlier::Store& GetStore() {
  static somlier::Store* store = [] {
    auto opened = somlier::Store::Open("sqlite:///" +
                                       (somlier::fuzz::ScratchDir::Path() / "search.db").string());
    FUZZ_CHECK(opened.ok(), opened.status().ToString());
    return opened->release();
  }();
  return *store;
}

template <typename T>
void CheckRuns(const somlier::Result<T>& result, std::string_view what) {
  if (result.ok()) return;
  FUZZ_CHECK(result.status().code() == somlier::StatusCode::kInvalidArgument,
             std::string(what) + " of an accepted query failed: " + result.status().ToString());
}

void Search(somlier::SearchKind kind, const std::vector<somlier::Filter>& filters,
            const std::vector<somlier::Order>& order_by) {
  somlier::Store& store = GetStore();
  switch (kind) {
    case somlier::SearchKind::kRuns: {
      somlier::RunQuery query;
      query.experiment_ids = {0};
      query.view = somlier::ViewType::kAll;
      query.filters = filters;
      query.order_by = order_by;
      query.max_results = 10;
      return CheckRuns(store.SearchRuns(query), "SearchRuns");
    }
    case somlier::SearchKind::kExperiments: {
      somlier::ExperimentQuery query;
      query.view = somlier::ViewType::kAll;
      query.filters = filters;
      query.order_by = order_by;
      query.max_results = 10;
      return CheckRuns(store.SearchExperiments(query), "SearchExperiments");
    }
    case somlier::SearchKind::kRegisteredModels: {
      somlier::RegisteredModelQuery query;
      query.filters = filters;
      query.order_by = order_by;
      query.max_results = 10;
      return CheckRuns(store.SearchRegisteredModels(query), "SearchRegisteredModels");
    }
    case somlier::SearchKind::kModelVersions: {
      somlier::ModelVersionQuery query;
      query.filters = filters;
      query.order_by = order_by;
      query.max_results = 10;
      return CheckRuns(store.SearchModelVersions(query), "SearchModelVersions");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto kind = static_cast<somlier::SearchKind>(data[0] % 4);
  const std::vector<std::string_view> lines =
      somlier::fuzz::SplitOn(somlier::fuzz::AsText(data + 1, size - 1), '\n');
  const std::string_view filter = lines.front();
  std::vector<std::string> order_by(lines.begin() + 1, lines.end());

  auto filters = somlier::ParseSearchFilter(kind, filter);
  auto orders = somlier::ParseOrderBy(kind, order_by);

  somlier::SearchRequest request;
  request.filter = std::string(filter);
  request.order_by = order_by;
  request.max_results = 10;
  auto plan = somlier::PlanSearch(kind, request, 1000);
  FUZZ_CHECK(plan.ok() == (filters.ok() && orders.ok()),
             "PlanSearch disagrees with ParseSearchFilter + ParseOrderBy");

  if (filters.ok() && orders.ok()) Search(kind, *filters, *orders);
  return 0;
}
