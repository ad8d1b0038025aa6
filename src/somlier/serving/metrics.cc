#include "somlier/serving/metrics.h"

#include <fmt/core.h>

#include <algorithm>

namespace somlier::serving {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

void Histogram::Render(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  std::string plain = labels.empty() ? "" : "{" + labels.substr(0, labels.size() - 1) + "}";
  out += fmt::format("{}_sum{} {}\n", name, plain, sum_.load(std::memory_order_relaxed));
  out += fmt::format("{}_count{} {}\n", name, plain, cumulative);
}

ServerMetrics::ServerMetrics() : batch_rows_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {
  for (int i = 0; i < kEndpoints; ++i) {
    latency_.push_back(std::make_unique<Histogram>(std::vector<double>{
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}));
  }
}

void ServerMetrics::RecordRequest(const std::string& path, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{path, status}];
}

void ServerMetrics::RecordLatency(Endpoint endpoint, double seconds) {
  latency_[endpoint]->Observe(seconds);
}

void ServerMetrics::RecordBatch(size_t rows) { batch_rows_.Observe(static_cast<double>(rows)); }

std::string ServerMetrics::Render(size_t queue_depth, int ready_workers) const {
  std::string out;
  out +=
      "# HELP somlier_requests_total HTTP requests by path and status code.\n"
      "# TYPE somlier_requests_total counter\n";
  std::map<std::string, uint64_t> errors;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, count] : requests_) {
      out += fmt::format("somlier_requests_total{{path=\"{}\",code=\"{}\"}} {}\n", key.first,
                         key.second, count);
      if (key.second >= 400) errors[key.first] += count;
    }
  }
  out +=
      "# HELP somlier_request_errors_total HTTP requests answered with a 4xx or 5xx code.\n"
      "# TYPE somlier_request_errors_total counter\n";
  for (const auto& [path, count] : errors) {
    out += fmt::format("somlier_request_errors_total{{path=\"{}\"}} {}\n", path, count);
  }
  out +=
      "# HELP somlier_request_duration_seconds Prediction request latency.\n"
      "# TYPE somlier_request_duration_seconds histogram\n";
  latency_[kInvocations]->Render(out, "somlier_request_duration_seconds",
                                 "endpoint=\"invocations\",");
  latency_[kV2Infer]->Render(out, "somlier_request_duration_seconds", "endpoint=\"v2_infer\",");
  out +=
      "# HELP somlier_batch_size_rows Rows per batch sent to a model worker.\n"
      "# TYPE somlier_batch_size_rows histogram\n";
  batch_rows_.Render(out, "somlier_batch_size_rows", "");
  out += fmt::format(
      "# HELP somlier_queue_depth Requests waiting for a model worker.\n"
      "# TYPE somlier_queue_depth gauge\nsomlier_queue_depth {}\n"
      "# HELP somlier_workers_ready Model workers ready to predict.\n"
      "# TYPE somlier_workers_ready gauge\nsomlier_workers_ready {}\n"
      "# HELP somlier_worker_restarts_total Model workers restarted after dying.\n"
      "# TYPE somlier_worker_restarts_total counter\nsomlier_worker_restarts_total {}\n",
      queue_depth, ready_workers, worker_restarts_.load(std::memory_order_relaxed));
  return out;
}

}  // namespace somlier::serving
