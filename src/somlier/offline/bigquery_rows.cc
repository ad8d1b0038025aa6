#include "somlier/offline/bigquery_rows.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <ctime>

#include "somlier/core/base64.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"

namespace somlier::offline::bigquery {

std::string Quote(std::string_view name) { return batch::QuoteIdentifier(name, true); }

std::string Shown(const TableRef& table) {
  return fmt::format("{}.{}.{}", table.project, table.dataset, table.table);
}

std::string SqlName(const TableRef& table) {
  return Quote(table.project) + "." + Quote(table.dataset) + "." + Quote(table.table);
}

std::string TablesPath(const TableRef& table) {
  return fmt::format("/bigquery/v2/projects/{}/datasets/{}/tables",
                     PercentEncode(table.project, false), PercentEncode(table.dataset, false));
}

std::string TablePath(const TableRef& table) {
  return TablesPath(table) + "/" + PercentEncode(table.table, false);
}

std::optional<ColumnType> FromBigQuery(std::string_view type) {
  if (type == "INTEGER" || type == "INT64") return ColumnType::kInteger;
  if (type == "FLOAT" || type == "FLOAT64" || type == "NUMERIC" || type == "BIGNUMERIC" ||
      type == "DECIMAL" || type == "BIGDECIMAL") {
    return ColumnType::kReal;
  }
  if (type == "BOOLEAN" || type == "BOOL") return ColumnType::kBoolean;
  if (type == "STRING") return ColumnType::kText;
  if (type == "BYTES") return ColumnType::kBytes;
  if (type == "DATE") return ColumnType::kDate;
  if (type == "TIMESTAMP" || type == "DATETIME") return ColumnType::kTimestamp;
  return std::nullopt;
}

std::string_view LoadType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "FLOAT";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kText:
      return "STRING";
    case ColumnType::kBytes:
      return "BYTES";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
  }
  return "STRING";
}

std::string_view DdlType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INT64";
    case ColumnType::kReal:
      return "FLOAT64";
    case ColumnType::kBoolean:
      return "BOOL";
    case ColumnType::kText:
      return "STRING";
    case ColumnType::kBytes:
      return "BYTES";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
  }
  return "STRING";
}

Schema SchemaOf(const std::vector<Column>& columns) {
  Schema schema;
  schema.columns = columns;
  for (const Column& c : columns) schema.types.emplace_back(LoadType(c.type));
  return schema;
}

Result<Schema> ParseSchema(const json& table, const std::string& shown, bool readable) {
  const json* schema = Field(table, "schema");
  const json* fields = schema ? Field(*schema, "fields") : nullptr;
  if (!fields || !fields->is_array()) {
    return Internal(fmt::format("BigQuery described table {} without a schema", shown));
  }
  Schema out;
  for (const json& field : *fields) {
    std::string name = Str(field, "name");
    std::string type = ToUpper(Str(field, "type"));
    if (name.empty() || type.empty()) {
      return Internal(
          fmt::format("BigQuery described a column of table {} without a name or type", shown));
    }
    const std::optional<ColumnType> mapped = FromBigQuery(type);
    if (readable && (!mapped || Str(field, "mode") == "REPEATED")) {
      return InvalidArgument(fmt::format(
          "column '{}' of table {} is {}{}, which cannot be read: offline predict reads INTEGER, "
          "FLOAT, NUMERIC, BIGNUMERIC, BOOLEAN, STRING, BYTES, DATE, TIMESTAMP and DATETIME "
          "columns (select the features into a view or table of those)",
          name, shown, Str(field, "mode") == "REPEATED" ? "REPEATED " : "", type));
    }
    out.columns.push_back({std::move(name), mapped.value_or(ColumnType::kText)});
    out.types.push_back(std::move(type));
  }
  return out;
}

Result<DateFilter> DateCondition(const Schema& schema, const std::string& column,
                                 const std::string& shown) {
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    if (ToLower(schema.columns[c].name) != ToLower(column)) continue;  // as BigQuery's names
    const std::string& type = schema.types[c];
    if (type == "DATE") return DateFilter{Quote(column) + " = @date", "DATE"};
    if (type == "TIMESTAMP" || type == "DATETIME") {
      return DateFilter{"DATE(" + Quote(column) + ") = @date", "DATE"};
    }
    if (type == "STRING") return DateFilter{Quote(column) + " = @date", "STRING"};
    return InvalidArgument(fmt::format(
        "column '{}' of table {} is {}: the date column must be a DATE, TIMESTAMP, DATETIME or "
        "STRING (holding YYYY-MM-DD)",
        column, shown, type));
  }
  return NotFound(fmt::format("table {} has no column '{}'", shown, column));
}

Status CheckDate(const std::string& date) {
  bool ok = date.size() == 10 && date[4] == '-' && date[7] == '-';
  for (size_t i = 0; ok && i < date.size(); ++i) {
    ok = i == 4 || i == 7 || (date[i] >= '0' && date[i] <= '9');
  }
  if (ok) return OkStatus();
  return InvalidArgument(
      fmt::format("date '{}' is not a date like 2024-01-31 (YYYY-MM-DD)", date.substr(0, 100)));
}

