// `somlier offline predict MODEL_REF --dataset DATASET_REF --load_column COL --date DATE
// [--window 1] [--by_kst] --destination TABLE_REF [--warehouse URL|NAME] [--output json]`:
// batch inference of a registered model over one day's rows of a warehouse table
// (offline/offline_predict.h), run here — also with SOMLIER_SERVER set (a DAG's pod), where
// the model is downloaded from the server first. A progress bar on a terminal; rows/s at the
// end.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "somlier/cli/cli.h"
#include "somlier/cli/local_services.h"
#include "somlier/cli/model_location.h"
#include "somlier/cli/output.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/url.h"
#include "somlier/offline/offline_service.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

struct PredictOptions {
  std::string model_ref;
  std::string dataset;
  std::string load_column;
  std::string date;
  int window = 1;
  bool by_kst = false;
  std::string destination;
  std::string warehouse = "default";
  size_t chunk_rows = 32768;
  std::string output = "text";
};

// A progress line redrawn in place on a terminal (at most ten times a second).
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  ~ProgressBar() {
    if (drawn_) fmt::print(stderr, "\n");
  }

  void operator()(int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (!enabled_ || (drawn_ && now - last_ < std::chrono::milliseconds(100) && done != total)) {
      return;
    }
    last_ = now;
    drawn_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    if (total > 0) {
      const int width = 30;
      const int filled = static_cast<int>(width * std::min<int64_t>(done, total) / total);
      fmt::print(stderr, "\r[{}{}] {}/{} rows ({:.0f} rows/s)", std::string(filled, '#'),
                 std::string(width - filled, '.'), done, total, rate);
    } else {
      fmt::print(stderr, "\r{} rows ({:.0f} rows/s)", done, rate);
    }
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_;
};

Result<int> Predict(const Context& ctx, const PredictOptions& o) {
  offline::OfflinePredictRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.dataset, batch::ParseTableRef("--dataset", o.dataset, true));
  SOMLIER_ASSIGN_OR_RETURN(r.destination,
                           batch::ParseTableRef("--destination", o.destination, true));
  SOMLIER_ASSIGN_OR_RETURN(r.date, offline::RunDate(o.date, o.by_kst));
  r.load_column = o.load_column;
  r.window = o.window;
  r.chunk_rows = o.chunk_rows;
  SOMLIER_RETURN_IF_ERROR(offline::CheckOfflinePredictRequest(r));
  SOMLIER_ASSIGN_OR_RETURN(std::string model_uri, offline::ModelRefUri(o.model_ref));

  const bool tty = isatty(STDERR_FILENO) == 1 && o.output != "json";
  auto bar = std::make_shared<ProgressBar>(tty);
  auto progress = [bar](int64_t done, int64_t total) { (*bar)(done, total); };
  auto run = [&]() -> Result<offline::OfflinePredictResult> {
    if (!ctx.settings.server.empty()) {
      // A pod (or a laptop) against a server: the model comes from the server, the warehouse
      // is the one named here.
      SOMLIER_ASSIGN_OR_RETURN(ServedModel model, LocateServedModel(ctx, model_uri));
      RemoveOnExit remove_download{model.temporary};
      SOMLIER_ASSIGN_OR_RETURN(Environment env, WithPythonPackage(ctx.env));
      offline::OfflineConfig config{ctx.settings.home, std::move(env),
                                    ctx.settings.PythonOrDefault()};
      SOMLIER_ASSIGN_OR_RETURN(std::string url, offline::WarehouseUrl(o.warehouse, config, true));
      return offline::PredictInto(url, r, {model.name, model.version, model.directory}, config, tty,
                                  progress);
    }
    SOMLIER_ASSIGN_OR_RETURN(auto services, LocalServices::Open(ctx.settings, ctx.env));
    return services->offline->Predict(o.model_ref, r, o.warehouse, true, tty, progress);
  };
  Result<offline::OfflinePredictResult> result = run();
  bar.reset();
  SOMLIER_RETURN_IF_ERROR(result.status());
  const json answer = offline::OfflinePredictJson(*result, r, RedactUrlPassword(o.warehouse));
  if (o.output == "json") {
    PrintJson(answer);
    return 0;
  }
  if (result->rows == 0) {
    fmt::print("no rows of {} where {} = {}: nothing written\n", o.dataset, o.load_column,
               result->selected_date);
    return 0;
  }
  fmt::print(
      "predicted {} rows of {} where {} = {} with {} version {} into {} (inference_date {}) in "
      "{:.2f} s: {:.0f} rows/s\n",
      result->rows, o.dataset, o.load_column, result->selected_date, result->model_name,
      result->model_version, o.destination, r.date, result->seconds,
      answer["rows_per_second"].get<double>());
  return 0;
}

}  // namespace

void AddOfflineCommands(CLI::App& offline, Context& ctx) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* predict = offline.add_subcommand(
      "predict", "Batch inference of a registered model over one day's rows of a warehouse table");
  predict->add_option("MODEL_REF", o->model_ref, "NAME/VERSION, NAME@ALIAS or models:/...")
      ->required();
  predict->add_option("--dataset", o->dataset, "The input table: [project.]dataset.table or table")
      ->required();
  predict->add_option("--load_column", o->load_column, "The column holding each row's date")
      ->required();
  predict
      ->add_option("--date", o->date,
                   "The run's logical date YYYY-MM-DD, or a timestamp with an offset "
                   "(its date in UTC, or in Asia/Seoul with --by_kst)")
      ->required();
  predict->add_option("--window", o->window, "Rows where load_column = date - (window - 1) days")
      ->check(CLI::Range(1, 366));
  predict->add_flag("--by_kst", o->by_kst, "A timestamp --date is read as its Asia/Seoul date");
  predict->add_option("--destination", o->destination, "The predictions' table (replaced per date)")
      ->required();
  predict->add_option("--warehouse", o->warehouse,
                      "sqlite:///PATH, postgresql://..., bigquery://PROJECT, or a configured "
                      "name (default: SOMLIER_WAREHOUSE_URL, else $SOMLIER_HOME/warehouse.db)");
  predict->add_option("--chunk_rows", o->chunk_rows, "Rows per round trip to the model")
      ->check(CLI::Range(1, 1000000));
  predict->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(predict, [&ctx, o] { return Predict(ctx, *o); });
}

}  // namespace somlier::cli
