#include "somlier/serving/model_server.h"

#include <fmt/core.h>
#include <httplib.h>

#include "somlier/core/log.h"
#include "somlier/net/http_json.h"
#include "somlier/net/http_routes.h"
#include "somlier/serving/scoring_answers.h"

namespace somlier::serving {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

ModelServer::ModelServer(ModelServerOptions options)
    : options_(std::move(options)),
      http_(std::make_unique<HttpRoutes>()),
      batcher_(options_.batching) {}

ModelServer::~ModelServer() { Stop(); }

Result<std::unique_ptr<ModelServer>> ModelServer::Create(ModelServerOptions options) {
  if (options.workers < 1 || options.workers > 64) {
    return InvalidArgument(fmt::format("--workers {} must be between 1 and 64", options.workers));
  }
  if (options.batching.max_batch_size < 1) {
    return InvalidArgument("--max_batch_size must be at least 1");
  }
  if (options.batching.max_queue < 1) return InvalidArgument("--max_queue must be at least 1");
  if (options.batching.max_delay.count() < 0) {
    return InvalidArgument("--max_batch_delay_us must not be negative");
  }
  if (options.http_threads <= 0) {
    options.http_threads = static_cast<int>(std::max<size_t>(256, options.batching.max_queue / 4));
  }
  std::unique_ptr<ModelServer> server(new ModelServer(std::move(options)));
  ModelServer* self = server.get();
  server->options_.worker.cancelled = [self] { return self->stopping_.load(); };
  HttpListenerOptions listen;
  listen.threads = server->options_.http_threads;
  listen.body_policy = [max_body = server->options_.max_body_bytes](std::string_view,
                                                                    std::string_view) {
    return BodyPolicy{max_body, /*stream=*/false};
  };
  listen.error_body = [](std::string_view path, int status, std::string_view message) {
    httplib::Response response;
    SendErrorFor(path, response, status, std::string(message));
    return response.body;
  };
  server->listener_ = std::make_unique<HttpListener>(*server->http_, std::move(listen));
  server->http_->set_payload_max_length(server->options_.max_body_bytes);
  server->SetUpRoutes();
  SOMLIER_RETURN_IF_ERROR(server->listener_->Bind(server->options_.host, server->options_.port));
  return server;
}

void ModelServer::SetUpRoutes() {
  HttpRoutes& s = *http_;
  const size_t max_body = options_.max_body_bytes;
  s.set_error_handler([max_body](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    auto send = [&request](httplib::Response& answer, int status, const std::string& message) {
      SendErrorFor(request.path, answer, status, message);
    };
    if (response.status == 413) {
      send(response, 400,
           fmt::format("the request body is larger than the limit of {} bytes", max_body));
    } else if (response.status == 404) {
      send(response, 404, fmt::format("no endpoint {} {}", request.method, request.path));
    } else {
      send(response, response.status,
           fmt::format("the request could not be handled (HTTP {})", response.status));
    }
  });
  AnswerExceptionsWith500(s);
  s.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
    // A fixed set of labels: request paths never reach the metrics text.
    std::string path = "other";
    const std::string& p = request.path;
    if (p.starts_with("/v2/models/")) {
      path = p.ends_with("/infer") ? "/v2/models/infer" : "/v2/models";
    } else if (p.starts_with("/v2/health/")) {
      path = "/v2/health";
    } else if (p == "/invocations" || p == "/ping" || p == "/health" || p == "/metrics" ||
               p == "/v2") {
      path = p;
    }
    metrics_.RecordRequest(path, response.status);
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.Render(batcher_.queue_depth(), batcher_.ready_workers()),
                         "text/plain; version=0.0.4");
  });

  SetUpScoringRoutes();
  SetUpV2Routes();
}

Result<Prediction> ModelServer::Predict(Result<RequestTable> table) {
  if (!table.ok()) return table.status();
  if (!model_known_.load(std::memory_order_acquire)) {
    return Unavailable("the model is still loading");
  }
  SOMLIER_ASSIGN_OR_RETURN(ModelInput input, ConformToSchema(*table, model_info_.schema));
  SOMLIER_ASSIGN_OR_RETURN(auto future, batcher_.Submit(std::move(input)));
  if (future.wait_for(options_.request_timeout) != std::future_status::ready) {
    return Unavailable(fmt::format("no prediction within {} ms", options_.request_timeout.count()));
  }
  return future.get();
}

