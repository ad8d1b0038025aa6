// OfflineService: `offline predict` on a machine that has the registry — resolving what a
// request names (the model, the warehouse) and running offline/offline_predict.h. What the
// in-process CLI and POST /offline/predict use; a CLI that talks to a server (a DAG's pod)
// downloads the model and calls RunOfflinePredict with the warehouse it opened itself.
//
// Warehouses by name: `default` is SOMLIER_WAREHOUSE_URL, else sqlite:///$SOMLIER_HOME/
// warehouse.db; any other NAME is the URL in SOMLIER_WAREHOUSE_<NAME in upper case>. Over
// REST only those names are accepted — never a URL from the caller.
// Thread-safe (each call opens its own warehouse and worker).
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/offline/offline_predict.h"

namespace somlier {
class RegistryService;
}

namespace somlier::offline {

struct OfflineConfig {
  std::string home;  // $SOMLIER_HOME
  Environment env;   // the warehouses' variables and credentials; the model workers' env
  std::string python = "python3";
};

// `models:/...` as given, NAME/VERSION or NAME@ALIAS as a models:/ URI. Errors:
// InvalidArgument naming the accepted forms.
Result<std::string> ModelRefUri(const std::string& model_ref);

// YYYY-MM-DD as given; an ISO 8601 timestamp with an offset (Airflow's {{ ts }}) as its date in
// Asia/Seoul (`by_kst`) or UTC. Errors: InvalidArgument naming the value.
Result<std::string> RunDate(const std::string& text, bool by_kst);

// The URL of the warehouse `name` names (see above); `allow_urls`: a URL is itself.
// Errors: InvalidArgument for an unknown name or, without allow_urls, a URL.
Result<std::string> WarehouseUrl(const std::string& name, const OfflineConfig& config,
                                 bool allow_urls);

class OfflineService {
 public:
  OfflineService(RegistryService& registry, OfflineConfig config)
      : registry_(registry), config_(std::move(config)) {}

  const OfflineConfig& config() const { return config_; }

  // `allow_urls` false (a server's caller): warehouses by configured name only, tables without
  // a project, and at most kMaxRunning runs at once (Unavailable beyond). Errors: those of
  // ModelRefUri, WarehouseUrl, RegistryService::LocateModel, OpenWarehouse and
  // RunOfflinePredict.
  Result<OfflinePredictResult> Predict(const std::string& model_ref,
                                       const OfflinePredictRequest& request,
                                       const std::string& warehouse, bool allow_urls,
                                       bool count_first,
                                       const std::function<void(int64_t, int64_t)>& progress);

 private:
  static constexpr int kMaxRunning = 2;

  RegistryService& registry_;
  OfflineConfig config_;
  std::atomic<int> running_{0};
};

// Opens the warehouse and runs the prediction with `model` (counting the rows first when
// `count_first`, for a progress bar).
Result<OfflinePredictResult> PredictInto(const std::string& warehouse_url,
                                         const OfflinePredictRequest& request,
                                         const PredictModel& model, const OfflineConfig& config,
                                         bool count_first,
                                         const std::function<void(int64_t, int64_t)>& progress);

// The answer of POST /offline/predict and of `offline predict --output json`: rows,
// selected_date, seconds, rows_per_second, prediction_columns, destination, warehouse,
// model_name, model_version.
nlohmann::json OfflinePredictJson(const OfflinePredictResult& result,
                                  const OfflinePredictRequest& request,
                                  const std::string& warehouse);

}  // namespace somlier::offline
