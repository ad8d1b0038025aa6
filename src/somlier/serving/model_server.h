// ModelServer: one model behind HTTP — MLflow's scoring protocol, the KServe Open Inference
// Protocol, health checks and Prometheus metrics — with a dynamic batcher in front of a pool
// of Python workers (serving/python_worker.h).
//
//   POST /invocations                    MLflow input forms -> {"predictions": [...]}
//   GET  /ping, /health                  200 once a worker is ready, else 503
//   GET  /v2, /v2/health/live, /v2/health/ready
//   GET  /v2/models/NAME[/versions/V][/ready]
//   POST /v2/models/NAME[/versions/V]/infer
//   GET  /metrics                        Prometheus text format
//
// The routes live by protocol: serving/scoring_routes.cc (MLflow's /invocations, /ping,
// /health), serving/v2_routes.cc (KServe V2); this file holds the model's state — workers,
// batching, start and stop. Requests are checked against the model's signature
// (serving/schema_check.h) before they are queued.
// Input errors are 400 (MLflow routes: {"error_code": "BAD_REQUEST", "message"}; V2 routes:
// {"error"}), a full queue or a lost worker 503. Each worker slot is a thread that owns one
// Python process, takes batches from the batcher and restarts its process when it dies.
// Stop() drains: the listener closes, requests in flight are answered, then workers stop.
// Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/net/http_listener.h"
#include "somlier/serving/dynamic_batcher.h"
#include "somlier/serving/metrics.h"
#include "somlier/serving/mlflow_input.h"
#include "somlier/serving/python_worker.h"
#include "somlier/serving/request_table.h"

namespace httplib {
class Server;
}

namespace somlier {
struct RouteInfo;
}  // namespace somlier

namespace somlier::serving {

struct ModelServerOptions {
  std::string host = "127.0.0.1";
  int port = 5000;  // 0: any free port
  int workers = 1;
  int http_threads = 0;  // requests handled at once (each waits for its batch on one); 0: max_queue
                         // / 4, at least 256
  DynamicBatcher::Options batching;
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  std::string model_name = "model";  // the V2 protocol's name for it
  std::string model_version = "1";
  WorkerOptions worker;
};

class ModelServer {
 public:
  // Binds the listening socket. Errors: InvalidArgument for bad options; Unavailable when
  // the address cannot be bound.
  static Result<std::unique_ptr<ModelServer>> Create(ModelServerOptions options);
  ~ModelServer();

  int port() const { return listener_->port(); }
  std::string url() const { return listener_->url(); }
  // Every endpoint this server serves (net/http_routes.h).
  const std::vector<RouteInfo>& routes() const;

  // Serves HTTP on a background thread and starts the worker slots; returns once the first
  // worker has loaded the model. Errors: FailedPrecondition (the model cannot be loaded,
  // with Python's error) or Unavailable (the worker died or timed out while loading); the
  // server is stopped then. Stop() from another thread ends the wait early (Unavailable).
  Status Start();

  // Drains and stops; idempotent; callable from any thread, also while Start() waits.
  void Stop();

 private:
  explicit ModelServer(ModelServerOptions options);
  void SetUpRoutes();
  void SetUpScoringRoutes();  // scoring_routes.cc
  void SetUpV2Routes();       // v2_routes.cc
  // Checks `table` against the model, queues it and waits for its prediction, or the status
  // to answer with.
  Result<Prediction> Predict(Result<RequestTable> table);
  void RunSlot(size_t index);
  void RunBatch(PythonWorker& worker, std::vector<std::unique_ptr<PendingRequest>>& batch,
                Status& failure);
  bool ready() const { return batcher_.ready_workers() > 0; }

  ModelServerOptions options_;
  std::unique_ptr<HttpRoutes> http_;
  std::unique_ptr<HttpListener> listener_;
  DynamicBatcher batcher_;
  ServerMetrics metrics_;
  std::vector<std::thread> slots_;
  std::atomic<bool> stopping_{false};
  std::once_flag stopped_;

  std::mutex mutex_;
  std::condition_variable first_load_;
  bool loaded_ = false;    // guarded by mutex_
  Status load_failure_;    // the first slot's start-up error, guarded by mutex_
  WorkerInfo model_info_;  // from the first worker; written once, before model_known_
  std::atomic<bool> model_known_{false};
};

}  // namespace somlier::serving
