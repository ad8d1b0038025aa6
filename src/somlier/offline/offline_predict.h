// OfflinePredict: batch inference of a registered model over one day's rows of a warehouse
// table — what `somlier offline predict` and POST /offline/predict run, and what the DAGs of
// `offline create_v2` schedule.
//
// The rows are those whose load column equals date − (window − 1) days (the original's
// `WHERE LOAD_COLUMN = DATE_SUB(date, INTERVAL WINDOW-1 DAY)`). They stream through three
// stages, each on its own thread, with at most two chunks waiting between stages (so memory
// stays flat however many rows match):
//   read     the warehouse's reader (offline/warehouse.h); each chunk checked and converted
//            to the model's typed input by the online server's rules (serving/schema_check.h)
//   predict  one round trip per chunk to a Python model worker (serving/python_worker.h)
//   write    the input's columns, the prediction column(s), model_name, model_version,
//            inference_date (= `date`) and predicted_at, appended to a replacement of the
//            destination's rows of that inference date, committed only after the last chunk
// A failure in any stage stops the others and nothing is committed, so the previous rows of
// the date stay as they were. The first error wins and is answered.
//
// Which input columns reach the model: with a column signature, the signature's columns (by
// name); otherwise the feature names the model was fitted with, or, when it has none, every
// column but the load column, in the table's order.
// Stateless between calls; thread-safe as long as callers do not share a Warehouse.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "somlier/batch/table_ref.h"
#include "somlier/core/result.h"
#include "somlier/offline/warehouse.h"
#include "somlier/serving/python_worker.h"

namespace somlier::offline {

struct PredictModel {
  std::string name;
  std::string version;
  std::filesystem::path directory;  // holds MLmodel
};

struct OfflinePredictRequest {
  batch::TableRef dataset;
  std::string load_column;
  std::string date;  // the run's logical date, YYYY-MM-DD
  int window = 1;    // 1..366
  batch::TableRef destination;
  size_t chunk_rows = 32768;
};

struct OfflinePredictResult {
  std::string selected_date;  // date − (window − 1)
  int64_t rows = 0;
  double seconds = 0;  // from the model loaded (and the first row read) to the commit
  std::vector<std::string> prediction_columns;
  std::string model_name;
  std::string model_version;
};

// The columns SoMLier adds after the input's and the predictions'.
inline constexpr const char* kAddedColumns[] = {"model_name", "model_version", "inference_date",
                                                "predicted_at"};

// Checks the request (table references, column, date, window). Errors: InvalidArgument
// naming the bad value.
Status CheckOfflinePredictRequest(const OfflinePredictRequest& request);

// `progress(rows written so far, rows expected or -1)` is called from the write stage after
// each chunk; `expected_rows` (or -1) is what the caller counted beforehand.
// Errors: InvalidArgument for a request the checks refuse or input the model cannot take
// (naming rows and column); NotFound for a missing table or column; those of the warehouse
// and of the model worker (FailedPrecondition when it cannot load the model).
Result<OfflinePredictResult> RunOfflinePredict(
    const OfflinePredictRequest& request, const PredictModel& model, Warehouse& warehouse,
    const serving::WorkerOptions& worker, int64_t now_seconds, int64_t expected_rows,
    const std::function<void(int64_t, int64_t)>& progress);

}  // namespace somlier::offline
