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
#include <string>
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

struct EntrypointSpec {
  std::string name;
  std::string command;            // as written
  std::vector<std::string> argv;  // the command split like a shell would (no expansion) + args
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

// Splits a command line into words as a POSIX shell would, honouring quotes and
// backslashes but expanding nothing. Errors: InvalidArgument for an unclosed quote.
Result<std::vector<std::string>> SplitCommandLine(std::string_view text);

}  // namespace somlier
