// `somlier server [--host 127.0.0.1] [--port 5000] [--token T | --token_file F] [--insecure]
// [--allowed_hosts NAME,...] [--allow_local_sources]` and
// `somlier python-path`.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "somlier/api/api_server.h"
#include "somlier/cli/cli.h"
#include "somlier/cli/local_services.h"
#include "somlier/cli/output.h"
#include "somlier/cli/stop_signals.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"

namespace somlier::cli {
namespace {

constexpr std::chrono::milliseconds kOrphanWatchPeriod{3000};

struct ServerCommandOptions {
  ApiServerOptions server;
  std::string token;
  std::string token_file;
  bool allow_local_sources = false;
  bool print_routes = false;
};

// The token from --token_file: the file's first line, which must not be empty.
Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return InvalidArgument(fmt::format("--token_file '{}' cannot be read", path));
  }
  std::string token(Trim(line));
  if (token.empty()) {
    return InvalidArgument(fmt::format("--token_file '{}' holds no token on its first line", path));
  }
  return token;
}

Result<int> Serve(const Context& ctx, ServerCommandOptions o) {
  StopSignals stop;  // before any thread starts

  if (!o.token_file.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(o.token, ReadTokenFile(o.token_file));
  }
  o.server.token = o.token.empty() ? ctx.settings.token : o.token;
  // The URIs callers send to /register_v2 name public sources only: not this machine's
  // files, nor addresses on its networks (its metadata service, its other servers).
  LocalServicesOptions local;
  local.server = true;
  if (!o.allow_local_sources) {
    local.model_sources = FetchPolicy::PublicOnly(
        "a server fetches only public sources unless started with --allow_local_sources");
  }
  SOMLIER_ASSIGN_OR_RETURN(auto services,
                           LocalServices::Open(ctx.settings, ctx.env, std::move(local)));
  if (auto recovered = services->train->RecoverOrphanedRuns(); !recovered.ok()) {
    return recovered.status().WithContext("failing the runs a previous server left behind");
  } else if (*recovered > 0) {
    LogWarning("{} run(s) executed by a SoMLier process that has died were marked FAILED",
               *recovered);
  }
  // Executors can die while this server runs too (another server on the same store, an
  // in-process `somlier online train` killed with SIGKILL): their runs are FAILED within
  // this period, for every client that reads them.
  services->train->WatchForOrphanedRuns(kOrphanWatchPeriod);
  SOMLIER_ASSIGN_OR_RETURN(auto server, ApiServer::Create(services->UseCases(), o.server));
  if (o.print_routes) {
    PrintRoutes(server->routes());
    return 0;
  }
  SOMLIER_RETURN_IF_ERROR(server->Start());
  // Runs this server executes log to it; over loopback when it listens on every address.
  const bool wildcard = o.server.host == "0.0.0.0" || o.server.host == "::";
  services->train->SetTrackingServer(
      wildcard ? fmt::format("http://127.0.0.1:{}", server->port()) : server->url(),
      o.server.token);
  fmt::print(stderr, "SoMLier server listening on {} (database {}, artifacts {}{})\n",
             server->url(), RedactUrlPassword(ctx.settings.database_url),
             ctx.settings.artifact_root, o.server.token.empty() ? "" : ", token required");
  std::fflush(stderr);
  int received = 0;
  while (received == 0) received = stop.WaitFor(std::chrono::hours(1));
  fmt::print(stderr, "SoMLier server stopping ({})\n", StopSignals::Name(received));
  server->Stop();
  // Kills the runs still executing here (KILLED, not left RUNNING); Kubernetes Jobs go on, and
  // the next server follows them.
  services->train.reset();
  return 0;
}

}  // namespace

void AddServerCommands(CLI::App& app, Context& ctx) {
  auto options = std::make_shared<ServerCommandOptions>();
  CLI::App* server = app.add_subcommand(
      "server", "Serve the MLflow-compatible tracking and registry API and the seed's REST API");
  server->add_option("--host", options->server.host, "Address to listen on")->capture_default_str();
  server->add_option("--port", options->server.port, "Port (0: any free port)")
      ->capture_default_str();
  auto* token = server->add_option(
      "--token", options->token,
      "Require 'Authorization: Bearer TOKEN' (default: $SOMLIER_TOKEN; prefer --token_file or "
      "the variable: an argument is visible to every user in ps)");
  server
      ->add_option("--token_file", options->token_file,
                   "Read the token from the first line of this file")
      ->excludes(token);
  server
      ->add_option("--allowed_hosts", options->server.allowed_hosts,
                   "Names (NAME or NAME:PORT) clients may address this server by besides "
                   "localhost, 127.0.0.1 and [::1]; comma-separated or repeated")
      ->delimiter(',');
  server->add_flag("--insecure", options->server.insecure,
                   "Allow listening on a non-loopback address without a token");
  server->add_flag("--allow_local_sources", options->allow_local_sources,
                   "Let POST /register_v2 fetch local paths, file:// and http(s) URLs on "
                   "loopback, private and link-local addresses (for trusted callers only)");
  server
      ->add_option("--threads", options->server.threads,
                   "Worker threads: requests handled at once (connections need none of their own)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  server->add_flag("--print_routes", options->print_routes,
                   "Print the server's endpoints as JSON and exit (for tests and tooling)");
  ctx.handlers.emplace_back(server, [&ctx, options] { return Serve(ctx, *options); });

  CLI::App* python_path = app.add_subcommand(
      "python-path", "Print the directory of the somlier Python package (for PYTHONPATH)");
  ctx.handlers.emplace_back(python_path, [&ctx]() -> Result<int> {
    SOMLIER_ASSIGN_OR_RETURN(auto dir, PythonPackageDir(ctx.env));
    fmt::print("{}\n", dir.string());
    return 0;
  });
}

}  // namespace somlier::cli
