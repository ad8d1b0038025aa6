// ProjectSpec: a project's `somlier.yaml` (also `somlier.yml` or `somlier`), read,
// interpolated and checked.
//
//   global:      {env: TEST|..., logging: {format: json|text}}
//   project:     {name, python: {version, requirements_txt}, docker: {name, tags, volumes, env}}
//   model:       {name, version: v..., tags: [...], config: {...},
//                 assets: [{provider: http|local|gcs, files: {NAME: {remote_uri, local_path}}}]}
//   entrypoints: {NAME: {command, args: [...]}}     (the seed's `entrypoint:` is accepted too)
//
// Every scalar may use ${VAR} / ${VAR:default} (projects/interpolation.h). Loading checks
// everything the project's commands rely on and reports the first problem with the file,
// the key path and what was expected; unknown keys are reported as warnings. A plain
// value type; thread-compatible.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier {

enum class LogFormat { kJson, kText };

struct AssetFile {
  std::string name;
  std::string remote_uri;
  std::string local_path;  // relative to the project's assets directory
};

struct AssetGroup {
  std::string provider;  // "http" | "local" | "gcs"
  std::vector<AssetFile> files;
};

// A parameter an MLproject entry point declares: type string|float|int|path|uri.
struct EntrypointParameter {
  std::string name;
  std::string type = "string";
  std::optional<std::string> default_value;  // none: the parameter is required
};

struct EntrypointSpec {
  std::string name;
  std::string command;            // as written
  std::vector<std::string> argv;  // the command split like a shell would (no expansion) + args
  // MLproject entry points may declare their parameters; somlier.yaml ones do not.
  bool declares_parameters = false;
  std::vector<EntrypointParameter> parameters;
};

struct ProjectSpec {
  std::filesystem::path file;       // absolute
  std::filesystem::path directory;  // the file's directory: where entrypoints run

  std::string env;  // global.env
  LogFormat log_format = LogFormat::kJson;

  std::string project_name;
  std::string python_version;
  std::string requirements_txt = "requirements.txt";
  std::string docker_name;
  std::vector<std::string> docker_tags;
  std::vector<std::string> docker_volumes;
  std::vector<std::string> docker_env;

  std::string model_name;
  std::string model_version;
  std::vector<std::string> model_tags;
  std::vector<AssetGroup> assets;
  std::string model_config_json = "{}";  // model.config as JSON text
  // Extra pip requirement lines (from an MLproject's python_env); RequirementsPath() is
  // used when this is empty.
  std::vector<std::string> pip_dependencies;

  std::vector<EntrypointSpec> entrypoints;  // in file order

  // Unknown keys seen while loading, as "key.path" (callers may warn about them).
  std::vector<std::string> unknown_keys;

  bool IsTestEnv() const;  // global.env is TEST (any case): assets are not fetched
  std::filesystem::path AssetsDirectory() const { return directory / "assets"; }
  std::filesystem::path RequirementsPath() const { return directory / requirements_txt; }

  // NotFound listing the defined entrypoints when `name` is not one of them.
  Result<const EntrypointSpec*> FindEntrypoint(const std::string& name) const;

  // The whole spec as JSON (for `config show --output json`).
  std::string ToJson() const;
};

// The project file to use: `explicit_file` when given (it must exist), else the first of
// somlier.yaml, somlier.yml, somlier in `directory`. Errors: NotFound saying where it
// looked.
Result<std::filesystem::path> FindProjectFile(const std::filesystem::path& directory,
                                              const std::string& explicit_file);

// Errors: NotFound for a missing file; InvalidArgument for YAML syntax (with line and
// column), a wrong type, a bad value or an unresolvable ${VAR}, naming the key.
Result<ProjectSpec> LoadProjectSpec(const std::filesystem::path& file, const Environment& env);

// The project in `directory`: its somlier.yaml (somlier.yml, somlier) or, without one, its
// MLflow `MLproject` file. Errors: NotFound when it has neither; those of the loaders.
Result<ProjectSpec> LoadProjectDirectory(const std::filesystem::path& directory,
                                         const Environment& env);

// An MLflow MLproject file: name, python_env (its python version and dependencies),
// entry_points with typed parameters, defaults and `{param}` command templates.
Result<ProjectSpec> LoadMlproject(const std::filesystem::path& file, const Environment& env);

// The argv that runs `entrypoint` with `params` (name, value pairs), by MLflow's rules:
// a `{name}` in a word of the command is replaced by the value (the word stays one
// argument, whatever the value holds); a parameter without a placeholder is appended as
// `--name value`; a declared parameter's default fills a placeholder no value was given
// for. Errors: InvalidArgument for a parameter the entry point does not declare (when it
// declares any), a required parameter without a value, a value that does not fit its
// declared type (float, int), or a placeholder nothing fills.
Result<std::vector<std::string>> BuildEntrypointArgv(
    const EntrypointSpec& entrypoint,
    const std::vector<std::pair<std::string, std::string>>& params);

// Splits a command line into words as a POSIX shell would, honouring quotes and
// backslashes but expanding nothing. Errors: InvalidArgument for an unclosed quote.
Result<std::vector<std::string>> SplitCommandLine(std::string_view text);

}  // namespace somlier
