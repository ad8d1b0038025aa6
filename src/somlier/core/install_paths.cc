#include "somlier/core/install_paths.h"

#include <fmt/core.h>

#include <vector>

#include "somlier/core/strings.h"

namespace somlier {

namespace fs = std::filesystem;

Result<fs::path> PythonPackageDir(const Environment& env) {
  std::vector<fs::path> candidates;
  std::error_code ec;
  if (auto it = env.find("SOMLIER_PYTHON_PACKAGE_DIR"); it != env.end() && !it->second.empty()) {
    candidates.emplace_back(it->second);  // when given, the only place to look
  } else {
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      candidates.push_back(exe.parent_path().parent_path() / "python");
      candidates.push_back(exe.parent_path().parent_path() / "share" / "somlier" / "python");
    }
    candidates.emplace_back(fs::path(SOMLIER_SOURCE_DIR) / "python");
  }
  std::vector<std::string> looked;
  for (const fs::path& dir : candidates) {
    if (fs::is_regular_file(dir / "somlier" / "__init__.py", ec)) {
      return fs::weakly_canonical(dir, ec);
    }
    looked.push_back(dir.string());
  }
  return NotFound(
      fmt::format("the somlier Python package (somlier/__init__.py) was not found in {}; set "
                  "SOMLIER_PYTHON_PACKAGE_DIR to the directory that holds it",
                  Join(looked, ", ")));
}

Result<Environment> WithPythonPackage(Environment env) {
  SOMLIER_ASSIGN_OR_RETURN(fs::path package, PythonPackageDir(env));
  env["PYTHONPATH"] = PrependPath(package.string(), Lookup(env, "PYTHONPATH"));
  return env;
}

std::string PrependPath(const std::string& first, const std::string& rest) {
  return rest.empty() ? first : first + ":" + rest;
}

}  // namespace somlier
