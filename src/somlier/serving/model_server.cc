#include "somlier/serving/model_server.h"

#include <fmt/core.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/version.h"
#include "somlier/net/http_json.h"
#include "somlier/net/http_routes.h"

namespace somlier::serving {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The scoring protocols' error shapes: MLflow's {"error_code", "message"} and KServe's
// {"error"}.
void SendScoringError(httplib::Response& response, int status, const std::string& message) {
  SendMlflowError(response, status,
                  status == 503   ? "SERVICE_UNAVAILABLE"
                  : status >= 500 ? "INTERNAL_ERROR"
                                  : "BAD_REQUEST",
                  message);
}

void SendV2Error(httplib::Response& response, int status, const std::string& message) {
  SendJson(response, {{"error", message}}, status);
}

// The predictions of a V2 answer, flattened in row-major order.
std::string FlatData(const Prediction& prediction) {
  if (prediction.row_shape.empty()) return prediction.values;
  if (prediction.datatype != "BYTES") {
    std::string flat;
    flat.reserve(prediction.values.size());
    for (char c : prediction.values) {
      if (c != '[' && c != ']') flat += c;
    }
    return flat;
  }
  json nested = ParseJsonOrNull("[" + prediction.values + "]");
  json flat = json::array();
  std::function<void(const json&)> add = [&](const json& v) {
    if (v.is_array()) {
      for (const json& x : v) add(x);
    } else {
      flat.push_back(v);
    }
  };
  add(nested);
  std::string text = flat.dump();
  return text.substr(1, text.size() - 2);
}

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
    (path.starts_with("/v2") ? SendV2Error : SendScoringError)(response, status,
                                                               std::string(message));
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
    const bool v2 = request.path.starts_with("/v2");
    auto send = v2 ? SendV2Error : SendScoringError;
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

