// InstallPaths: where the files that ship beside the `somlier` binary are.
#pragma once

#include <filesystem>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier {

// The directory holding the `somlier` Python package (the one to put on PYTHONPATH):
// $SOMLIER_PYTHON_PACKAGE_DIR (only there, when set), else <binary>/../python (a build tree), else
// <binary>/../share/somlier/python (an installation), else the source tree this binary was
// built from. Errors: NotFound naming the places looked at.
Result<std::filesystem::path> PythonPackageDir(const Environment& env);

// `env` with PythonPackageDir(env) first on its PYTHONPATH, for a Python process that
// imports `somlier`. Errors: as PythonPackageDir.
Result<Environment> WithPythonPackage(Environment env);

// A PATH-style list with `first` in front of `rest` (which may be empty).
std::string PrependPath(const std::string& first, const std::string& rest);

}  // namespace somlier
