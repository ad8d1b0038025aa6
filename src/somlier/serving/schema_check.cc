#include "somlier/serving/schema_check.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <bit>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"

namespace somlier::serving {
namespace {

static_assert(
    std::endian::native == std::endian::little,
    "the worker protocol sends values in the machine's byte order, read as little-endian");

using Json = RequestJson;
constexpr int64_t kNaT = std::numeric_limits<int64_t>::min();

std::string Shown(const Cell& cell) {
  if (cell.json) return JsonPreview(*cell.json, 40);
  std::string text(cell.text.substr(0, 40));
  return "'" + text + (cell.text.size() > 40 ? "...'" : "'");
}

bool IsMissing(const Cell& cell) { return cell.json ? cell.json->is_null() : cell.text.empty(); }

template <typename T>
void Put(TypedColumn& out, T value) {
  out.data.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void PutText(TypedColumn& out, std::string_view json_text) {
  if (!out.data.empty()) out.data += ',';
  out.data += json_text;
}

// Text without a leading '+' (from_chars takes no '+'); "+-5" stays refused.
std::string_view WithoutPlus(std::string_view text) {
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
std::optional<int64_t> CellWhole(const Cell& cell, std::string& why) {
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
bool IsBase64(std::string_view s) {
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
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// An ISO 8601 date or date-time: YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|(+|-)HH[:]MM], as
// nanoseconds since the epoch (UTC); nullopt if it is not one or is outside pandas' range.
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

// Appends `cell` converted to `type`; the error (without where) says what the value is not.
Status AppendValue(const Cell& cell, ValueType type, bool nullable, TypedColumn& out) {
  auto refuse = [&](std::string_view why = "") {
    return InvalidArgument(fmt::format("{} is not {} {}{}", Shown(cell),
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

Status At(size_t row, std::string_view column, const Status& status) {
  return InvalidArgument(fmt::format("row {}, column {}: {}", row, column, status.message()));
}

// A V2 input's datatype must be of the column's kind.
Status CheckDatatype(std::string_view datatype, std::string_view input, std::string_view column,
                     ValueType type) {
  const bool bytes = datatype == "BYTES";
  const bool boolean = datatype == "BOOL";
  bool ok = false;
  switch (type) {
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kDatetime:
      ok = bytes;
      break;
    case ValueType::kBoolean:
      ok = boolean;
      break;
    default:
      ok = !bytes && !boolean;
  }
  if (ok) return OkStatus();
  return InvalidArgument(fmt::format("input '{}' has datatype {}, but {} is {}: send it as {}",
                                     input, datatype, column, TypeName(type), V2Datatype(type)));
}

Result<ModelInput> ConformFrame(const RequestTable& t, const ModelSignature& signature) {
  const std::vector<ColumnSpec>& specs = signature.columns;
  std::vector<std::optional<size_t>> source(specs.size());
  bool named = !t.columns.empty();
  if (named) {
    std::unordered_map<std::string_view, size_t> given;
    for (size_t c = 0; c < t.columns.size(); ++c) given.emplace(t.columns[c], c);
    bool any = false;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (auto it = given.find(specs[i].name); it != given.end()) {
        source[i] = it->second;
        any = true;
      }
    }
    if (!any && t.names_optional) named = false;  // a V2 tensor's name, not a column's
  }
  if (!named) {
    if (t.cols != specs.size()) {
      return InvalidArgument(fmt::format(
          "the input has {} unnamed values per row; the model's columns are {}: give all {} in "
          "that order, or name them (dataframe_split with columns, dataframe_records, or one V2 "
          "input per column)",
          t.cols, signature.Describe(), specs.size()));
    }
    for (size_t i = 0; i < specs.size(); ++i) source[i] = i;
  }
  std::vector<std::string> missing;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!source[i] && specs[i].required) {
      missing.push_back(fmt::format("'{}' ({})", specs[i].name, TypeName(specs[i].type)));
    }
  }
  if (!missing.empty()) {
    return InvalidArgument(fmt::format("the input has no {} {}; the model's columns are {}",
                                       missing.size() == 1 ? "column" : "columns",
                                       Join(missing, ", "), signature.Describe()));
  }
  ModelInput input;
  input.rows = t.rows;
  input.columns.resize(specs.size());
  const Cell absent;
  for (size_t i = 0; i < specs.size(); ++i) {
    const ColumnSpec& spec = specs[i];
    const std::string label = "'" + spec.name + "'";
    if (source[i] && !t.datatypes.empty()) {
      const std::string& datatype = t.datatypes[t.datatypes.size() == 1 ? 0 : *source[i]];
      const std::string input_name =
          t.columns.empty() ? std::to_string(*source[i]) : t.columns[*source[i]];
      SOMLIER_RETURN_IF_ERROR(CheckDatatype(datatype, input_name, "column " + label, spec.type));
    }
    TypedColumn& column = input.columns[i];
    column.name = spec.name;
    column.type = spec.type;
    column.nullable =
        !spec.required && (spec.type == ValueType::kLong || spec.type == ValueType::kInteger ||
                           spec.type == ValueType::kBoolean);
    column.data.reserve(t.rows * std::max<size_t>(WireWidth(spec.type), 8));
    for (size_t r = 0; r < t.rows; ++r) {
      const Cell& cell = source[i] ? t.at(r, *source[i]) : absent;
      if (Status s = AppendValue(cell, spec.type, column.nullable, column); !s.ok()) {
        return At(r, label, s);
      }
    }
  }
  return input;
}

// The shape of a nested JSON list, following first elements.
Status NestedShape(const Json& value, std::vector<int64_t>& shape, size_t depth) {
  if (!value.is_array()) return OkStatus();
  if (depth > 16) return InvalidArgument("the rows are nested too deeply");
  shape.push_back(static_cast<int64_t>(value.size()));
  if (!value.empty()) return NestedShape(value.front(), shape, depth + 1);
  return OkStatus();
}

// Whether `value` is a list of exactly `shape` (from `depth` on) at every level.
bool Rectangular(const Json& value, const std::vector<int64_t>& shape, size_t depth) {
  if (depth == shape.size()) return !value.is_array();
  if (!value.is_array() || static_cast<int64_t>(value.size()) != shape[depth]) return false;
  for (const Json& item : value) {
    if (!Rectangular(item, shape, depth + 1)) return false;
  }
  return true;
}

void FlattenCell(const Cell& cell, std::vector<Cell>& out) {
  if (!cell.json || !cell.json->is_array()) {
    out.push_back(cell);
    return;
  }
  for (const Json& v : *cell.json) FlattenCell(Cell{&v, {}}, out);
}

// The number of values a shape holds; -1 when that overflows (a hostile nesting).
int64_t Product(const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    if (__builtin_mul_overflow(p, d, &p)) return -1;
  }
  return p;
}

Result<ModelInput> ConformTensor(const RequestTable& t, const ModelSignature& signature) {
  const TensorSpec& spec = signature.tensor;
  const std::vector<int64_t> want(spec.shape.begin() + 1, spec.shape.end());
  const bool fixed = std::find(want.begin(), want.end(), -1) == want.end();
  if (t.datatypes.size() > 1) {
    return InvalidArgument(fmt::format("the request has {} inputs; the model takes one tensor, {}",
                                       t.datatypes.size(), signature.Describe()));
  }
  if (t.datatypes.size() == 1) {
    SOMLIER_RETURN_IF_ERROR(CheckDatatype(t.datatypes.front(),
                                          t.columns.empty() ? "input" : t.columns.front(),
                                          "the tensor", spec.type));
  }
  auto fits = [&](const std::vector<int64_t>& got) {
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); ++i) {
      if (want[i] != -1 && want[i] != got[i]) return false;
    }
    return true;
  };
  ModelInput input;
  input.rows = t.rows;
  input.tensor = true;
  input.dtype = spec.dtype;
  TypedColumn& column = input.columns.emplace_back();
  column.type = spec.type;
  std::vector<Cell> values;
  for (size_t r = 0; r < t.rows; ++r) {
    values.clear();
    std::vector<int64_t> got;
    bool rectangular = true;
    if (!t.shape.empty()) {
      got.assign(t.shape.begin() + 1, t.shape.end());
    } else {
      got.push_back(static_cast<int64_t>(t.cols));
      if (t.at(r, 0).json) SOMLIER_RETURN_IF_ERROR(NestedShape(*t.at(r, 0).json, got, 0));
      const std::vector<int64_t> cell_shape(got.begin() + 1, got.end());
      for (size_t c = 0; c < t.cols && rectangular; ++c) {
        const Cell& cell = t.at(r, c);
        rectangular = cell.json ? Rectangular(*cell.json, cell_shape, 0) : cell_shape.empty();
      }
    }
    if (!rectangular) {
      return InvalidArgument(fmt::format(
          "row {} is ragged: its nested lists do not all have the shape [{}] of its first", r,
          fmt::join(got, ", ")));
    }
    for (size_t c = 0; c < t.cols; ++c) FlattenCell(t.at(r, c), values);
    const auto count = static_cast<int64_t>(values.size());
    std::vector<int64_t> row_shape;
    if (fits(got)) {
      row_shape = got;
    } else if (fixed && got.size() == 1 && Product(want) == count) {
      row_shape = want;  // a flat row of as many values: reshaped, as MLflow does
    } else {
      return InvalidArgument(fmt::format(
          "row {} has shape [{}] ({} values), which does not fit the model's input tensor {}", r,
          fmt::join(got, ", "), count, signature.Describe()));
    }
    if (r == 0) {
      input.row_shape = row_shape;
      column.data.reserve(values.size() * WireWidth(spec.type));  // grows as rows pass
    } else if (row_shape != input.row_shape) {
      return InvalidArgument(fmt::format("row {} has shape [{}], row 0 has [{}]", r,
                                         fmt::join(row_shape, ", "),
                                         fmt::join(input.row_shape, ", ")));
    }
    for (size_t i = 0; i < values.size(); ++i) {
      Status s = AppendValue(values[i], spec.type, false, column);
      if (s.ok() && (spec.min > -HUGE_VAL || spec.max < HUGE_VAL)) {
        auto number = CellNumber(values[i]);
        if (number && !(*number >= spec.min && *number <= spec.max)) {
          s = InvalidArgument(fmt::format("{} is out of {}'s range [{}, {}]", Shown(values[i]),
                                          spec.dtype, spec.min, spec.max));
        }
      }
      if (!s.ok()) return InvalidArgument(fmt::format("row {}, value {}: {}", r, i, s.message()));
    }
  }
  return input;
}

// No signature: a float64 matrix, by the feature names the model was fitted with if any.
Result<ModelInput> ConformMatrix(const RequestTable& t, const ModelSchema& schema) {
  for (const std::string& datatype : t.datatypes) {
    if (datatype == "BYTES") {
      return InvalidArgument(
          "datatype 'BYTES' is not supported: this model has no signature, so it takes numbers "
          "(such as FP32, FP64 or INT64)");
    }
  }
  if (t.shape.size() > 2) {
    return InvalidArgument(fmt::format(
        "shape [{}] is not [rows, features] or [rows]: this model has no signature, so it takes "
        "a matrix",
        fmt::join(t.shape, ", ")));
  }
  const size_t expected =
      schema.n_features >= 0 ? static_cast<size_t>(schema.n_features) : schema.feature_names.size();
  std::vector<size_t> order(t.cols);
  for (size_t c = 0; c < t.cols; ++c) order[c] = c;
  bool named = !schema.feature_names.empty() && !t.columns.empty();
  std::unordered_map<std::string_view, size_t> given;
  for (size_t c = 0; named && c < t.columns.size(); ++c) given.emplace(t.columns[c], c);
  if (named && t.names_optional) {
    named = std::all_of(t.columns.begin(), t.columns.end(), [&](const std::string& name) {
      return std::find(schema.feature_names.begin(), schema.feature_names.end(), name) !=
             schema.feature_names.end();
    });
  }
  if (named) {
    std::vector<std::string> missing;
    order.clear();
    for (const std::string& name : schema.feature_names) {
      auto it = given.find(name);
      if (it == given.end()) {
        missing.push_back("'" + name + "'");
      } else {
        order.push_back(it->second);
        given.erase(it);
      }
    }
    if (!missing.empty() || !given.empty()) {
      std::vector<std::string> unknown;
      for (const std::string& c : t.columns) {
        if (given.count(c)) unknown.push_back("'" + c + "'");
      }
      std::string message = "the input's columns do not match the model's";
      if (!missing.empty()) message += "; missing: " + Join(missing, ", ");
      if (!unknown.empty()) message += "; unknown: " + Join(unknown, ", ");
      return InvalidArgument(message + "; expected: " + Join(schema.feature_names, ", "));
    }
  } else if (expected > 0 && t.cols != expected) {
    return InvalidArgument(
        fmt::format("the model expects {} features per row, the input has {}", expected, t.cols));
  }
  ModelInput input;
  input.rows = t.rows;
  input.tensor = true;
  input.dtype = "float64";
  input.row_shape = {static_cast<int64_t>(order.size())};
  if (named) {
    input.names = schema.feature_names;
  } else if (!t.names_optional) {
    input.names = t.columns;
  }
  TypedColumn& column = input.columns.emplace_back();
  column.data.resize(t.rows * order.size() * sizeof(double));
  char* out = column.data.data();
  for (size_t r = 0; r < t.rows; ++r) {
    for (size_t c : order) {
      const Cell& cell = t.at(r, c);
      double value;
      if (cell.json && cell.json->is_number()) {
        value = cell.json->get<double>();
      } else if (cell.json && cell.json->is_boolean()) {
        value = cell.json->get<bool>() ? 1.0 : 0.0;
      } else if (IsMissing(cell)) {
        value = std::numeric_limits<double>::quiet_NaN();
      } else if (auto parsed = cell.json ? std::nullopt : ParseDouble(cell.text)) {
        value = *parsed;
      } else {
        return InvalidArgument(
            fmt::format("row {}, column {}: {} is not a number", r, t.ColumnLabel(c), Shown(cell)));
      }
      std::memcpy(out, &value, sizeof value);
      out += sizeof value;
    }
  }
  return input;
}

}  // namespace

Result<ModelInput> ConformToSchema(const RequestTable& table, const ModelSchema& schema) {
  switch (schema.signature.kind) {
    case ModelSignature::Kind::kColumns:
      return ConformFrame(table, schema.signature);
    case ModelSignature::Kind::kTensor:
      return ConformTensor(table, schema.signature);
    case ModelSignature::Kind::kNone:
      break;
  }
  return ConformMatrix(table, schema);
}

}  // namespace somlier::serving
