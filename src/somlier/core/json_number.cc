#include "somlier/core/json_number.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>

namespace somlier {
namespace {

constexpr IntRange kAll{};

std::string Expected(IntRange range) {
  if (range.min == kAll.min && range.max == kAll.max) return "an integer";
  return fmt::format("an integer from {} to {}", range.min, range.max);
}

Status OutOfRange(std::string_view field, std::string_view shown, IntRange range) {
  return InvalidArgument(fmt::format("'{}' is {}, out of range: expected an integer from {} to {}",
                                     field, shown, range.min, range.max));
}

}  // namespace

Status NotAnInteger(std::string_view field, std::string_view shown, IntRange range) {
  return InvalidArgument(fmt::format("'{}' must be {}, not {}", field, Expected(range), shown));
}

Result<int64_t> CheckedInt(std::string_view field, int64_t value, IntRange range) {
  if (!range.Contains(value)) return OutOfRange(field, std::to_string(value), range);
  return value;
}

Result<int64_t> CheckedInt(std::string_view field, uint64_t value, IntRange range) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return OutOfRange(field, std::to_string(value), range);
  }
  return CheckedInt(field, static_cast<int64_t>(value), range);
}

Result<int64_t> CheckedInt(std::string_view field, double value, IntRange range) {
  const std::string shown = fmt::format("{}", value);
  if (!std::isfinite(value) || std::trunc(value) != value) {
    return InvalidArgument(
        fmt::format("'{}' is {}, not a whole number: expected {}", field, shown, Expected(range)));
  }
  // [-2^63, 2^63) is exactly int64's range, and both ends are exact doubles.
  if (!(value >= -0x1p63 && value < 0x1p63)) return OutOfRange(field, shown, range);
  const auto whole = static_cast<int64_t>(value);
  if (!range.Contains(whole)) return OutOfRange(field, shown, range);
  return whole;
}

Result<int64_t> CheckedIntFromText(std::string_view field, std::string_view text, IntRange range) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  const std::string shown = fmt::format("\"{}\"", text.substr(0, 40));
  if (text.empty() || stop != end) return NotAnInteger(field, shown, range);
  if (ec == std::errc::result_out_of_range) return OutOfRange(field, shown, range);
  if (ec != std::errc()) return NotAnInteger(field, shown, range);
  return CheckedInt(field, value, range);
}

}  // namespace somlier
