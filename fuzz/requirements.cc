// Fuzz target: pip requirements files, ParseRequirementsFile (projects/requirements.h),
// which takes a path: the input is written to requirements.txt in a scratch directory,
// rewritten for every input. Bytes after the first NUL go to base.txt beside it, so that
// `-r base.txt` includes a second fuzzed file (and `-r requirements.txt` the file itself).
//
// Invariants: every entry says where it was read (a file and a line >= 1), and the list
// serialises as `somlier config show -d --output json` writes it (nlohmann's strict dump,
// which throws on invalid UTF-8).
#include "somlier/projects/requirements.h"

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = somlier::fuzz::AsText(data, size);
  const size_t nul = text.find('\0');
  const std::string_view main_text = text.substr(0, nul);
  const std::string_view base_text =
      nul == std::string_view::npos ? std::string_view() : text.substr(nul + 1);

  somlier::fuzz::ScratchDir::Write("base.txt", base_text);
  const std::filesystem::path file =
      somlier::fuzz::ScratchDir::Write("requirements.txt", main_text);
  auto parsed = somlier::ParseRequirementsFile(file);
  if (!parsed.ok()) return 0;
  for (const somlier::Requirement& r : *parsed) {
    FUZZ_CHECK(r.line >= 1, "an entry from line " + std::to_string(r.line));
    FUZZ_CHECK(!r.file.empty(), "an entry that does not say where it was read");
  }
  somlier::fuzz::ExpectNoThrow("the requirements as JSON (config show -d --output json)",
                               [&] { (void)somlier::RequirementsToJson(*parsed).dump(2); });
  return 0;
}
