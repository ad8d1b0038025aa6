// PythonWorker: one Python process holding a loaded model (`python -m somlier._worker
// MODEL_DIR`), fed a whole batch per round trip over its stdin and stdout pipes.
//
// The wire format is python/somlier/_worker.py's: length-prefixed JSON headers, the batch
// as columns of raw little-endian values (a JSON list of strings for string columns; see
// serving/model_input.h), and the predictions back as one JSON value per row.
// The worker runs in its own process group; destroying the object closes its stdin, gives
// it a moment to exit, then kills the group. A worker that dies or breaks the protocol makes
// Predict() fail with Unavailable and is useless afterwards (the owner starts another).
// Not thread-safe: one thread uses a worker at a time. SIGPIPE must be ignored by the process
// (writing to a dead worker must fail, not kill the server).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/execution/subprocess.h"
#include "somlier/serving/model_input.h"
#include "somlier/serving/schema_check.h"

namespace somlier::serving {

struct WorkerOptions {
  std::string python = "python3";
  std::string model_dir;
  Environment env;  // PYTHONPATH must reach the somlier package
  std::chrono::milliseconds load_timeout{std::chrono::minutes(5)};
  // Polled (about once a second) while the model loads; true gives up (Unavailable).
  std::function<bool()> cancelled;
};

// What the worker reported after loading the model.
struct WorkerInfo {
  std::string flavor;
  ModelSchema schema;
};

// A batch: the requests' inputs joined (ModelInput::Append), `segments[i]` rows of request i.
struct BatchInput {
  ModelInput input;
  std::vector<size_t> segments;
};

struct BatchOutput {
  std::string datatype;                  // V2 datatype of the predictions: FP64, INT64, BYTES...
  std::vector<std::string> columns;      // a DataFrame's columns: each row is a record of them
  std::vector<int64_t> row_shape;        // the shape of one row's prediction ([] for scalars)
  std::map<size_t, std::string> failed;  // segment index -> the model's error
  std::string body;  // one JSON value per row of the segments that did not fail, in order
  std::vector<std::pair<size_t, size_t>> row_spans;  // (offset, length) of each in `body`

  size_t row_count() const { return row_spans.size(); }
  std::string_view row(size_t i) const {
    return std::string_view(body).substr(row_spans[i].first, row_spans[i].second);
  }
};

class PythonWorker {
 public:
  // Starts the worker and waits (up to load_timeout) for it to load the model.
  // Errors: FailedPrecondition with the worker's own error when it cannot load the model;
  // Unavailable when it dies or times out first; NotFound for a missing interpreter.
  static Result<std::unique_ptr<PythonWorker>> Start(const WorkerOptions& options);
  ~PythonWorker();

  const WorkerInfo& info() const { return info_; }
  pid_t pid() const { return process_->pid(); }

  // One round trip. Errors: Unavailable when the worker died, answered garbage, or did not
  // answer within `timeout` (it is useless then: destroy it).
  Result<BatchOutput> Predict(const BatchInput& batch, std::chrono::milliseconds timeout);

 private:
  PythonWorker(std::unique_ptr<Subprocess> process, int in, int out)
      : process_(std::move(process)), in_(in), out_(out) {}
  Status Died(const std::string& doing);

  std::unique_ptr<Subprocess> process_;
  int in_;   // the worker's stdin (we write)
  int out_;  // the worker's stdout (we read)
  WorkerInfo info_;
};

}  // namespace somlier::serving
