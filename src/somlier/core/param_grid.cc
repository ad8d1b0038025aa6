#include "somlier/core/param_grid.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

constexpr size_t kMaxValuesPerRange = 100000;

// A plain decimal as an integer count of 10^-scale: "-0.25" -> {-25, 2}.
struct Decimal {
  __int128 units = 0;
  int scale = 0;
};

std::optional<Decimal> ParseDecimal(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  Decimal d;
  bool negative = false;
  size_t i = 0;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++i;
  }
  bool digits = false;
  bool point = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    digits = true;
    // At most 19 digits: with a scale of at most 18, every rescaled value, span and step
    // of a range then stays far inside __int128 (|x| < 10^37).
    if (d.units >= __int128(1000000000000000000)) return std::nullopt;
    d.units = d.units * 10 + (c - '0');
    if (point) ++d.scale;
    if (d.scale > 18) return std::nullopt;
  }
  if (!digits) return std::nullopt;
  if (negative) d.units = -d.units;
  return d;
}

__int128 Rescale(const Decimal& d, int scale) {
  __int128 units = d.units;
  for (int s = d.scale; s < scale; ++s) units *= 10;
  return units;
}

std::string Format(__int128 units, int scale) {
  const bool negative = units < 0;
  if (negative) units = -units;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(units % 10)));
    units /= 10;
  } while (units > 0);
  if (scale > 0) {
    if (digits.size() <= static_cast<size_t>(scale)) {
      digits.insert(0, static_cast<size_t>(scale) - digits.size() + 1, '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(scale), ".");
  }
  return (negative ? "-" : "") + digits;
}

Status Bad(const std::string& name, const std::string& spec, std::string_view why) {
  return InvalidArgument(fmt::format("--{} {}: {}", name, spec, why));
}

}  // namespace

Result<std::vector<std::string>> ExpandParamSpec(const std::string& name, const std::string& spec) {
  if (spec.find("..") != std::string::npos) {
    const std::vector<std::string> parts = [&] {
      std::vector<std::string> out;
      size_t start = 0;
      while (true) {
        const size_t at = spec.find("..", start);
        out.push_back(spec.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) return out;
        start = at + 2;
      }
    }();
    if (parts.size() != 3) {
      return Bad(name, spec, "a range is start..end..increment (e.g. 0.001..0.005..0.001)");
    }
    const auto start = ParseDecimal(parts[0]);
    const auto end = ParseDecimal(parts[1]);
    const auto step = ParseDecimal(parts[2]);
    if (!start || !end || !step) {
      return Bad(name, spec, "start, end and increment must be plain decimal numbers");
    }
    const int scale = std::max({start->scale, end->scale, step->scale});
    const __int128 from = Rescale(*start, scale);
    const __int128 to = Rescale(*end, scale);
    const __int128 by = Rescale(*step, scale);
    if (by == 0) return Bad(name, spec, "the increment must not be 0");
    if ((to > from && by < 0) || (to < from && by > 0)) {
      return Bad(name, spec, "the increment points away from the end");
    }
    // numpy.arange: ceil((end - start) / increment) values.
    const __int128 span = to - from;
    const __int128 count = span / by + ((span % by) != 0 ? 1 : 0);
    if (count <= 0) return Bad(name, spec, "the range is empty (the end is excluded)");
    if (count > static_cast<__int128>(kMaxValuesPerRange)) {
      return Bad(name, spec, fmt::format("the range has more than {} values", kMaxValuesPerRange));
    }
    std::vector<std::string> values;
    values.reserve(static_cast<size_t>(count));
    for (__int128 i = 0; i < count; ++i) values.push_back(Format(from + i * by, scale));
    return values;
  }
  if (spec.find(',') != std::string::npos) {
    std::vector<std::string> values;
    for (const std::string& item : Split(spec, ',')) {
      const std::string value(Trim(item));
      if (value.empty()) return Bad(name, spec, "a list item is empty");
      values.push_back(value);
    }
    return values;
  }
  return std::vector<std::string>{spec};
}

Result<std::vector<ParamCombination>> ExpandParamGrid(const std::vector<ParamSpec>& params,
                                                      size_t max_combinations) {
  std::vector<std::vector<std::string>> values;
  std::set<std::string> seen;
  size_t total = 1;
  for (const ParamSpec& p : params) {
    if (!seen.insert(p.name).second) {
      return InvalidArgument(fmt::format("parameter '{}' is given twice", p.name));
    }
    SOMLIER_ASSIGN_OR_RETURN(std::vector<std::string> expanded, ExpandParamSpec(p.name, p.spec));
    total *= expanded.size();
    if (total > max_combinations) {
      return InvalidArgument(fmt::format(
          "the parameter grid has more than {} combinations (at --{} {}); narrow the ranges",
          max_combinations, p.name, p.spec));
    }
    values.push_back(std::move(expanded));
  }
  std::vector<ParamCombination> grid;
  grid.reserve(total);
  std::vector<size_t> index(params.size(), 0);
  while (true) {
    ParamCombination combination;
    for (size_t i = 0; i < params.size(); ++i) {
      combination.emplace_back(params[i].name, values[i][index[i]]);
    }
    grid.push_back(std::move(combination));
    // Odometer: the last parameter varies fastest.
    size_t i = params.size();
    while (i > 0) {
      --i;
      if (++index[i] < values[i].size()) break;
      index[i] = 0;
      if (i == 0) return grid;
    }
    if (params.empty()) return grid;
  }
}

}  // namespace somlier
