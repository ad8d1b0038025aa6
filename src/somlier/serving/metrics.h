// ServerMetrics: what a model server counts, rendered in the Prometheus text format
// (version 0.0.4) for GET /metrics: requests and errors by endpoint and status code,
// request latency and batch size histograms, queue depth, ready workers and worker restarts.
// Thread-safe; recording is a few atomic operations (a mutex only for new label pairs).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace somlier::serving {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Appends the _bucket, _sum and _count lines; `labels` is "" or `key="value",`.
  void Render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, then +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class ServerMetrics {
 public:
  // The endpoints whose latency is measured.
  enum Endpoint { kInvocations = 0, kV2Infer = 1, kEndpoints = 2 };

  ServerMetrics();

  void RecordRequest(const std::string& path, int status);
  void RecordLatency(Endpoint endpoint, double seconds);
  void RecordBatch(size_t rows);
  void RecordWorkerRestart() { worker_restarts_.fetch_add(1, std::memory_order_relaxed); }

  std::string Render(size_t queue_depth, int ready_workers) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (path, status) -> count
  std::vector<std::unique_ptr<Histogram>> latency_;
  Histogram batch_rows_;
  std::atomic<uint64_t> worker_restarts_{0};
};

}  // namespace somlier::serving
