#include "somlier/cli/model_location.h"

#include <fmt/core.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>

#include "somlier/cli/local_services.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/strings.h"
#include "somlier/execution/run_command.h"

namespace somlier::cli {
namespace fs = std::filesystem;

namespace {

// Downloads a model from SOMLIER_SERVER into `destination` with the Python package; answers
// the registered name and the version the URI names now ("" for runs:/ URIs).
Result<std::pair<std::string, std::string>> DownloadModel(const Context& ctx,
                                                          const std::string& model_uri,
                                                          const fs::path& destination) {
  SOMLIER_ASSIGN_OR_RETURN(Environment env, WithPythonPackage(ctx.env));
  env["SOMLIER_TRACKING_URI"] = ctx.settings.server;
  if (!ctx.settings.token.empty()) env["SOMLIER_TOKEN"] = ctx.settings.token;
  CommandOptions command;
  command.env = std::move(env);
  SOMLIER_ASSIGN_OR_RETURN(CommandOutput out,
                           RunCommand({ctx.settings.PythonOrDefault(), "-c",
                                       // The version an alias or stage names is resolved
                                       // once, and that version is downloaded.
                                       "import sys\n"
                                       "from somlier import _models\n"
                                       "uri = sys.argv[1]\n"
                                       "if uri.startswith('models:/'):\n"
                                       "    name, version = _models.resolve_model_version(uri)\n"
                                       "    uri = 'models:/' + name + '/' + version\n"
                                       "    print(name + '\\t' + version)\n"
                                       "_models.download_model(uri, sys.argv[2])\n",
                                       model_uri, destination.string()},
                                      command));
  if (out.exit_code != 0) {
    std::string_view why = Trim(out.stderr_text);
    if (why.size() > 2000) why = why.substr(why.size() - 2000);
    return NotFound(
        fmt::format("cannot download {} from {}: {}", model_uri, ctx.settings.server,
                    why.empty() ? "exit code " + std::to_string(out.exit_code) : std::string(why)));
  }
  const std::string_view line = Trim(out.stdout_text);
  const size_t tab = line.rfind('\t');
  if (tab == std::string_view::npos) return std::pair<std::string, std::string>();
  const size_t start = line.rfind('\n', tab);
  const std::string_view name =
      line.substr(start == std::string_view::npos ? 0 : start + 1, tab - (start + 1));
  return std::pair<std::string, std::string>(std::string(name), std::string(line.substr(tab + 1)));
}

}  // namespace

RemoveOnExit::~RemoveOnExit() {
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
}

Result<ServedModel> LocateServedModel(const Context& ctx, const std::string& model_uri) {
  ServedModel model;
  std::error_code ec;
  std::string path = model_uri.starts_with("file://") ? model_uri.substr(7) : model_uri;
  if (!model_uri.starts_with("models:/") && !model_uri.starts_with("runs:/")) {
    if (!fs::is_directory(path, ec)) {
      return NotFound(
          fmt::format("model '{}' is not a directory, models:/NAME/VERSION, "
                      "models:/NAME@ALIAS or runs:/RUN_ID/PATH",
                      model_uri));
    }
    if (!fs::is_regular_file(fs::path(path) / "MLmodel", ec)) {
      return NotFound(fmt::format("directory '{}' holds no model (no MLmodel file)", path));
    }
    model.directory = fs::absolute(path);
    model.name = model.directory.filename().string();
    model.version = "1";
    return model;
  }
  if (!ctx.settings.server.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = (fs::path(tmp ? tmp : "/tmp") / "somlier-model-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Internal(
          fmt::format("cannot create a directory like {}: {}", pattern, std::strerror(errno)));
    }
    RemoveOnExit on_failure{pattern};
    SOMLIER_ASSIGN_OR_RETURN(auto resolved,
                             DownloadModel(ctx, model_uri, fs::path(pattern) / "model"));
    on_failure.dir.clear();
    model.temporary = pattern;
    model.directory = fs::path(pattern) / "model";
    std::string rest = model_uri.substr(model_uri.find(":/") + 2);
    // An alias or a stage names a version: the one the server resolved, not a guess.
    model.name = resolved.first.empty() ? rest.substr(0, rest.find_first_of("/@")) : resolved.first;
    model.version = resolved.second.empty() ? "1" : resolved.second;
    return model;
  }
  SOMLIER_ASSIGN_OR_RETURN(auto services, LocalServices::Open(ctx.settings, ctx.env));
  SOMLIER_ASSIGN_OR_RETURN(ModelLocation location, services->registry->LocateModel(model_uri));
  model.directory = location.directory;
  model.name = location.name;
  model.version = location.version.empty() ? "1" : location.version;
  return model;
}

}  // namespace somlier::cli
