// DynamicBatcher: the queue between HTTP handlers and model workers, joining the rows of
// concurrent requests into batches.
//
// The policy: batching never costs latency while capacity is idle. A worker that is free
// takes what is queued at once — up to max_batch_size rows — so a request that finds a
// free worker waits for no one; while every worker is busy, arriving requests queue, and
// the next worker to come free takes up to max_batch_size rows of them as one batch. A
// max_delay above 0 (the default is 0) trades latency for fuller batches: a free worker
// then waits until the batch is full or its oldest request has waited max_delay.
//
// A request with more rows than max_batch_size is a batch of its own (never split).
// Requests only join a batch of the same layout (ModelInput::SameLayout: columns and types,
// or tensor shape). A request's states:
//   queued (Submit) -> taken (in a worker's batch, NextBatch) -> answered (its promise set
//   by the worker that took it, or failed by WorkerLost when the last worker is gone)
//   refused at Submit (Unavailable, HTTP 503): max_queue requests wait already, no worker
//   is ready, or the batcher is shutting down.
// Results always go to the request they belong to: each request owns its promise.
//
// Workers call NextBatch() in a loop and complete every request of the batch they took.
// Shutdown() refuses new requests and lets workers drain what is queued. Time is read from
// a Clock (core/clock.h), so tests drive the delays with a fake one and TryNextBatch().
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "somlier/core/clock.h"
#include "somlier/core/result.h"
#include "somlier/serving/model_input.h"

namespace somlier::serving {

// A request's predictions: one JSON value per row, joined by commas.
struct Prediction {
  std::string datatype;              // V2 datatype
  std::vector<int64_t> row_shape;    // shape of one row's prediction
  std::vector<std::string> columns;  // a DataFrame's columns: each value is a record of them
  size_t rows = 0;
  std::string values;
};

struct PendingRequest {
  ModelInput input;
  Clock::time_point enqueued;
  std::promise<Result<Prediction>> done;
};

class DynamicBatcher {
 public:
  struct Options {
    size_t max_batch_size = 64;
    std::chrono::microseconds max_delay{0};  // 0: a free worker never waits for more
    size_t max_queue = 1024;
  };

  explicit DynamicBatcher(Options options, const Clock& clock = SteadyClock())
      : options_(options), clock_(clock) {}

  const Options& options() const { return options_; }

  // Queues `input`; the future resolves with its predictions or error.
  // Errors: Unavailable when the queue is full, no worker is ready, or shutting down.
  Result<std::future<Result<Prediction>>> Submit(ModelInput input);

  // Blocks until a batch is due and takes it; empty once shut down and drained.
  std::vector<std::unique_ptr<PendingRequest>> NextBatch();
  // The batch that is due now, or none (empty) — without waiting.
  std::vector<std::unique_ptr<PendingRequest>> TryNextBatch();

  // Workers report readiness; when the last ready worker goes, queued requests are failed
  // with `why` (they would otherwise wait for a restart of unknown length).
  void WorkerReady();
  void WorkerLost(const Status& why);
  int ready_workers() const;

  void Shutdown();
  size_t queue_depth() const;

 private:
  // Whether a batch is due now; `deadline` says when the oldest request's delay ends.
  bool DueLocked(Clock::time_point* deadline) const;
  std::vector<std::unique_ptr<PendingRequest>> TakeLocked();

  const Options options_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<PendingRequest>> queue_;
  size_t queued_rows_ = 0;
  int ready_ = 0;
  bool shutdown_ = false;
};

}  // namespace somlier::serving
