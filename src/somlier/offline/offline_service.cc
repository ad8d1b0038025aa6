#include "somlier/offline/offline_service.h"

#include <fmt/core.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "somlier/batch/dag_file.h"
#include "somlier/core/time.h"
#include "somlier/registry/registry_service.h"
#include "somlier/serving/cell_values.h"

namespace somlier::offline {

Result<std::string> ModelRefUri(const std::string& ref) {
  if (ref.starts_with("models:/")) return ref;
  const size_t at = ref.find('@');
  const size_t slash = ref.find('/');
  const bool alias =
      at != std::string::npos && at > 0 && at + 1 < ref.size() && slash == std::string::npos;
  const bool version = slash != std::string::npos && slash > 0 && slash + 1 < ref.size() &&
                       ref.find('/', slash + 1) == std::string::npos && at == std::string::npos;
  if (!alias && !version) {
    return InvalidArgument(
        fmt::format("MODEL_REF '{}' is not NAME/VERSION, NAME@ALIAS or models:/...", ref));
  }
  return "models:/" + ref;
}

Result<std::string> RunDate(const std::string& text, bool by_kst) {
  if (text.size() == 10) {
    SOMLIER_RETURN_IF_ERROR(batch::ParseDate("--date", text).status());
    return text;
  }
  const bool has_offset =
      text.ends_with("Z") ||
      (text.size() > 6 && (text[text.size() - 6] == '+' || text[text.size() - 6] == '-'));
  auto nanos = serving::ParseDatetime(text);
  if (!nanos || !has_offset) {
    return InvalidArgument(
        fmt::format("--date '{}' is not a date YYYY-MM-DD or a timestamp with an offset "
                    "(2026-12-01T18:00:00+00:00)",
                    text));
  }
  int64_t seconds = *nanos / 1'000'000'000;
  if (*nanos < 0 && *nanos % 1'000'000'000 != 0) --seconds;
  // SeoulDate is the date at UTC+9; the UTC date is the Seoul date 9 hours earlier.
  return batch::FormatDate(batch::SeoulDate(by_kst ? seconds : seconds - 9 * 3600));
}

Result<std::string> WarehouseUrl(const std::string& name, const OfflineConfig& config,
                                 bool allow_urls) {
  if (name.find("://") != std::string::npos || name.starts_with("sqlite:") ||
      name.starts_with("postgres") || name.starts_with("bigquery:")) {
    if (allow_urls) return name;
    return InvalidArgument(
        "'warehouse' takes the name of a warehouse this server is configured with (default, or "
        "NAME for SOMLIER_WAREHOUSE_<NAME>), not a URL");
  }
  if (name.empty() || name == "default") {
    std::string url = Lookup(config.env, "SOMLIER_WAREHOUSE_URL");
    return url.empty() ? DefaultWarehouseUrl(config.home) : url;
  }
  std::string variable = "SOMLIER_WAREHOUSE_";
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return InvalidArgument(fmt::format(
          "warehouse '{}' is not a name of letters, digits and '_' (or, on the command line, a "
          "URL)",
          name));
    }
    variable += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  std::string url = Lookup(config.env, variable);
  if (url.empty() || variable.size() > 96) {
    return InvalidArgument(fmt::format(
        "warehouse '{}' is not configured: set {} to its URL (or use 'default')", name, variable));
  }
  return url;
}

Result<OfflinePredictResult> PredictInto(const std::string& warehouse_url,
                                         const OfflinePredictRequest& request,
                                         const PredictModel& model, const OfflineConfig& config,
                                         bool count_first,
                                         const std::function<void(int64_t, int64_t)>& progress) {
  SOMLIER_RETURN_IF_ERROR(CheckOfflinePredictRequest(request));
  SOMLIER_ASSIGN_OR_RETURN(auto warehouse, OpenWarehouse(warehouse_url, config.env));
  int64_t expected = -1;
  if (count_first) {
    SOMLIER_ASSIGN_OR_RETURN(batch::Date date, batch::ParseDate("--date", request.date));
    SOMLIER_ASSIGN_OR_RETURN(
        expected, warehouse->Count(request.dataset, request.load_column,
                                   batch::FormatDate(batch::AddDays(date, 1 - request.window))));
  }
  serving::WorkerOptions worker;
  worker.python = config.python;
  worker.model_dir = model.directory.string();
  worker.env = config.env;
  // The model's code gets none of the credentials this process works with: SoMLier's, the
  // database's, the warehouses' and the clouds' (BigQuery's key, AWS's, PostgreSQL's).
  EraseIntegrationSecrets(worker.env);
  for (const char* name :
       {"SOMLIER_TOKEN", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD", "SOMLIER_DATABASE_URL", "GOOGLE_APPLICATION_CREDENTIALS",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD",
        "PGPASSFILE"}) {
    worker.env.erase(name);
  }
  return RunOfflinePredict(request, model, *warehouse, worker, NowMillis() / 1000, expected,
                           progress);
}

Result<OfflinePredictResult> OfflineService::Predict(
    const std::string& model_ref, const OfflinePredictRequest& request,
    const std::string& warehouse, bool allow_urls, bool count_first,
    const std::function<void(int64_t, int64_t)>& progress) {
  SOMLIER_RETURN_IF_ERROR(CheckOfflinePredictRequest(request));
  if (!allow_urls) {  // a caller of the server's
    if (!request.dataset.project.empty() || !request.destination.project.empty()) {
      return InvalidArgument(
          "'dataset' and 'destination' are tables of the configured warehouse's own project: "
          "give dataset.table without a project");
    }
  }
  SOMLIER_ASSIGN_OR_RETURN(std::string url, WarehouseUrl(warehouse, config_, allow_urls));
  // Each run holds a Python worker and three threads until it ends: a server runs a few.
  if (running_.fetch_add(1) >= kMaxRunning) {
    running_.fetch_sub(1);
    return Unavailable(fmt::format(
        "{} batch inferences are running on this server already; try again when one ends",
        kMaxRunning));
  }
  struct Release {
    std::atomic<int>& n;
    ~Release() { n.fetch_sub(1); }
  } release{running_};
  SOMLIER_ASSIGN_OR_RETURN(std::string uri, ModelRefUri(model_ref));
  SOMLIER_ASSIGN_OR_RETURN(ModelLocation location, registry_.LocateModel(uri));
  PredictModel model{location.name, location.version, location.directory};
  return PredictInto(url, request, model, config_, count_first, progress);
}

nlohmann::json OfflinePredictJson(const OfflinePredictResult& result,
                                  const OfflinePredictRequest& request,
                                  const std::string& warehouse) {
  return {{"rows", result.rows},
          {"selected_date", result.selected_date},
          {"date", request.date},
          {"seconds", result.seconds},
          {"rows_per_second",
           result.seconds > 0 ? static_cast<double>(result.rows) / result.seconds : 0.0},
          {"prediction_columns", result.prediction_columns},
          {"destination", request.destination.ToString()},
          {"warehouse", warehouse},
          {"model_name", result.model_name},
          {"model_version", result.model_version}};
}

}  // namespace somlier::offline
