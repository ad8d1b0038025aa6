#include "somlier/projects/local_run.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "somlier/artifacts/fetch.h"
#include "somlier/core/time.h"
#include "somlier/execution/signal_forwarding.h"
#include "somlier/execution/subprocess.h"

namespace somlier {
namespace {

bool UriSuitsProvider(std::string_view provider, std::string_view uri) {
  const bool http = uri.starts_with("http://") || uri.starts_with("https://");
  if (provider == "http") return http;
  if (provider == "gcs") return uri.starts_with("gs://");
  return !http && !uri.starts_with("gs://") && !uri.starts_with("s3://");  // local
}

// JSON string literal, replacing invalid UTF-8 instead of failing.
std::string JsonString(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Status FetchAssets(const ProjectSpec& spec, const AssetProgress& progress) {
  if (spec.IsTestEnv()) return OkStatus();
  for (const AssetGroup& group : spec.assets) {
    for (const AssetFile& file : group.files) {
      const std::string what = fmt::format("model asset '{}' ({})", file.name, file.remote_uri);
      if (!UriSuitsProvider(group.provider, file.remote_uri)) {
        return InvalidArgument(
            fmt::format("{}: provider '{}' cannot fetch this URI", what, group.provider));
      }
      const auto destination = spec.AssetsDirectory() / file.local_path;
      if (progress) progress(file, destination);
      Status fetched = FetchToFile(file.remote_uri, destination);
      if (fetched.code() == StatusCode::kUnimplemented) {
        return Status(fetched.code(),
                      fmt::format("{}: {}; set global.env to TEST to run without assets", what,
                                  fetched.message()));
      }
      SOMLIER_RETURN_IF_ERROR(fetched.WithContext(what));
    }
  }
  return OkStatus();
}

std::vector<std::string> WithInterpreter(std::vector<std::string> argv, const std::string& python,
                                         const Environment& env) {
  if (!argv.empty() && (argv[0] == "python" || argv[0] == "python3")) {
    if (!python.empty()) {
      argv[0] = python;
    } else if (argv[0] == "python" && !FindExecutable("python", Lookup(env, "PATH"))) {
      argv[0] = "python3";
    }
  }
  return argv;
}

std::vector<std::string> EntrypointArgv(const EntrypointSpec& entrypoint,
                                        const LocalRunOptions& options, const Environment& env) {
  std::vector<std::string> argv = WithInterpreter(entrypoint.argv, options.python, env);
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  return argv;
}

Environment EntrypointEnvironment(const ProjectSpec& spec, const std::string& python,
                                  Environment env) {
  env["SOMLIER_ENV"] = spec.env;
  env["SOMLIER_ASSETS_DIR"] = spec.AssetsDirectory().string();
  env["SOMLIER_MODEL_NAME"] = spec.model_name;
  env["SOMLIER_MODEL_VERSION"] = spec.model_version;
  env["SOMLIER_MODEL_CONFIG"] = spec.model_config_json;
  env["SOMLIER_PYTHON"] = python.empty() ? "python3" : python;
  env["PYTHONUNBUFFERED"] = "1";
  return env;
}

Result<int> RunEntrypoint(const ProjectSpec& spec, const std::vector<std::string>& argv,
                          const LocalRunOptions& options, const Environment& env,
                          const LineCallback& on_line) {
  SpawnOptions spawn;
  spawn.argv = argv;
  spawn.working_dir = spec.directory.string();
  spawn.new_process_group = true;
  spawn.env = EntrypointEnvironment(spec, options.python, env);

  SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::Spawn(spawn));
  {
    std::optional<SignalForwarding> forwarding;
    if (options.forward_signals) forwarding.emplace(child->pid());
    SOMLIER_RETURN_IF_ERROR(PumpLines(child->stdout_fd(), child->stderr_fd(), on_line));
  }
  return child->Wait();
}

std::string FormatOutputLine(LogFormat format, std::string_view entrypoint, OutputStream stream,
                             std::string_view line, int64_t epoch_micros) {
  const std::string timestamp = FormatLocalIsoMicros(epoch_micros);
  if (format == LogFormat::kText) {
    if (line.ends_with('\n')) line.remove_suffix(1);
    return fmt::format("{} | {} | {}", entrypoint, timestamp, line);
  }
  return fmt::format("{{\"name\": {}, \"{}\": {}, \"timestamp\": \"{}\"}}", JsonString(entrypoint),
                     stream == OutputStream::kStdout ? "stdout" : "stderr", JsonString(line),
                     timestamp);
}

}  // namespace somlier
