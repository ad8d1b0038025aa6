// Fuzz target: parameter specs of `train` (core/param_grid.h), ExpandParamSpec and
// ExpandParamGrid. Inputs longer than 256 bytes are cut: a spec is a command-line word.
//
// Input: one parameter per line, `NAME=SPEC` (a line without '=' is the spec of a parameter
// named after its line number).
//
// Invariants: a range expands to at most 100,000 values (the documented per-range bound),
// moving in one direction (checked on the values read back as doubles); a grid has at most
// max_combinations combinations, each with one value per parameter.
#include "somlier/core/param_grid.h"

#include <cmath>
#include <cstdlib>

#include "fuzz/fuzz_util.h"

namespace {

constexpr size_t kMaxInput = 256;
constexpr size_t kMaxValuesPerRange = 100000;  // param_grid.cc's bound

void CheckRange(const std::string& spec, const std::vector<std::string>& values) {
  FUZZ_CHECK(values.size() <= kMaxValuesPerRange,
             spec + " expanded to " + std::to_string(values.size()) + " values");
  int direction = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    const double a = std::strtod(values[i - 1].c_str(), nullptr);
    const double b = std::strtod(values[i].c_str(), nullptr);
    const int step = b > a ? 1 : (b < a ? -1 : 0);
    if (step == 0) continue;  // decimals closer than a double can tell
    FUZZ_CHECK(direction == 0 || step == direction,
               spec + " turns around at " + values[i - 1] + ", " + values[i]);
    direction = step;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = somlier::fuzz::AsText(data, std::min(size, kMaxInput));
  std::vector<somlier::ParamSpec> params;
  for (std::string_view line : somlier::fuzz::SplitOn(text, '\n')) {
    const size_t eq = line.find('=');
    somlier::ParamSpec p;
    if (eq == std::string_view::npos) {
      p.name = "p" + std::to_string(params.size());
      p.spec = std::string(line);
    } else {
      p.name = std::string(line.substr(0, eq));
      p.spec = std::string(line.substr(eq + 1));
    }
    auto values = somlier::ExpandParamSpec(p.name, p.spec);
    if (values.ok()) {
      FUZZ_CHECK(!values->empty(), p.spec + " expanded to nothing");
      if (p.spec.find("..") != std::string::npos) CheckRange(p.spec, *values);
    }
    params.push_back(std::move(p));
  }

  for (size_t limit : {size_t{1000}, size_t{7}}) {
    auto grid = somlier::ExpandParamGrid(params, limit);
    if (!grid.ok()) continue;
    FUZZ_CHECK(grid->size() <= limit, std::to_string(grid->size()) + " combinations");
    for (const somlier::ParamCombination& c : *grid) {
      FUZZ_CHECK(c.size() == params.size(), "a combination without every parameter");
    }
  }
  return 0;
}