  auto health = [this](const httplib::Request&, httplib::Response& response) {
    if (ready()) {
      response.set_content("\n", "text/plain");
    } else {
      response.status = 503;
      response.set_content("no model worker is ready\n", "text/plain");
    }
  };
  s.Get("/ping", health);
  s.Get("/health", health);
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.Render(batcher_.queue_depth(), batcher_.ready_workers()),
                         "text/plain; version=0.0.4");
  });

  // Runs `input` through the batcher: the prediction, or the status to answer with.
  auto predict = [this](Result<InputMatrix> input) -> Result<Prediction> {
    if (!input.ok()) return input.status();
    if (!model_known_.load(std::memory_order_acquire)) {
      return Unavailable("the model is still loading");
    }
    SOMLIER_RETURN_IF_ERROR(ConformToSchema(*input, model_info_.schema));
    SOMLIER_ASSIGN_OR_RETURN(auto future, batcher_.Submit(std::move(*input)));
    if (future.wait_for(options_.request_timeout) != std::future_status::ready) {
      return Unavailable(
          fmt::format("no prediction within {} ms", options_.request_timeout.count()));
    }
    return future.get();
  };

  s.Post("/invocations", [this, predict](const httplib::Request& request,
                                         httplib::Response& response) {
    const auto start = Clock::now();
    auto prediction =
        predict(ParseInvocationsInput(request.get_header_value("Content-Type"), request.body));
    if (!prediction.ok()) {
      SendScoringError(response, HttpStatusFor(prediction.status().code(), HttpDialect::kScoring),
                       ClientMessage(prediction.status()));
    } else {
      std::string body;
      body.reserve(prediction->values.size() + 20);
      body += "{\"predictions\": [";
      body += prediction->values;
      body += "]}";
      response.set_content(std::move(body), "application/json");
    }
    metrics_.RecordLatency(ServerMetrics::kInvocations,
                           std::chrono::duration<double>(Clock::now() - start).count());
  });

  // ---- KServe V2 (Open Inference Protocol) ----
  s.Get("/v2", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(json{{"name", "somlier"},
                              {"version", std::string(kSomlierVersion)},
                              {"extensions", json::array()}}
                             .dump(),
                         "application/json");
  });
  s.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(json{{"live", true}}.dump(), "application/json");
  });
  s.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& response) {
    response.status = ready() ? 200 : 503;
    response.set_content(json{{"ready", ready()}}.dump(), "application/json");
  });
  // Whether the request names this model (and version, when it gives one); answers 404 if not.
  auto names_this_model = [this](const httplib::Request& request, httplib::Response& response) {
    const std::string name = request.matches[1];
    const std::string version = request.matches.size() > 2 ? std::string(request.matches[2]) : "";
    if (name != options_.model_name || (!version.empty() && version != options_.model_version)) {
      SendV2Error(response, 404,
                  fmt::format("model '{}'{} is not served here; this server serves '{}' version {}",
                              name, version.empty() ? "" : " version " + version,
                              options_.model_name, options_.model_version));
      return false;
    }
    return true;
  };
  const std::string model = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
  s.Get(model + "/ready",
        [this, names_this_model](const httplib::Request& request, httplib::Response& response) {
          if (!names_this_model(request, response)) return;
          response.status = ready() ? 200 : 503;
          response.set_content(json{{"name", options_.model_name}, {"ready", ready()}}.dump(),
                               "application/json");
        });
  s.Get(model, [this, names_this_model](const httplib::Request& request,
                                        httplib::Response& response) {
    if (!names_this_model(request, response)) return;
    json inputs = json::array();
    json shape = json::array({-1});
    std::lock_guard lock(mutex_);
    if (model_info_.schema.n_features >= 0) shape.push_back(model_info_.schema.n_features);
    json input{{"name", "input-0"}, {"datatype", "FP64"}, {"shape", shape}};
    if (!model_info_.schema.feature_names.empty()) {
      input["parameters"] = {{"columns", model_info_.schema.feature_names}};
    }
    inputs.push_back(input);
    response.set_content(
        json{
            {"name", options_.model_name},
            {"versions", {options_.model_version}},
            {"platform", "somlier_" + (model_info_.flavor.empty() ? "python" : model_info_.flavor)},
            {"inputs", inputs},
            {"outputs",
             json::array({json{{"name", "predict"}, {"datatype", "FP64"}, {"shape", {-1}}}})}}
            .dump(),
        "application/json");
  });
  s.Post(model + "/infer", [this, names_this_model, predict](const httplib::Request& request,
                                                             httplib::Response& response) {
    const auto start = Clock::now();
    if (!names_this_model(request, response)) return;
    auto parsed = ParseV2InferRequest(request.body);
    Result<Prediction> prediction =
        parsed.ok() ? predict(std::move(parsed->matrix)) : Result<Prediction>(parsed.status());
    if (!prediction.ok()) {
      SendV2Error(response, HttpStatusFor(prediction.status().code(), HttpDialect::kScoring),
                  ClientMessage(prediction.status()));
    } else {
      std::string shape = std::to_string(prediction->rows);
      for (int64_t d : prediction->row_shape) shape += "," + std::to_string(d);
      std::string body = fmt::format(
          R"({{"model_name":{},"model_version":{},"id":{},"outputs":[{{"name":"predict","datatype":"{}","shape":[{}],"data":[{}]}}]}})",
          json(options_.model_name).dump(), json(options_.model_version).dump(),
          json(parsed->id).dump(), prediction->datatype, shape, FlatData(*prediction));
      response.set_content(std::move(body), "application/json");
    }
    metrics_.RecordLatency(ServerMetrics::kV2Infer,
                           std::chrono::duration<double>(Clock::now() - start).count());
  });
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
  input.cols = batch.front()->input.cols;
  input.columns = &batch.front()->input.columns;
  for (const auto& request : batch) input.rows += request->input.rows;
  input.values.reserve(input.rows * input.cols);
  for (const auto& request : batch) {
    input.segments.push_back(request->input.rows);
    input.values.insert(input.values.end(), request->input.values.begin(),
                        request->input.values.end());
  }
  metrics_.RecordBatch(input.rows);
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
