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

}  // namespace somlier
