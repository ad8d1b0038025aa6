#include "somlier/registry/model_import.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "somlier/artifacts/fetch.h"
#include "somlier/core/ids.h"
#include "somlier/core/install_paths.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/core/url.h"
#include "somlier/execution/run_command.h"
#include "somlier/projects/git_cache.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace fs = std::filesystem;

namespace {

// A scratch directory removed when it goes out of scope.
struct ScratchDir {
  fs::path path;
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// The file name a URI ends with (without query or fragment), or "model.bin".
std::string FileNameOf(const std::string& uri) {
  std::string path = uri.substr(0, uri.find_first_of("?#"));
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.empty() || name == "." || name == "..") return "model.bin";
  return name;
}

Status ErrorOfKind(const std::string& kind, const std::string& message) {
  if (kind == "module_not_found" || kind == "class_not_found") return NotFound(message);
  if (kind == "not_sklearn" || kind == "weights_mismatch" || kind == "unreadable") {
    return InvalidArgument(message);
  }
  return Internal(message);
}

}  // namespace

Result<RegisterOutcome> ModelImport::Register(const ImportModelRequest& r) {
  const std::string type = ToLower(r.model_type);
  const bool sklearn = type == "sklearn" || type == "scikit-learn";
  const bool pytorch = type == "pytorch" || type == "torch";
  if (!sklearn && !pytorch) {
    return InvalidArgument(fmt::format(
        "unsupported MODEL_TYPE '{}': expected sklearn (or scikit-learn) or pytorch (or torch)",
        r.model_type));
  }
  if (pytorch) {
    std::vector<std::string> missing;
    const std::pair<const char*, const std::string*> kNeeded[] = {
        {"GITHUB_URI", &r.github_uri},
        {"PROJECT_NAME", &r.project_name},
        {"PROJECT_REF", &r.project_ref},
        {"MODEL_MODULE_PATH", &r.model_module_path},
        {"MODEL_CLASS_NAME", &r.model_class_name}};
    for (const auto& [name, value] : kNeeded) {
      if (value->empty()) missing.push_back(name);
    }
    if (!missing.empty()) {
      return InvalidArgument(
          fmt::format("a pytorch model needs the class that its weights belong to: give GITHUB_URI "
                      "PROJECT_NAME PROJECT_REF MODEL_MODULE_PATH MODEL_CLASS_NAME (missing: {})",
                      Join(missing, ", ")));
    }
  }
  SOMLIER_RETURN_IF_ERROR(ValidateModelName(r.model_name));
  if (r.uri.empty()) return InvalidArgument("URI must not be empty");
  std::string project_path;
  if (!r.project_name.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(project_path, NormalizeProjectPath(r.project_name));
  }
  std::string module_path;
  if (pytorch) {
    SOMLIER_ASSIGN_OR_RETURN(module_path, NormalizeProjectPath(r.model_module_path));
    if (module_path.empty()) {
      return InvalidArgument(
          fmt::format("MODEL_MODULE_PATH '{}' names no file", r.model_module_path));
    }
  }
  auto identifier = [](const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
  };
  if (!r.model_class_name.empty() && !identifier(r.model_class_name)) {
    return InvalidArgument(
        fmt::format("MODEL_CLASS_NAME '{}' is not a Python class name", r.model_class_name));
  }

  // What messages and the run's tag show: no credentials, and no query (signed URLs carry
  // tokens there).
  const std::string shown_uri = RedactUrlCredentials(r.uri.substr(0, r.uri.find('?')));
  ScratchDir scratch{config_.home / "tmp" / ("import-" + NewRunId())};
  std::error_code ec;
  fs::create_directories(scratch.path, ec);
  if (ec) return Internal(fmt::format("cannot create {}: {}", scratch.path.string(), ec.message()));
  const fs::path file = scratch.path / "download" / FileNameOf(r.uri);
  if (Status fetched = FetchToFile(r.uri, file, config_.env, config_.fetch_policy); !fetched.ok()) {
    if (fetched.code() == StatusCode::kNotFound) {
      return NotFound(fmt::format("no model file at {}: {}", shown_uri, fetched.message()));
    }
    // A refused or malformed URI: the message names it already.
    if (fetched.code() == StatusCode::kInvalidArgument) return fetched;
    return fetched.WithContext("fetching " + shown_uri);
  }

  RunSource source;
  std::vector<std::string> argv = {config_.python.empty() ? "python3" : config_.python, "-m",
                                   "somlier._import_model"};
  const fs::path model_dir = scratch.path / "model";
  if (pytorch) {
    GitCache git(config_.home / "repos", config_.env);
    SOMLIER_ASSIGN_OR_RETURN(std::string commit, git.Fetch(r.github_uri, r.project_ref));
    SOMLIER_RETURN_IF_ERROR(git.CheckProject(r.github_uri, commit, project_path));
    const fs::path project_dir = scratch.path / "project";
    SOMLIER_RETURN_IF_ERROR(git.Export(r.github_uri, commit, project_path, project_dir));
    const fs::path module_file = project_dir / module_path;
    if (!fs::is_regular_file(module_file, ec)) {
      return NotFound(fmt::format("module file '{}' not found in project '{}' of {} at {} ({})",
                                  module_path, project_path.empty() ? "." : project_path,
                                  RedactUrlCredentials(r.github_uri), r.project_ref,
                                  commit.substr(0, 12)));
    }
    argv.insert(argv.end(), {"pytorch", file.string(), model_dir.string(), module_file.string(),
                             r.model_class_name});
    source = RunSource{r.github_uri, r.project_ref, commit, project_path, ""};
  } else {
    argv.insert(argv.end(), {"sklearn", file.string(), model_dir.string()});
  }

  CommandOptions command;
  SOMLIER_ASSIGN_OR_RETURN(command.env, WithPythonPackage(config_.env));
  SOMLIER_ASSIGN_OR_RETURN(CommandOutput out, RunCommand(argv, command));
  const std::vector<std::string> lines = Split(Trim(out.stdout_text), '\n');
  nlohmann::json answer = lines.empty() ? nlohmann::json() : ParseJsonOrNull(lines.back());
  std::string output(Trim(out.stderr_text));  // the loader's and the model code's own output
  if (output.size() > 2000) output = "..." + output.substr(output.size() - 2000);
  if (!answer.is_object()) {
    // That output may quote the file (a traceback, a warning): a server logs it for its
    // operator instead of answering it to the caller.
    if (config_.fetch_policy.public_only) {
      LogWarning("register_v2 of {}: the Python loader failed (exit code {}): {}", shown_uri,
                 out.exit_code, output);
      return Internal(fmt::format(
          "validating the model in Python failed (exit code {}); the server's log has its output",
          out.exit_code));
    }
    return Internal(fmt::format("validating the model in Python failed (exit code {}): {}",
                                out.exit_code, output));
  }
  if (!answer.value("ok", false)) {
    const std::string kind = answer.value("error", "");
    if (kind == "internal" && !output.empty()) {
      LogWarning("register_v2 of {}: {}", shown_uri, output);
    }
    return ErrorOfKind(kind, answer.value("message", "invalid model"));
  }

  // Valid: record it as a run's model, then register that.
  CreateRunRequest create;
  if (!project_path.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(Experiment experiment, tracking_.GetOrCreateExperiment(project_path));
    create.experiment_id = std::to_string(experiment.experiment_id);
  }
  create.run_name = "register_v2-" + r.model_name;
  create.tags = {{"somlier.register_v2.uri", shown_uri},
                 {"somlier.register_v2.model_type", sklearn ? "sklearn" : "pytorch"},
                 {"somlier.register_v2.detail", answer.value("detail", "")}};
  if (pytorch) create.tags.push_back({"somlier.register_v2.model_class", r.model_class_name});
  create.source = source;
  SOMLIER_ASSIGN_OR_RETURN(Run run, tracking_.CreateRun(create));
  auto directory = tracking_.RunArtifactDirectory(run.info);
  auto undo = [&](Status failure) -> Status {
    if (directory.ok()) (void)tracking_.artifacts().Delete(*directory);
    (void)tracking_.DeleteRun(run.info.run_id);
    return failure;
  };
  if (!directory.ok()) return undo(directory.status());
  if (Status s = tracking_.artifacts().Import(model_dir, *directory + "/model"); !s.ok()) {
    return undo(s);
  }
  RunUpdateRequest finished;
  finished.status = RunStatus::kFinished;
  finished.end_time = NowMillis();
  if (auto updated = tracking_.UpdateRun(run.info.run_id, finished); !updated.ok()) {
    return undo(updated.status());
  }
  auto outcome = registry_.RegisterRun(run.info.run_id, r.model_name);
  if (!outcome.ok()) return undo(outcome.status());
  outcome->message = fmt::format("Registered the {} model at {} as version {} of '{}'.",
                                 sklearn ? "scikit-learn" : "PyTorch", shown_uri,
                                 outcome->version.version, r.model_name);
  return outcome;
}

}  // namespace somlier
