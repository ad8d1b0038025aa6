// Load generator for MLflow's runs/log-batch: N keep-alive connections, each a thread
// logging to its own run as fast as the server answers, 100 metrics per request (10 keys ×
// 10 consecutive steps, every point distinct, as a training loop logging each step sends
// them). Prints requests/s, metric points/s and latency percentiles.
//
//   log_batch_load URL [--connections 8] [--seconds 10] [--metrics 100] [--token T]
#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url;
  int connections = 8;
  int seconds = 10;
  int metrics = 100;
  std::string token;
};

std::unique_ptr<httplib::Client> Connect(const Options& o) {
  auto client = std::make_unique<httplib::Client>(o.url);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_read_timeout(60, 0);
  if (!o.token.empty()) client->set_bearer_token_auth(o.token);
  return client;
}

std::string CreateRun(httplib::Client& client, const std::string& experiment_id) {
  auto res =
      client.Post("/api/2.0/mlflow/runs/create",
                  nlohmann::json{{"experiment_id", experiment_id}}.dump(), "application/json");
  if (!res || res->status != 200) {
    fmt::print(stderr, "cannot create a run: {}\n",
               res ? res->body : httplib::to_string(res.error()));
    std::exit(1);
  }
  return nlohmann::json::parse(res->body)["run"]["info"]["run_id"];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--connections") {
      o.connections = std::atoi(next().c_str());
    } else if (arg == "--seconds") {
      o.seconds = std::atoi(next().c_str());
    } else if (arg == "--metrics") {
      o.metrics = std::atoi(next().c_str());
    } else if (arg == "--token") {
      o.token = next();
    } else {
      o.url = arg;
    }
  }
  if (o.url.empty() || o.connections < 1 || o.seconds < 1 || o.metrics < 1) {
    fmt::print(stderr,
               "usage: log_batch_load URL [--connections N] [--seconds S] [--metrics M] "
               "[--token T]\n");
    return 2;
  }

  auto setup = Connect(o);
  auto created =
      setup->Post("/api/2.0/mlflow/experiments/create",
                  nlohmann::json{{"name", fmt::format("load-{}", std::time(nullptr))}}.dump(),
                  "application/json");
  if (!created || created->status != 200) {
    fmt::print(stderr, "cannot create an experiment: {}\n",
               created ? created->body : httplib::to_string(created.error()));
    return 1;
  }
  const std::string experiment = nlohmann::json::parse(created->body)["experiment_id"];

  std::atomic<bool> stop{false};
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> errors{0};
  std::mutex latency_mu;
  std::vector<double> latencies_ms;
  std::vector<std::thread> threads;
  for (int t = 0; t < o.connections; ++t) {
    threads.emplace_back([&, t] {
      auto client = Connect(o);
      const std::string run = CreateRun(*client, experiment);
      std::vector<double> local;
      int64_t step = 0;
      std::string body;
      const int per_step = 10;
      while (!stop.load(std::memory_order_relaxed)) {
        body.clear();
        body += R"({"run_id":")" + run + R"(","metrics":[)";
        for (int i = 0; i < o.metrics; ++i) {
          const int64_t s = step + i / per_step;
          body += fmt::format(R"({}{{"key":"metric_{}","value":{}.25,"timestamp":{},"step":{}}})",
                              i ? "," : "", i % per_step, s + t, 1700000000000 + s, s);
        }
        body += "]}";
        step += (o.metrics + per_step - 1) / per_step;
        const auto start = Clock::now();
        auto res = client->Post("/api/2.0/mlflow/runs/log-batch", body, "application/json");
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (!res || res->status != 200) {
          if (errors++ == 0) {
            fmt::print(stderr, "error: {}\n", res ? res->body : httplib::to_string(res.error()));
          }
          if (!res) client = Connect(o);
          continue;
        }
        requests.fetch_add(1, std::memory_order_relaxed);
        local.push_back(ms);
      }
      std::lock_guard<std::mutex> lock(latency_mu);
      latencies_ms.insert(latencies_ms.end(), local.begin(), local.end());
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  const double rps = static_cast<double>(requests.load()) / seconds;
  fmt::print(
      "log-batch x{} metrics, {:>2} connections: {:>7.0f} requests/s, {:>8.0f} metric points/s, "
      "latency p50 {:.2f} ms, p99 {:.2f} ms, errors {}\n",
      o.metrics, o.connections, rps, rps * o.metrics, pct(0.50), pct(0.99), errors.load());
  return errors.load() == 0 ? 0 : 1;
}
