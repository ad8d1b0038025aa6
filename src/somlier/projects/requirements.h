// Requirements: the entries of a pip requirements file (requirements.txt), for
// `config show -d` and environment set-up.
//
// Understands what pip accepts in such files: PEP 508 requirements (name, [extras],
// version specifiers, `@ url`, `; markers`), comments, line continuations, `-r`/
// `--requirement` includes (followed, relative to the including file), `-e`/`--editable`
// and direct URLs or paths, and pip's global options (`--index-url`, ...), which are kept
// out of the list. Pure functions apart from reading the files; thread-safe.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

struct Requirement {
  std::string name;       // empty for a direct URL or path
  std::string extras;     // "[a,b]" or empty
  std::string specifier;  // ">=1.0,<2" or empty
  std::string url;        // for `name @ url`, -e and direct references
  std::string marker;     // after ';', or empty
  bool editable = false;
  std::string file;  // where it was read, and on which line
  int line = 0;

  // "pandas=1.2.1" for an exact pin (as the seed prints), else "name>=1.0", "name", or the
  // URL of a direct reference.
  std::string Display() const;
};

// Errors: NotFound when the file (or an included file) does not exist; InvalidArgument
// naming the file, line number and text of a line that cannot be parsed, or an include
// cycle.
Result<std::vector<Requirement>> ParseRequirementsFile(const std::filesystem::path& path);

// The requirements as `config show -d --output json` prints them: one object per entry
// with name, extras, specifier, url, marker, editable and display.
nlohmann::json RequirementsToJson(const std::vector<Requirement>& requirements);

}  // namespace somlier