std::optional<int64_t> TimestampMicros(std::string_view v) {
  size_t i = 0;
  bool negative = false;
  if (i < v.size() && (v[i] == '-' || v[i] == '+')) negative = v[i++] == '-';
  std::string digits;
  int64_t exponent = 0;
  bool dot = false;
  bool seconds = false;
  for (; i < v.size(); ++i) {
    const char c = v[i];
    if (c >= '0' && c <= '9') {
      digits += c;
      if (dot) --exponent;
    } else if (c == '.' && !dot) {
      dot = seconds = true;
    } else if ((c == 'e' || c == 'E') && !digits.empty()) {
      seconds = true;
      size_t j = i + 1;
      if (j < v.size() && v[j] == '+') ++j;
      int e = 0;
      const auto [end, ec] = std::from_chars(v.data() + j, v.data() + v.size(), e);
      if (ec != std::errc() || end != v.data() + v.size() || j == v.size()) return std::nullopt;
      exponent += e;
      break;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty() || digits.size() > 40) return std::nullopt;
  if (seconds) exponent += 6;
  const size_t first = std::min(digits.find_first_not_of('0'), digits.size());
  digits.erase(0, first);
  bool round_up = false;
  if (exponent >= 0) {
    if (static_cast<int64_t>(digits.size()) + exponent > 19) return std::nullopt;
    if (!digits.empty()) digits.append(static_cast<size_t>(exponent), '0');
  } else {
    const uint64_t drop = static_cast<uint64_t>(-exponent);
    if (drop > digits.size()) {
      digits.clear();
    } else {
      round_up = digits[digits.size() - drop] >= '5';
      digits.resize(digits.size() - drop);
    }
  }
  int64_t n = 0;
  if (!digits.empty()) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  }
  if (round_up) ++n;
  return negative ? -n : n;
}

std::string FormatTimestamp(int64_t micros) {
  int64_t seconds = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
}

Result<SqlValue> FromCell(const json& cell, const std::string& type, const std::string& column) {
  const json* v = Field(cell, "v");
  if (v == nullptr || v->is_null()) return SqlValue(std::monostate{});
  auto bad = [&]() {
    return Internal(fmt::format("BigQuery answered a {} value of column '{}' that is not one: {}",
                                type, column, JsonPreview(*v)));
  };
  if (!v->is_string()) return bad();
  const std::string& text = v->get_ref<const std::string&>();
  if (type == "INTEGER" || type == "INT64") {
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) return bad();
    return SqlValue(n);
  }
  if (type == "FLOAT" || type == "FLOAT64" || type == "NUMERIC" || type == "BIGNUMERIC" ||
      type == "DECIMAL" || type == "BIGDECIMAL") {
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);  // also NaN, Infinity, -Infinity
    if (text.empty() || end != text.c_str() + text.size()) return bad();
    return SqlValue(d);
  }
  if (type == "BOOLEAN" || type == "BOOL") {
    if (text == "true") return SqlValue(int64_t{1});
    if (text == "false") return SqlValue(int64_t{0});
    return bad();
  }
  if (type == "BYTES") {
    std::optional<std::string> bytes = Base64Decode(text);
    if (!bytes) return bad();
    return SqlValue(SqlBlob{std::move(*bytes)});
  }
  if (type == "TIMESTAMP") {
    const std::optional<int64_t> micros = TimestampMicros(text);
    if (!micros) return bad();
    return SqlValue(FormatTimestamp(*micros));
  }
  return SqlValue(text);  // STRING, DATE (YYYY-MM-DD), DATETIME (YYYY-MM-DDTHH:MM:SS[.ffffff])
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void AppendNumber(std::string& out, int64_t n) {
  char buffer[32];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, n).ptr);
}

void AppendNumber(std::string& out, double d) {
  char buffer[64];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, d).ptr);
}

Status AppendValue(std::string& out, const SqlValue& v, ColumnType type, const std::string& column,
                   size_t row) {
  auto text = [&](std::string_view s) -> Status {
    if (type == ColumnType::kBytes) {
      AppendJsonString(out, Base64Encode(s));
      return OkStatus();
    }
    if (FindInvalidUtf8(s) != std::string_view::npos) {
      return InvalidArgument(fmt::format(
          "row {} of the predictions: column '{}' holds bytes that are not UTF-8 text, which "
          "BigQuery cannot store as {}",
          row + 1, column, LoadType(type)));
    }
    AppendJsonString(out, s);
    return OkStatus();
  };
  if (const auto* n = std::get_if<int64_t>(&v)) {
    if (type == ColumnType::kBoolean) {
      out += *n ? "true" : "false";
    } else if (type == ColumnType::kReal) {
      AppendNumber(out, *n);
    } else {
      std::string digits;
      AppendNumber(digits, *n);
      return text(digits);
    }
    return OkStatus();
  }
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) {
      return text(std::isnan(*d) ? "NaN" : (*d > 0 ? "Infinity" : "-Infinity"));
    }
    if (type == ColumnType::kBoolean) {
      out += *d != 0 ? "true" : "false";
    } else if (type == ColumnType::kInteger && *d == std::trunc(*d) && std::abs(*d) < 9.2e18) {
      std::string digits;
      AppendNumber(digits, static_cast<int64_t>(*d));
      return text(digits);
    } else if (type == ColumnType::kReal || type == ColumnType::kInteger) {
      AppendNumber(out, *d);  // a fraction for an INTEGER: BigQuery's load job names it
    } else {
      std::string digits;
      AppendNumber(digits, *d);
      return text(digits);
    }
    return OkStatus();
  }
  if (const auto* s = std::get_if<std::string>(&v)) return text(*s);
  if (const auto* b = std::get_if<SqlBlob>(&v)) return text(b->bytes);
  return OkStatus();
}

}  // namespace somlier::offline::bigquery
