#include "somlier/serving/cell_values.h"

#include <fmt/core.h>

#include <bit>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"

namespace somlier::serving {

static_assert(
    std::endian::native == std::endian::little,
    "the worker protocol sends values in the machine's byte order, read as little-endian");

using Json = RequestJson;
static constexpr int64_t kNaT = std::numeric_limits<int64_t>::min();

std::string ShownCell(const Cell& cell) {
  if (cell.json) return JsonPreview(*cell.json, 40);
  std::string text(cell.text.substr(0, 40));
  return "'" + text + (cell.text.size() > 40 ? "...'" : "'");
}

bool IsMissing(const Cell& cell) { return cell.json ? cell.json->is_null() : cell.text.empty(); }

template <typename T>
static void Put(TypedColumn& out, T value) {
  out.data.append(reinterpret_cast<const char*>(&value), sizeof value);
}

static void PutText(TypedColumn& out, std::string_view json_text) {
  if (!out.data.empty()) out.data += ',';
  out.data += json_text;
}

// Text without a leading '+' (from_chars takes no '+'); "+-5" stays refused.
static std::string_view WithoutPlus(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+') {
    text.remove_prefix(1);
  }
  return text;
}

std::optional<double> ParseDouble(std::string_view text) {
  text = WithoutPlus(Trim(text));
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> CellNumber(const Cell& cell) {
  if (cell.json) {
    if (cell.json->is_number()) return cell.json->get<double>();
    return std::nullopt;
  }
  return ParseDouble(cell.text);
}

// A whole number in int64's range; `why` says what else it is.
static std::optional<int64_t> CellWhole(const Cell& cell, std::string& why) {
  if (cell.json) {
    const Json& v = *cell.json;
    if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return static_cast<int64_t>(v.get<uint64_t>());
      }
      why = " (out of range)";
      return std::nullopt;
    }
  } else {
    std::string_view text = WithoutPlus(Trim(cell.text));
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return value;
    if (ec == std::errc::result_out_of_range) {
      why = " (out of range)";
      return std::nullopt;
    }
  }
  std::optional<double> number = CellNumber(cell);
  if (!number) return std::nullopt;
  if (*number != std::floor(*number)) {
    why = " (expected a whole number)";
    return std::nullopt;
  }
  if (!(*number >= -9.2233720368547758e18 && *number < 9.2233720368547758e18)) {
    why = " (out of range)";
    return std::nullopt;
  }
  return static_cast<int64_t>(*number);
}

// Standard base64 (RFC 4648 section 4), padded: what Python's b64decode(validate=True) takes.
static bool IsBase64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  size_t padding = 0;
  while (padding < 2 && padding < s.size() && s[s.size() - 1 - padding] == '=') ++padding;
  for (size_t i = 0; i < s.size() - padding; ++i) {
    const char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/')) {
      return false;
    }
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
static int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ParseDatetime(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t n) -> std::optional<unsigned> {
    if (i + n > s.size()) return std::nullopt;
    unsigned v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    i += n;
    return v;
  };
  auto expect = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  auto year = digits(4);
  if (!year || !expect('-')) return std::nullopt;
  auto month = digits(2);
  if (!month || !expect('-')) return std::nullopt;
  auto day = digits(2);
  if (!day || *month < 1 || *month > 12 || *day < 1) return std::nullopt;
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  if (*day > kDays[*month - 1] || (*month == 2 && *day == 29 && !leap)) return std::nullopt;
  int64_t seconds = DaysFromCivil(*year, *month, *day) * 86400;
  int64_t fraction_ns = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    ++i;
    auto hour = digits(2);
    if (!hour || !expect(':')) return std::nullopt;
    auto minute = digits(2);
    if (!minute || *hour > 23 || *minute > 59) return std::nullopt;
    unsigned second = 0;
    if (expect(':')) {
      auto sec = digits(2);
      if (!sec || *sec > 59) return std::nullopt;
      second = *sec;
      if (expect('.')) {
        size_t n = 0;
        int64_t scale = 100000000;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          fraction_ns += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
          ++n;
        }
        if (n == 0) return std::nullopt;
      }
    }
    seconds += *hour * 3600 + *minute * 60 + second;
    if (expect('Z')) {
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      const int sign = s[i] == '+' ? 1 : -1;
      ++i;
      auto oh = digits(2);
      if (!oh) return std::nullopt;
      expect(':');
      auto om = digits(2);
      if (!om || *oh > 23 || *om > 59) return std::nullopt;
      seconds -= sign * static_cast<int64_t>(*oh * 3600 + *om * 60);
    }
  }
  if (i != s.size()) return std::nullopt;
  // datetime64[ns] holds 1677-09-22 .. 2262-04-11.
  if (*year < 1678 || *year > 2261) return std::nullopt;
  return seconds * 1000000000 + fraction_ns;
}

