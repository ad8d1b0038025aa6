// JsonNumber: integers from JSON requests, range-checked before any conversion — the one
// way SoMLier turns a number a client sent into an integer.
//
// JSON has one number type; parsers hand it over as int64, uint64 (integers above
// INT64_MAX) or double. Converting those blindly wraps (18446744073709551615 becomes -1,
// 2147483648 becomes INT_MIN as an int) or is undefined (a double beyond int64). Here every
// value is compared with the range the field accepts first, in its own type, and only then
// converted: unsigned values above INT64_MAX, doubles with a fraction or outside the range,
// and values outside a narrower target type (int, size_t) are InvalidArgument, naming the
// field, the value as sent and the accepted range ("'workers' is 2147483648, out of range:
// expected an integer from 1 to 2147483647").
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "somlier/core/json_parse.h"
#include "somlier/core/result.h"

namespace somlier {

// The integers a field accepts, both ends included.
struct IntRange {
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();

  // Every value of the integer type T that int64_t holds too.
  template <typename T>
  static constexpr IntRange Of() {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    IntRange r;
    r.min = std::is_signed_v<T> ? static_cast<int64_t>(std::numeric_limits<T>::min()) : 0;
    if constexpr (std::numeric_limits<T>::digits < 63) {
      r.max = static_cast<int64_t>(std::numeric_limits<T>::max());
    }
    return r;
  }

  // This range, cut to what T holds.
  template <typename T>
  constexpr IntRange Within() const {
    const IntRange t = Of<T>();
    return {min > t.min ? min : t.min, max < t.max ? max : t.max};
  }

  constexpr bool Contains(int64_t v) const { return v >= min && v <= max; }
};

// Timestamps (milliseconds since the epoch), counts, offsets.
inline constexpr IntRange kNonNegative{0, std::numeric_limits<int64_t>::max()};

// `value` when `range` contains it. Errors: InvalidArgument naming `field`, the value and
// the range.
Result<int64_t> CheckedInt(std::string_view field, int64_t value, IntRange range = {});
Result<int64_t> CheckedInt(std::string_view field, uint64_t value, IntRange range = {});
// Whole numbers only (2.0 is 2; 2.5 and 1e19 are errors), checked before conversion.
Result<int64_t> CheckedInt(std::string_view field, double value, IntRange range = {});
// A decimal string ("42", "-7"), as protobuf JSON spells int64 fields.
Result<int64_t> CheckedIntFromText(std::string_view field, std::string_view text,
                                   IntRange range = {});

// The error for a value that is no integer at all (`shown` is how to quote it).
Status NotAnInteger(std::string_view field, std::string_view shown, IntRange range = {});

enum class IntSpelling {
  kNumber,          // a JSON number only
  kNumberOrString,  // also a decimal string (MLflow's int64 fields)
};

// A JSON value (nlohmann::json or ordered_json) as an integer in `range`.
template <typename Json>
Result<int64_t> IntFromJson(std::string_view field, const Json& value, IntRange range = {},
                            IntSpelling spelling = IntSpelling::kNumber) {
  if (value.is_number_unsigned()) return CheckedInt(field, value.template get<uint64_t>(), range);
  if (value.is_number_integer()) return CheckedInt(field, value.template get<int64_t>(), range);
  if (value.is_number_float()) return CheckedInt(field, value.template get<double>(), range);
  if (value.is_string() && spelling == IntSpelling::kNumberOrString) {
    return CheckedIntFromText(field, value.template get_ref<const std::string&>(), range);
  }
  return NotAnInteger(field, JsonPreview(value), range);
}

// The same, converted to the integer type T: `range` is first cut to what T holds.
template <typename T, typename Json>
Result<T> IntFromJsonAs(std::string_view field, const Json& value,
                        IntRange range = IntRange::Of<T>(),
                        IntSpelling spelling = IntSpelling::kNumber) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t checked,
                           IntFromJson(field, value, range.template Within<T>(), spelling));
  return static_cast<T>(checked);
}

}  // namespace somlier