Status ModelServer::Start() {
  if (Status started = listener_->Start(); !started.ok()) return started;
  for (int i = 0; i < options_.workers; ++i) slots_.emplace_back([this, i] { RunSlot(i); });
  Status failure;
  {
    std::unique_lock lock(mutex_);
    first_load_.wait(lock, [this] { return loaded_ || !load_failure_.ok() || stopping_; });
    failure = loaded_     ? OkStatus()
              : stopping_ ? Unavailable("stopped before the model was loaded")
                          : load_failure_;
  }
  if (!failure.ok()) Stop();
  return failure;
}

void ModelServer::RunSlot(size_t index) {
  std::unique_ptr<PythonWorker> worker;
  auto backoff = std::chrono::milliseconds(200);
  while (true) {
    if (!worker) {
      if (stopping_) break;
      auto started = PythonWorker::Start(options_.worker);
      if (!started.ok()) {
        std::unique_lock lock(mutex_);
        if (!loaded_) {  // the model does not load at all: give up, Start() reports it
          if (load_failure_.ok()) load_failure_ = started.status();
          first_load_.notify_all();
          return;
        }
        LogError("worker {}: {}; retrying in {} ms", index, started.status().message(),
                 backoff.count());
        first_load_.wait_for(lock, backoff, [this] { return stopping_.load(); });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
        continue;
      }
      worker = std::move(*started);
      backoff = std::chrono::milliseconds(200);
      LogInfo("worker {} (pid {}) loaded the model ({})", index, worker->pid(),
              worker->info().flavor);
      {
        std::lock_guard lock(mutex_);
        if (!loaded_) {
          model_info_ = worker->info();
          model_known_.store(true, std::memory_order_release);
          loaded_ = true;
          first_load_.notify_all();
        }
      }
      batcher_.WorkerReady();
    }
    auto batch = batcher_.NextBatch();
    if (batch.empty()) break;  // shut down and drained
    Status failure;
    try {
      RunBatch(*worker, batch, failure);
    } catch (const std::exception& e) {  // e.g. out of memory: fail the batch, not the server
      failure = Internal(fmt::format("predicting a batch failed: {}", e.what()));
      for (auto& request : batch) {
        try {
          request->done.set_value(failure);
        } catch (const std::future_error&) {  // already answered
        }
      }
    }
    if (!failure.ok()) {
      LogWarning("worker {}: {}; restarting it", index, failure.message());
      batcher_.WorkerLost(failure);  // first: no new request waits for this worker
      worker.reset();
      metrics_.RecordWorkerRestart();
    }
  }
  if (worker) batcher_.WorkerLost(Unavailable("the server is shutting down"));
}

void ModelServer::RunBatch(PythonWorker& worker,
                           std::vector<std::unique_ptr<PendingRequest>>& batch, Status& failure) {
  // Requests whose caller has given up are not computed (that would only deepen overload).
  const auto expired = Clock::now() - options_.request_timeout;
  std::erase_if(batch, [&](std::unique_ptr<PendingRequest>& request) {
    if (request->enqueued > expired) return false;
    request->done.set_value(Unavailable("no prediction in time: the request waited too long"));
    return true;
  });
  if (batch.empty()) return;
  BatchInput input;
  input.input = std::move(batch.front()->input);
  input.segments.push_back(input.input.rows);
  for (size_t i = 1; i < batch.size(); ++i) {
    input.input.Append(batch[i]->input);
    input.segments.push_back(batch[i]->input.rows);
  }
  metrics_.RecordBatch(input.input.rows);
  auto output = worker.Predict(input, options_.request_timeout);
  if (!output.ok()) {
    failure = output.status();
    for (auto& request : batch) request->done.set_value(failure);
    return;
  }
  size_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto failed = output->failed.find(i);
    if (failed != output->failed.end()) {
      batch[i]->done.set_value(
          InvalidArgument("the model could not predict this input: " + failed->second));
      continue;
    }
    Prediction prediction;
    prediction.datatype = output->datatype;
    prediction.row_shape = output->row_shape;
    prediction.columns = output->columns;
    prediction.rows = input.segments[i];
    for (size_t r = 0; r < prediction.rows; ++r, ++row) {
      if (r > 0) prediction.values += ',';
      prediction.values += output->row(row);
    }
    batch[i]->done.set_value(std::move(prediction));
  }
}

const std::vector<RouteInfo>& ModelServer::routes() const { return http_->routes(); }

void ModelServer::Stop() {
  std::call_once(stopped_, [this] {
    stopping_ = true;
    listener_->Stop();  // closes the listener; requests in flight are answered first
    batcher_.Shutdown();
    {
      std::lock_guard lock(mutex_);
      first_load_.notify_all();
    }
    for (auto& slot : slots_) {
      if (slot.joinable()) slot.join();
    }
  });
}

}  // namespace somlier::serving
