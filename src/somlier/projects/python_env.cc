#include "somlier/projects/python_env.h"

#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/core/file_lock.h"
#include "somlier/core/strings.h"
#include "somlier/execution/run_command.h"
#include "somlier/execution/subprocess.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

// "3.11.2" -> "3.11".
std::string MajorMinor(std::string_view version) {
  const auto parts = Split(Trim(version), '.');
  if (parts.size() < 2) return std::string(Trim(version));
  return parts[0] + "." + parts[1];
}

std::string Tail(const std::string& text, size_t lines) {
  auto all = Split(std::string(Trim(text)), '\n');
  if (all.size() > lines) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(lines));
  return Join(all, " | ");
}

}  // namespace

Result<EnvManager> ParseEnvManager(std::string_view text) {
  if (text == "local") return EnvManager::kLocal;
  if (text == "virtualenv") return EnvManager::kVirtualenv;
  return InvalidArgument(
      fmt::format("env_manager '{}' is not one of local, virtualenv", std::string(text)));
}

PythonEnvManager::PythonEnvManager(fs::path root, Environment env, std::function<bool()> cancelled)
    : root_(std::move(root)), env_(std::move(env)), cancelled_(std::move(cancelled)) {}

CommandOptions PythonEnvManager::Options(std::chrono::seconds timeout) const {
  CommandOptions options;
  options.env = std::map<std::string, std::string>(env_.begin(), env_.end());
  options.timeout = timeout;
  options.cancelled = cancelled_;
  return options;
}

Result<std::string> PythonEnvManager::ChooseInterpreter(const PythonEnvRequest& request,
                                                        std::vector<std::string>* warnings) {
  const std::string path = Lookup(env_, "PATH");
  const std::string wanted =
      request.python_version.empty() ? "" : MajorMinor(request.python_version);
  const CommandOptions options = Options(std::chrono::seconds(60));
  auto version_of = [&](const std::string& python) -> std::string {
    auto out =
        RunCommand({python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"}, options);
    return out.ok() && out->exit_code == 0 ? std::string(Trim(out->stdout_text)) : "";
  };
  std::optional<std::string> configured;
  if (!request.configured_python.empty()) {
    configured = FindExecutable(request.configured_python, path);
    if (!configured) {
      return NotFound(fmt::format("no Python interpreter: SOMLIER_PYTHON '{}' cannot be run",
                                  request.configured_python));
    }
  }
  if (wanted.empty()) {
    if (configured) return *configured;
    if (auto python3 = FindExecutable("python3", path)) return *python3;
    return NotFound(
        "no Python interpreter: python3 is not on PATH; install it or set SOMLIER_PYTHON");
  }
  // The configured interpreter when it is the wanted version (the user chose it), else
  // pythonX.Y from PATH, else the configured one or python3 with a warning.
  if (configured && version_of(*configured) == wanted) return *configured;
  if (auto found = FindExecutable("python" + wanted, path)) return *found;
  std::string python;
  if (configured) {
    python = *configured;
  } else if (auto python3 = FindExecutable("python3", path)) {
    python = *python3;
  } else {
    return NotFound(fmt::format(
        "no Python interpreter: neither python{} nor python3 is on PATH; install one or set "
        "SOMLIER_PYTHON",
        wanted));
  }
  if (const std::string have = version_of(python); have != wanted) {
    warnings->push_back(fmt::format(
        "the project asks for Python {} (project.python.version); using {} ({}) instead",
        request.python_version, python, have));
  }
  return python;
}

Result<PythonEnv> PythonEnvManager::Prepare(const PythonEnvRequest& request,
                                            const std::function<void(std::string_view)>& progress) {
  PythonEnv env;
  SOMLIER_ASSIGN_OR_RETURN(std::string python, ChooseInterpreter(request, &env.warnings));
  if (request.manager == EnvManager::kLocal) {
    env.python = python;
    return env;
  }

  std::error_code ec;
  std::string requirements;
  if (!request.requirements_file.empty()) {
    std::ifstream in(request.requirements_file);
    if (!in) {
      return NotFound(
          fmt::format("requirements file '{}' does not exist", request.requirements_file.string()));
    }
    std::stringstream content;
    content << in.rdbuf();
    requirements = content.str();
  }
  const CommandOptions options = Options(std::chrono::seconds(1800));
  // The interpreter's identity: its real path and full version.
  SOMLIER_ASSIGN_OR_RETURN(
      CommandOutput identity,
      RunCommand({python, "-c", "import sys; print(sys.executable, sys.version)"}, options));
  const std::string key = StableHash(fs::weakly_canonical(python, ec).string() + "\n" +
                                     identity.stdout_text + "\n" + requirements);
  const fs::path dir = root_ / key;
  const fs::path ready = dir / ".somlier-ready";
  env.bin_dir = dir / "bin";
  env.python = (dir / "bin" / "python").string();

  SOMLIER_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(root_ / (key + ".lock")));
  if (fs::exists(ready, ec)) return env;  // made earlier, by this or another process

  // Made in place (a virtualenv's scripts name its path), under the lock; the ready marker
  // written last tells a complete one from the remains of a crash, which are removed.
  fs::remove_all(dir, ec);
  auto fail = [&](Status status) {
    fs::remove_all(dir, ec);
    return status;
  };
  if (progress) progress(fmt::format("creating a virtualenv for {} in {}", python, dir.string()));
  auto made = RunCommand({python, "-m", "venv", "--system-site-packages", dir.string()}, options);
  if (!made.ok()) return fail(made.status());
  if (made->exit_code != 0) {
    return fail(FailedPrecondition(fmt::format("creating a virtualenv with {} failed: {}", python,
                                               Tail(made->stderr_text + made->stdout_text, 3))));
  }
  if (!requirements.empty()) {
    if (progress) {
      progress(
          fmt::format("installing {} into the virtualenv", request.requirements_file.string()));
    }
    CommandOptions pip = options;
    pip.working_dir = request.requirements_file.parent_path().string();
    auto installed =
        RunCommand({env.python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
                    "-r", request.requirements_file.string()},
                   pip);
    if (!installed.ok()) return fail(installed.status());
    if (installed->exit_code != 0) {
      return fail(FailedPrecondition(
          fmt::format("installing '{}' failed: {}", request.requirements_file.string(),
                      Tail(installed->stderr_text + installed->stdout_text, 4))));
    }
  }
  if (Status marked = WriteFileAtomically(ready, requirements); !marked.ok()) {
    return fail(marked.WithContext("marking the environment ready"));
  }
  env.created = true;
  return env;
}

}  // namespace somlier
