// Store benchmark: metric points per second written through log-batch-sized transactions
// (1000 metrics per Store::LogBatch, the MLflow log-batch limit), on each database URL
// given, single-threaded and with several writer threads; plus single-metric writes per
// second (one transaction each, as a plain log-metric request makes).
//
//   store_bench [--batches N] [--threads T] [--batch-size B] [LABEL=]URL...
//
// Prints one line per measurement. Each URL should name a fresh database.
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "somlier/core/ids.h"
#include "somlier/core/time.h"
#include "somlier/core/url.h"
#include "somlier/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using somlier::Metric;
using somlier::Store;

std::string NewRun(Store& store, int64_t experiment_id) {
  somlier::RunInfo info;
  info.run_id = somlier::NewRunId();
  info.experiment_id = experiment_id;
  info.start_time = somlier::NowMillis();
  if (auto s = store.CreateRun(info); !s.ok()) {
    fmt::print(stderr, "create run: {}\n", s.ToString());
    std::exit(1);
  }
  return info.run_id;
}

std::vector<Metric> Batch(int batch_index, int size) {
  std::vector<Metric> metrics;
  metrics.reserve(static_cast<size_t>(size));
  const int64_t now = somlier::NowMillis();
  for (int i = 0; i < size; ++i) {
    // 10 keys, 100 steps of each per batch, as a training loop logging per step would.
    const int64_t step = static_cast<int64_t>(batch_index) * (size / 10) + i / 10;
    metrics.push_back({"metric_" + std::to_string(i % 10), 0.001 * i, now, step});
  }
  return metrics;
}

// Writes `batches` batches of `size` metrics from each of `threads` threads (one run per
// thread); returns points per second.
double MeasureBatches(Store& store, int64_t experiment_id, int threads, int batches, int size) {
  std::vector<std::string> runs;
  for (int t = 0; t < threads; ++t) runs.push_back(NewRun(store, experiment_id));
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int b = 0; b < batches; ++b) {
        if (auto s = store.LogBatch(runs[t], Batch(b, size), {}, {}); !s.ok()) {
          fmt::print(stderr, "log batch: {}\n", s.ToString());
          std::exit(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(threads) * batches * size / seconds;
}

double MeasureSingleWrites(Store& store, int64_t experiment_id, int writes) {
  const std::string run = NewRun(store, experiment_id);
  const auto start = Clock::now();
  for (int i = 0; i < writes; ++i) {
    if (auto s = store.LogBatch(run, {{"loss", 1.0 / (i + 1), somlier::NowMillis(), i}}, {}, {});
        !s.ok()) {
      fmt::print(stderr, "log metric: {}\n", s.ToString());
      std::exit(1);
    }
  }
  return writes / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int batches = 100;
  int threads = 4;
  int batch_size = 1000;
  std::vector<std::string> urls;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--batches" && i + 1 < argc) {
      batches = std::atoi(argv[++i]);
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--batch-size" && i + 1 < argc) {
      batch_size = std::atoi(argv[++i]);
    } else {
      urls.push_back(arg);
    }
  }
  if (urls.empty() || batches <= 0 || threads <= 0) {
    fmt::print(stderr,
               "usage: store_bench [--batches N] [--threads T] [--batch-size B] "
               "[LABEL=]DATABASE_URL...\n");
    return 2;
  }
  const int kBatchSize = batch_size;
  for (const std::string& arg : urls) {
    // "LABEL=URL" names a measurement; a bare URL is its own (password-free) label.
    const size_t eq = arg.find('=');
    const bool labelled = eq != std::string::npos && arg.find(':') > eq;
    const std::string url = labelled ? arg.substr(eq + 1) : arg;
    const std::string name = labelled ? arg.substr(0, eq) : somlier::RedactUrlPassword(url);
    auto store = Store::Open(url);
    if (!store.ok()) {
      fmt::print(stderr, "{}: {}\n", somlier::RedactUrlPassword(url), store.status().ToString());
      return 1;
    }
    auto experiment = (*store)->CreateExperiment("bench", "");
    if (!experiment.ok()) {
      fmt::print(stderr, "{}\n", experiment.status().ToString());
      return 1;
    }
    const double one = MeasureBatches(**store, *experiment, 1, batches, kBatchSize);
    fmt::print("{:<24} log-batch of {} metrics, 1 writer:  {:>8.0f} metric points/s\n", name,
               kBatchSize, one);
    const double many = MeasureBatches(**store, *experiment, threads, batches, kBatchSize);
    fmt::print("{:<24} log-batch of {} metrics, {} writers: {:>8.0f} metric points/s\n", name,
               kBatchSize, threads, many);
    const auto compact_start = Clock::now();
    int64_t compacted = 0;
    while (true) {
      auto moved = (*store)->CompactMetrics();
      if (!moved.ok() || *moved == 0) break;
      compacted += *moved;
    }
    const double compact_seconds =
        std::chrono::duration<double>(Clock::now() - compact_start).count();
    fmt::print("{:<24} compaction of the metric log:    {:>8.0f} metric points/s ({} points)\n",
               name, compacted / compact_seconds, compacted);
    const double single = MeasureSingleWrites(**store, *experiment, 500);
    fmt::print("{:<24} one metric per transaction:     {:>8.0f} writes/s\n", name, single);
  }
  return 0;
}
