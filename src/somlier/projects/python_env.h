// PythonEnv: the Python a project's runs use — an interpreter, and for the `virtualenv`
// environment manager a cached virtualenv with the project's requirements installed.
//
// Interpreter: for a project.python.version X.Y, the configured one (SOMLIER_PYTHON) when
// it is X.Y, else `pythonX.Y` on PATH, else the configured one or `python3` with a warning
// that the version differs; without a version, the configured one or `python3`. Virtualenvs live
// under a root ($SOMLIER_HOME/envs), one per (interpreter, its version, requirements content), made
// with --system-site-packages (so the machine's packages are seen and `pip install -r` succeeds
// offline when they already satisfy the requirements), created once under a file lock even when
// many runs and processes start at once (a marker written last tells a complete one from a crash's
// remains), and reused by later runs and trains. Thread-safe; safe across processes.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/execution/run_command.h"

namespace somlier {

enum class EnvManager { kLocal, kVirtualenv };

// "local" | "virtualenv"; InvalidArgument otherwise.
Result<EnvManager> ParseEnvManager(std::string_view text);

struct PythonEnvRequest {
  EnvManager manager = EnvManager::kLocal;
  std::string python_version;     // wanted "3.11" or "3.11.2", or empty
  std::string configured_python;  // Settings::python, or empty
  // For virtualenv: the requirements file to install (pip resolves its -r includes
  // relative to it), and its lines.
  std::filesystem::path requirements_file;
};

struct PythonEnv {
  std::string python;             // the interpreter to run `python`/`python3` commands with
  std::filesystem::path bin_dir;  // the virtualenv's bin/ (put first on PATH), or empty
  bool created = false;           // this call made the virtualenv
  std::vector<std::string> warnings;
};

class PythonEnvManager {
 public:
  // `cancelled`, when given, is polled while python and pip run; true stops them.
  PythonEnvManager(std::filesystem::path root, Environment env,
                   std::function<bool()> cancelled = nullptr);

  // `progress` receives one-line notes of slow steps (creating a virtualenv, installing).
  // Errors: NotFound when no interpreter can be started; FailedPrecondition when the
  // virtualenv or the installation fails (pip's reason quoted).
  Result<PythonEnv> Prepare(const PythonEnvRequest& request,
                            const std::function<void(std::string_view)>& progress);

 private:
  Result<std::string> ChooseInterpreter(const PythonEnvRequest& request,
                                        std::vector<std::string>* warnings);

  CommandOptions Options(std::chrono::seconds timeout) const;

  std::filesystem::path root_;
  Environment env_;
  std::function<bool()> cancelled_;
};

}  // namespace somlier