Status AppendValue(const Cell& cell, ValueType type, bool nullable, TypedColumn& out) {
  auto refuse = [&](std::string_view why = "") {
    return InvalidArgument(fmt::format("{} is not {} {}{}", ShownCell(cell),
                                       type == ValueType::kInteger ? "an" : "a", TypeName(type),
                                       why));
  };
  if (cell.json && (cell.json->is_array() || cell.json->is_object())) return refuse();
  const bool missing = IsMissing(cell);
  if (nullable) out.nulls.push_back(missing ? 1 : 0);
  if (missing) {
    switch (type) {
      case ValueType::kDouble:
        Put(out, std::numeric_limits<double>::quiet_NaN());
        return OkStatus();
      case ValueType::kFloat:
        Put(out, std::numeric_limits<float>::quiet_NaN());
        return OkStatus();
      case ValueType::kString:
      case ValueType::kBinary:
        PutText(out, "null");
        return OkStatus();
      case ValueType::kDatetime:
        Put(out, kNaT);
        return OkStatus();
      case ValueType::kLong:
      case ValueType::kInteger:
      case ValueType::kBoolean:
        if (!nullable) {
          return InvalidArgument(fmt::format(
              "a value is missing, and the column is a required {} (integer and boolean columns "
              "cannot hold missing values: send one, or declare the column double or optional)",
              TypeName(type)));
        }
        out.data.append(WireWidth(type), '\0');
        return OkStatus();
    }
  }
  switch (type) {
    case ValueType::kDouble: {
      auto number = CellNumber(cell);
      if (!number) return refuse();
      Put(out, *number);
      return OkStatus();
    }
    case ValueType::kFloat: {
      auto number = CellNumber(cell);
      if (!number) return refuse();
      if (std::isfinite(*number) && std::fabs(*number) > FLT_MAX) return refuse(" (out of range)");
      Put(out, static_cast<float>(*number));
      return OkStatus();
    }
    case ValueType::kLong:
    case ValueType::kInteger: {
      std::string why;
      auto whole = CellWhole(cell, why);
      if (!whole) return refuse(why);
      if (type == ValueType::kInteger) {
        if (*whole < std::numeric_limits<int32_t>::min() ||
            *whole > std::numeric_limits<int32_t>::max()) {
          return refuse(" (out of range)");
        }
        Put(out, static_cast<int32_t>(*whole));
      } else {
        Put(out, *whole);
      }
      return OkStatus();
    }
    case ValueType::kBoolean: {
      uint8_t value = 0;
      if (cell.json) {
        if (!cell.json->is_boolean()) return refuse(" (expected true or false)");
        value = cell.json->get<bool>() ? 1 : 0;
      } else if (const std::string text = ToLower(Trim(cell.text)); text == "true") {
        value = 1;
      } else if (text != "false") {
        return refuse(" (expected true or false)");
      }
      Put(out, value);
      return OkStatus();
    }
    case ValueType::kString:
    case ValueType::kBinary: {
      if (cell.json && !cell.json->is_string()) return refuse();
      std::string_view text = cell.json ? cell.json->get_ref<const std::string&>() : cell.text;
      if (type == ValueType::kBinary && !IsBase64(text)) return refuse(" (expected padded base64)");
      PutText(out, cell.json ? cell.json->dump() : nlohmann::json(std::string(text)).dump());
      return OkStatus();
    }
    case ValueType::kDatetime: {
      std::optional<int64_t> ns;
      if (!cell.json || cell.json->is_string()) {
        ns = ParseDatetime(cell.json ? std::string_view(cell.json->get_ref<const std::string&>())
                                     : Trim(cell.text));
      }
      if (!ns) {
        return refuse(
            " (expected an ISO 8601 date or date-time between 1678 and 2261, such as "
            "2024-05-01 or 2024-05-01T12:30:00Z)");
      }
      Put(out, *ns);
      return OkStatus();
    }
  }
  return refuse();
}

}  // namespace somlier::serving
