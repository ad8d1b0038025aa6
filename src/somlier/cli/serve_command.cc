// `somlier serve-model MODEL_URI [--host] [--port] [--workers N] [--max_batch_size 64]
// [--max_batch_delay_us 0] [--max_queue 1024] [--max_body_mb 32] [--ready_file PATH]`:
// one model behind the C++ model server (serving/model_server.h) until SIGTERM or SIGINT,
// which drain it.
//
// MODEL_URI is models:/NAME/VERSION, models:/NAME@ALIAS, runs:/RUN_ID/PATH or a model
// directory. In-process they are found in the local artifact store; with SOMLIER_SERVER
// set, the model is downloaded from that server first (by the somlier Python package).
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/cli/cli.h"
#include "somlier/cli/local_services.h"
#include "somlier/cli/model_location.h"
#include "somlier/cli/output.h"
#include "somlier/cli/stop_signals.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/execution/run_command.h"
#include "somlier/serving/model_server.h"

namespace somlier::cli {
namespace fs = std::filesystem;

namespace {

struct ServeOptions {
  std::string model_uri;
  serving::ModelServerOptions server;
  int64_t max_batch_delay_us = 0;
  size_t max_body_mb = serving::kDefaultMaxBodyBytes >> 20;
  std::string ready_file;
  bool print_routes = false;
};

Result<int> Serve(const Context& ctx, ServeOptions o) {
  StopSignals stop;  // before any thread starts
  SOMLIER_ASSIGN_OR_RETURN(ServedModel model, LocateServedModel(ctx, o.model_uri));
  RemoveOnExit remove_download{model.temporary};
  o.server.model_name = model.name;
  o.server.model_version = model.version;
  o.server.batching.max_delay = std::chrono::microseconds(o.max_batch_delay_us);
  o.server.max_body_bytes = o.max_body_mb << 20;
  o.server.worker.python = ctx.settings.PythonOrDefault();
  o.server.worker.model_dir = model.directory.string();
  SOMLIER_ASSIGN_OR_RETURN(o.server.worker.env, WithPythonPackage(ctx.env));

  SOMLIER_ASSIGN_OR_RETURN(auto server, serving::ModelServer::Create(o.server));
  if (o.print_routes) {
    PrintRoutes(server->routes());
    return 0;
  }
  fmt::print(stderr, "loading {} ({} worker{}) ...\n", o.model_uri, o.server.workers,
             o.server.workers == 1 ? "" : "s");
  std::fflush(stderr);
  {
    // A signal while the model loads (it may take minutes) stops the server at once.
    std::atomic<bool> started{false};
    std::thread stopper([&] {
      while (!started) {
        if (stop.WaitFor(std::chrono::milliseconds(100)) != 0) {
          server->Stop();
          return;
        }
      }
    });
    Status status = server->Start();
    started = true;
    stopper.join();
    if (stop.received() != 0) {
      fmt::print(stderr, "model server stopped ({})\n", StopSignals::Name(stop.received()));
      return 128 + stop.received();
    }
    SOMLIER_RETURN_IF_ERROR(status);
  }
  fmt::print(stderr,
             "serving {} as '{}' version {} on {} (POST /invocations, /v2/models/{}/infer; "
             "max batch {} rows, delay {} us, queue {})\n",
             o.model_uri, model.name, model.version, server->url(), model.name,
             o.server.batching.max_batch_size, o.max_batch_delay_us, o.server.batching.max_queue);
  std::fflush(stderr);
  if (!o.ready_file.empty()) {
    nlohmann::json ready = {
        {"url", server->url()}, {"port", server->port()}, {"pid", static_cast<int64_t>(getpid())}};
    SOMLIER_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(o.ready_file));
    SOMLIER_RETURN_IF_ERROR(file->Append(ready.dump() + "\n"));
    SOMLIER_RETURN_IF_ERROR(file->Commit());
  }
  int received = 0;
  while (received == 0) received = stop.WaitFor(std::chrono::hours(1));
  fmt::print(stderr, "model server stopping ({}): answering requests in flight\n",
             StopSignals::Name(received));
  std::fflush(stderr);
  server->Stop();
  return 0;
}

}  // namespace

void AddServeCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve-model",
      "Serve a model over HTTP: MLflow's /invocations and the KServe V2 protocol, with dynamic "
      "batching and a pool of Python workers");
  serve
      ->add_option("MODEL_URI", o->model_uri,
                   "models:/NAME/VERSION, models:/NAME@ALIAS, runs:/RUN_ID/PATH or a model "
                   "directory")
      ->required();
  serve->add_option("--host", o->server.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", o->server.port, "Port (0: any free port)")->capture_default_str();
  serve->add_option("--workers", o->server.workers, "Python worker processes")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve
      ->add_option("--max_batch_size", o->server.batching.max_batch_size,
                   "Most rows per batch (1: no batching)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  serve
      ->add_option("--max_batch_delay_us", o->max_batch_delay_us,
                   "How long a free worker waits for a batch to fill (microseconds; 0: it takes "
                   "what is queued at once, so batching never adds latency when a worker is free)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10'000'000));
  serve
      ->add_option("--max_queue", o->server.batching.max_queue,
                   "Requests that may wait; more are answered 503 at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  serve->add_option("--max_body_mb", o->max_body_mb, "Largest request body (MiB)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  serve->add_flag("--print_routes", o->print_routes,
                  "Print the server's endpoints as JSON and exit (for tests and tooling)");
  serve->add_option("--ready_file", o->ready_file,
                    "Write {url, port, pid} as JSON to this file once the model is loaded");
  ctx.handlers.emplace_back(serve, [&ctx, o] { return Serve(ctx, *o); });
}

}  // namespace somlier::cli
