#include "somlier/cli/cli.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <exception>

#include "somlier/core/log.h"

namespace somlier::cli {

int ReportError(const Status& status) {
  std::fflush(stdout);
  fmt::print(stderr, "error: {}\n", status.message());
  return status.exit_code();
}

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a peer that hangs up is an error to handle, not a reason to die
  Context ctx;
  ctx.env = ProcessEnvironment();

  CLI::App app{
      "SoMLier: train ML projects from git over parameter grids, find the best run, register "
      "and serve its model, and schedule batch inference.",
      "somlier"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("somlier ") + SOMLIER_VERSION);
  std::string log_level;
  app.add_option("--log-level", log_level,
                 "Diagnostics on stderr: debug, info, warning, error or off "
                 "(default: $SOMLIER_LOG_LEVEL or info)");

  AddConfigCommands(app, ctx);
  AddSeedCommands(app, ctx);
  AddTrainCommands(app, ctx);
  AddRunsCommands(app, ctx);
  AddServerCommands(app, ctx);
  AddServeCommands(app, ctx);
  AddDeployCommands(app, ctx);
  AddDeploymentsCommands(app, ctx);
  AddKubernetesCommands(app, ctx);
  AddBatchCommands(app, ctx);
  CLI::App* online = app.add_subcommand("online",
                                        "The seed's online commands (train, search, register, "
                                        "register_v2, deploy) under their long names");
  online->require_subcommand(1);
  AddSeedCommands(*online, ctx);
  AddTrainCommands(*online, ctx);
  AddDeployCommands(*online, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto settings = LoadSettings(ctx.env);
  if (!settings.ok()) return ReportError(settings.status());
  ctx.settings = std::move(*settings);
  SetLogLevel(ctx.settings.log_level);
  if (!log_level.empty()) {
    auto level = ParseLogLevel(log_level);
    if (!level) {
      return ReportError(InvalidArgument(fmt::format(
          "--log-level '{}' is not one of debug, info, warning, error, off", log_level)));
    }
    SetLogLevel(*level);
  }

  for (auto& [command, handler] : ctx.handlers) {
    if (command->parsed()) {
      try {
        Result<int> result = handler();
        if (!result.ok()) return ReportError(result.status());
        return *result;
      } catch (const std::exception& e) {
        return ReportError(Internal(fmt::format("unexpected failure: {}", e.what())));
      }
    }
  }
  return ReportError(InvalidArgument("no command given; see somlier --help"));
}

}  // namespace somlier::cli
