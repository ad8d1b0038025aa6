// Cli: the `somlier` command line — parsing (CLI11), dispatch to command groups, and the
// conventions every command follows:
//   * results go to stdout (text, or JSON with --output json where scripts read them);
//     diagnostics, progress and errors go to stderr;
//   * an error prints "error: <message>" and exits with the code of its Status
//     (core/status.h); a usage error exits with 2;
//   * settings come from the environment and $SOMLIER_HOME/config.yaml (core/settings.h).
//
// This is the CLI edge: the only place where exceptions (CLI11's) are caught.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace CLI {
class App;
}  // namespace CLI

namespace somlier::cli {

// What command groups share: settings and the table of leaf commands to dispatch to.
struct Context {
  Environment env;
  Settings settings;
  // Each leaf (sub)command and what runs when it was given; the result is the exit code.
  std::vector<std::pair<CLI::App*, std::function<Result<int>()>>> handlers;
};

// Command groups; each adds its subcommands to `app` and their handlers to `ctx`.
void AddConfigCommands(CLI::App& app, Context& ctx);
// `search` and `register`, added to `parent` (the top level, and again under `online`).
void AddSeedCommands(CLI::App& parent, Context& ctx);
// `train` (the seed's `online train`), added to `parent`.
void AddTrainCommands(CLI::App& parent, Context& ctx);
// `runs list|show|logs|kill`.
void AddRunsCommands(CLI::App& app, Context& ctx);
// `deploy` (the seed's), added to `parent` (the top level, and again under `online`).
void AddDeployCommands(CLI::App& parent, Context& ctx);
// `deployments list|stop|logs`.
void AddDeploymentsCommands(CLI::App& app, Context& ctx);
// `batch create`, `offline create`, `offline list`.
void AddBatchCommands(CLI::App& app, Context& ctx);
// `offline predict`, added to the `offline` group.
void AddOfflineCommands(CLI::App& offline, Context& ctx);
// `serve-model`.
void AddServeCommands(CLI::App& app, Context& ctx);
// `server` and `python-path`.
void AddServerCommands(CLI::App& app, Context& ctx);
// `kubernetes init`.
void AddKubernetesCommands(CLI::App& app, Context& ctx);

// Prints "error: <message>" to stderr and returns the exit code for `status`.
int ReportError(const Status& status);

int Main(int argc, char** argv);

}  // namespace somlier::cli
