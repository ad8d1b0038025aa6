// `somlier config show [-d] [-f FILE] [--output text|json]` and
// `somlier config run ENTRYPOINT [ARGS...] [-f FILE]`: check a project's somlier.yaml and
// run its entrypoints locally, as the seed describes.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "somlier/cli/cli.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/projects/local_run.h"
#include "somlier/projects/project_spec.h"
#include "somlier/projects/requirements.h"

namespace somlier::cli {
namespace {

constexpr std::string_view kBanner = R"(   _____       __  _____    _
  / ___/____  /  |/  / /   (_)__  _____
  \__ \/ __ \/ /|_/ / /   / / _ \/ ___/
 ___/ / /_/ / /  / / /___/ /  __/ /
/____/\____/_/  /_/_____/_/\___/_/
)";

Result<ProjectSpec> LoadProject(const Context& ctx, const std::string& file) {
  SOMLIER_ASSIGN_OR_RETURN(std::filesystem::path path,
                           FindProjectFile(std::filesystem::current_path(), file));
  SOMLIER_ASSIGN_OR_RETURN(ProjectSpec spec, LoadProjectSpec(path, ctx.env));
  for (const std::string& key : spec.unknown_keys) {
    LogWarning("{}: unknown key '{}' is ignored", spec.file.string(), key);
  }
  return spec;
}

std::string AssetsRepr(const std::vector<AssetGroup>& assets) {
  std::vector<std::string> groups;
  for (const AssetGroup& g : assets) {
    std::vector<std::string> files;
    for (const AssetFile& f : g.files) {
      files.push_back(fmt::format("{}: {{'remote_uri': {}, 'local_path': {}}}", PythonRepr(f.name),
                                  PythonRepr(f.remote_uri), PythonRepr(f.local_path)));
    }
    groups.push_back(fmt::format("{{'provider': {}, 'files': {{{}}}}}", PythonRepr(g.provider),
                                 Join(files, ", ")));
  }
  return "[" + Join(groups, ", ") + "]";
}

struct ShowOptions {
  std::string file;
  bool dependencies = false;
  std::string output = "text";
};

Result<int> Show(const Context& ctx, const ShowOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(ProjectSpec spec, LoadProject(ctx, o.file));
  if (o.dependencies) {
    SOMLIER_ASSIGN_OR_RETURN(std::vector<Requirement> requirements,
                             ParseRequirementsFile(spec.RequirementsPath()));
    if (o.output == "json") {
      fmt::print("{}\n", RequirementsToJson(requirements).dump(2));
      return 0;
    }
    fmt::print("{}\n", kBanner);
    fmt::print("-------- dependencies --------\n");
    for (const Requirement& r : requirements) fmt::print("{}\n", r.Display());
    fmt::print("------------------------------\n");
    return 0;
  }
  if (o.output == "json") {
    fmt::print("{}\n", spec.ToJson());
    return 0;
  }
  fmt::print("{}\n", kBanner);
  fmt::print("SoMLier YAML: [{}]\n", spec.file.string());
  fmt::print("Model Name: {}\n", spec.model_name);
  fmt::print("Model Version: {}\n", spec.model_version);
  fmt::print("Model Tag: {}\n", PythonListRepr(spec.model_tags));
  fmt::print("Model Assets: {}\n", AssetsRepr(spec.assets));
  fmt::print("Python Version: {}\n", spec.python_version);
  fmt::print("Docker Image Name: {}:{}\n", spec.docker_name, PythonListRepr(spec.docker_tags));
  return 0;
}

struct RunOptions {
  std::string file;
  std::string entrypoint;
  std::vector<std::string> args;
};

Result<int> Run(const Context& ctx, const RunOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(ProjectSpec spec, LoadProject(ctx, o.file));
  SOMLIER_ASSIGN_OR_RETURN(const EntrypointSpec* entrypoint, spec.FindEntrypoint(o.entrypoint));

  // The banner and what is about to happen go to stderr: stdout carries only the child's
  // output lines, so scripts can read them.
  fmt::print(stderr, "{}\n", kBanner);
  fmt::print(stderr, "Entrypoint: [{}] is starting.\n", entrypoint->name);
  SOMLIER_RETURN_IF_ERROR(FetchAssets(spec, [](const AssetFile& f, const auto& destination) {
    fmt::print(stderr, "Fetching asset '{}' from {} to {}\n", f.name, f.remote_uri,
               destination.string());
  }));
  LocalRunOptions options;
  options.python = ctx.settings.python;
  options.extra_args = o.args;
  const std::vector<std::string> argv = EntrypointArgv(*entrypoint, options, ctx.env);
  fmt::print(stderr, "Executing {}...\n", PythonListRepr(argv));
  std::fflush(stderr);

  return RunEntrypoint(
      spec, argv, options, ctx.env, [&](OutputStream stream, std::string_view line) {
        FILE* out = stream == OutputStream::kStdout ? stdout : stderr;
        const std::string text =
            FormatOutputLine(spec.log_format, entrypoint->name, stream, line, NowMicros());
        std::fwrite(text.data(), 1, text.size(), out);
        std::fputc('\n', out);
        std::fflush(out);
      });
}

}  // namespace

void AddConfigCommands(CLI::App& app, Context& ctx) {
  CLI::App* config = app.add_subcommand(
      "config", "Check a project's somlier.yaml and run its entrypoints locally");
  config->require_subcommand(1);

  auto show_options = std::make_shared<ShowOptions>();
  CLI::App* show = config->add_subcommand(
      "show", "Print the project's model, Python and Docker settings from somlier.yaml");
  show->add_flag("-d,--dependencies", show_options->dependencies,
                 "List the entries of the project's requirements file instead");
  show->add_option("-f,--file", show_options->file,
                   "Project file (default: somlier.yaml, somlier.yml or somlier here)");
  show->add_option("--output", show_options->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(show, [&ctx, show_options] { return Show(ctx, *show_options); });

  auto run_options = std::make_shared<RunOptions>();
  CLI::App* run = config->add_subcommand(
      "run",
      "Fetch the model assets and run an entrypoint in the project directory, printing each "
      "output line as JSON (or text, per global.logging.format); exits with its exit code");
  run->add_option("entrypoint", run_options->entrypoint, "Entrypoint name from somlier.yaml")
      ->required();
  run->add_option("args", run_options->args,
                  "Extra arguments for the entrypoint (put them after -- when they start "
                  "with -)");
  run->add_option("-f,--file", run_options->file,
                  "Project file (default: somlier.yaml, somlier.yml or somlier here)");
  ctx.handlers.emplace_back(run, [&ctx, run_options] { return Run(ctx, *run_options); });
}

}  // namespace somlier::cli
