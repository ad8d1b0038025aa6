// LocalRun: what `somlier config run` does — fetch a project's model assets, then run one
// of its entrypoints in the project directory with its output streamed line by line.
//
// The entrypoint's argv is run directly (never through a shell). A command of `python`
// or `python3` runs the configured interpreter (SOMLIER_PYTHON) when one is set, and
// `python3` when `python` is not on PATH. The child sees the caller's environment plus
// SOMLIER_ENV, SOMLIER_ASSETS_DIR, SOMLIER_MODEL_NAME, SOMLIER_MODEL_VERSION,
// SOMLIER_MODEL_CONFIG (model.config as JSON), SOMLIER_PYTHON and PYTHONUNBUFFERED=1 (so a
// Python child's lines arrive as they are printed). Runs on the calling thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/execution/line_pump.h"
#include "somlier/projects/project_spec.h"

namespace somlier {

struct LocalRunOptions {
  std::string python;                   // interpreter for python/python3 commands, or empty
  std::vector<std::string> extra_args;  // appended to the entrypoint's argv
  bool forward_signals = true;          // pass SIGINT/SIGTERM on to the child's group
};

using AssetProgress =
    std::function<void(const AssetFile& file, const std::filesystem::path& destination)>;

// Fetches every file of spec.assets into spec.AssetsDirectory(); does nothing when the
// project's env is TEST. `progress` is called before each file. Errors: those of
// FetchToFile (artifacts/fetch.h), naming the asset; InvalidArgument when a remote_uri
// does not suit its provider.
Status FetchAssets(const ProjectSpec& spec, const AssetProgress& progress);

// The argv an entrypoint runs with (see the file comment for the interpreter rule).
std::vector<std::string> EntrypointArgv(const EntrypointSpec& entrypoint,
                                        const LocalRunOptions& options, const Environment& env);

// `argv` with a leading `python`/`python3` replaced by `python` (when not empty), else
// `python` by `python3` when `python` is not on env's PATH.
std::vector<std::string> WithInterpreter(std::vector<std::string> argv, const std::string& python,
                                         const Environment& env);

// `env` plus what an entrypoint's process is given (see the file comment).
Environment EntrypointEnvironment(const ProjectSpec& spec, const std::string& python,
                                  Environment env);

// Runs `argv` in the project directory and returns its exit code (128 + N when signal N
// ended it). Errors: NotFound when the program cannot be started.
Result<int> RunEntrypoint(const ProjectSpec& spec, const std::vector<std::string>& argv,
                          const LocalRunOptions& options, const Environment& env,
                          const LineCallback& on_line);

// One output line as `config run` prints it:
//   json: {"name": "main", "stdout": "hello\n", "timestamp": "2022-08-17T18:50:24.775569"}
//   text: main | 2022-08-17T18:50:24.775569 | hello
// (the key is "stderr" for the child's stderr). Invalid UTF-8 is replaced, not dropped.
std::string FormatOutputLine(LogFormat format, std::string_view entrypoint, OutputStream stream,
                             std::string_view line, int64_t epoch_micros);

}  // namespace somlier
