// Best-run search latency: an experiment of N runs (100,000 by default), each with a
// metric, served by the API server; measures the MLflow search that finds the best run
// (runs/search, order_by the metric, max_results=1) and the seed's POST /search, through
// HTTP on loopback, and prints p50/p99. Also checks that the answer is the true best run.
//
//   search_latency [--runs N] [--requests R] [DATABASE_URL]
//
// Without a URL the database is a fresh SQLite file in a temporary directory.
#include <fmt/core.h>
#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "somlier/api/api_server.h"
#include "somlier/artifacts/artifact_store.h"
#include "somlier/core/ids.h"
#include "somlier/core/time.h"
#include "somlier/registry/registry_service.h"
#include "somlier/store/store.h"
#include "somlier/tracking/tracking_service.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

[[noreturn]] void Die(const std::string& what) {
  fmt::print(stderr, "search_latency: {}\n", what);
  std::exit(1);
}

struct Percentiles {
  double p50, p99;
};

Percentiles Measure(httplib::Client& client, const std::string& path, const json& body,
                    int requests, const std::string& expected_run) {
  std::vector<double> ms;
  const std::string text = body.dump();
  for (int i = 0; i < requests + 20; ++i) {
    const auto start = Clock::now();
    auto res = client.Post(path, text, "application/json");
    const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!res || res->status != 200)
      Die(fmt::format("{} failed: {}", path, res ? res->body : "no answer"));
    if (i == 0) {
      json answer = json::parse(res->body);
      const std::string got = answer.contains("runs")
                                  ? answer["runs"][0]["info"]["run_id"].get<std::string>()
                                  : answer["run_id"].get<std::string>();
      if (got != expected_run)
        Die(fmt::format("{} returned {}, not the best run {}", path, got, expected_run));
    }
    if (i >= 20) ms.push_back(elapsed);  // the first requests warm caches and connections
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 100000;
  int requests = 2000;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (arg == "--requests" && i + 1 < argc) {
      requests = std::atoi(argv[++i]);
    } else {
      url = arg;
    }
  }
  std::string dir_template = "/tmp/somlier-search-bench-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) Die("mkdtemp failed");
  const std::filesystem::path dir = dir_template;
  if (url.empty()) url = "sqlite:///" + (dir / "bench.db").string() + "?synchronous=normal";

  auto store = somlier::Store::Open(url);
  if (!store.ok()) Die(store.status().ToString());
  auto artifacts = somlier::ArtifactStore::Open(dir / "artifacts");
  if (!artifacts.ok()) Die(artifacts.status().ToString());
  somlier::TrackingService tracking(**store, **artifacts);
  somlier::RegistryService registry(**store, tracking);
  const std::string project = fmt::format("search-bench-{}", somlier::NewRunId().substr(0, 8));
  auto experiment = tracking.CreateExperiment(project, "", {});
  if (!experiment.ok()) Die(experiment.status().ToString());

  fmt::print(stderr, "creating {} runs with metric 'rmse'...\n", runs);
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> rmse(0.1, 10.0);
  double best = 1e300;
  std::string best_run;
  const auto populate_start = Clock::now();
  for (int i = 0; i < runs; ++i) {
    somlier::CreateRunRequest request;
    request.experiment_id = std::to_string(*experiment);
    auto run = tracking.CreateRun(request);
    if (!run.ok()) Die(run.status().ToString());
    const double value = rmse(random);
    if (auto s = (*store)->LogBatch(run->info.run_id, {{"rmse", value, somlier::NowMillis(), 0}},
                                    {{"alpha", std::to_string(i % 10)}}, {});
        !s.ok()) {
      Die(s.ToString());
    }
    if (value < best) {
      best = value;
      best_run = run->info.run_id;
    }
  }
  fmt::print(stderr, "populated in {:.1f} s\n",
             std::chrono::duration<double>(Clock::now() - populate_start).count());

  somlier::ApiServerOptions options;
  options.port = 0;
  auto server = somlier::ApiServer::Create({.tracking = &tracking, .registry = &registry}, options);
  if (!server.ok()) Die(server.status().ToString());
  if (auto s = (*server)->Start(); !s.ok()) Die(s.ToString());
  auto client_ptr = std::make_unique<httplib::Client>((*server)->url());
  httplib::Client& client = *client_ptr;
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);

  const auto mlflow = Measure(client, "/api/2.0/mlflow/runs/search",
                              {{"experiment_ids", {std::to_string(*experiment)}},
                               {"order_by", {"metrics.rmse ASC"}},
                               {"max_results", 1}},
                              requests, best_run);
  const auto seed =
      Measure(client, "/search",
              {{"project_name", project}, {"standard_metric", "rmse"}, {"order_by", "ASC"}},
              requests, best_run);
  fmt::print("best-run search, {} runs, {} requests each (HTTP on loopback):\n", runs, requests);
  fmt::print(
      "  runs/search order_by metrics.rmse ASC max_results=1: p50 {:.3f} ms, p99 {:.3f} ms\n",
      mlflow.p50, mlflow.p99);
  fmt::print("  seed POST /search (rmse, ASC):                      p50 {:.3f} ms, p99 {:.3f} ms\n",
             seed.p50, seed.p99);
  client_ptr.reset();  // close the keep-alive connection before stopping the server
  (*server)->Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
