#include "somlier/serving/mlflow_input.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"

namespace somlier::serving {
namespace {

using Json = RequestJson;

std::string Brief(const Json& value) { return JsonPreview(value, 40); }

// Appends one row from a JSON array.
Status AddRow(RequestTable& t, const Json& row, size_t index) {
  if (!row.is_array()) {
    return InvalidArgument(
        fmt::format("row {} is {}, expected a list of values", index, Brief(row)));
  }
  if (index == 0 && t.cols == 0 && t.columns.empty()) t.cols = row.size();
  if (row.size() != t.cols) {
    return InvalidArgument(
        fmt::format("row {} has {} values, expected {}", index, row.size(), t.cols));
  }
  for (const Json& value : row) t.cells.push_back(Cell{&value, {}});
  ++t.rows;
  return OkStatus();
}

// Rows given as lists of values ([[...], ...]) or as one list of scalars (one column).
Status AddRows(RequestTable& t, const Json& rows, std::string_view field) {
  if (!rows.is_array()) {
    return InvalidArgument(fmt::format("'{}' must be a list, got {}", field, Brief(rows)));
  }
  if (!rows.empty() && !rows.front().is_array()) {
    t.cols = 1;
    t.cells.reserve(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].is_array()) {
        return InvalidArgument(
            fmt::format("'{}' mixes lists and single values at row {}", field, r));
      }
      t.cells.push_back(Cell{&rows[r], {}});
    }
    t.rows = rows.size();
    return OkStatus();
  }
  if (t.cols == 0 && !t.columns.empty()) t.cols = t.columns.size();
  // What the rows claim is only checked row by row: reserve no more than a bounded guess.
  t.cells.reserve(std::min<size_t>(rows.size() * std::max<size_t>(t.cols, 1), size_t{1} << 20));
  for (size_t r = 0; r < rows.size(); ++r) SOMLIER_RETURN_IF_ERROR(AddRow(t, rows[r], r));
  return OkStatus();
}

// Records: [{"col": value, ...}, ...]; the columns are the first record's keys.
Status AddRecords(RequestTable& t, const Json& records, std::string_view field) {
  if (!records.is_array()) {
    return InvalidArgument(
        fmt::format("'{}' must be a list of records, got {}", field, Brief(records)));
  }
  for (size_t r = 0; r < records.size(); ++r) {
    const Json& record = records[r];
    if (!record.is_object()) {
      return InvalidArgument(
          fmt::format("'{}' record {} is {}, expected an object", field, r, Brief(record)));
    }
    if (r == 0) {
      for (const auto& item : record.items()) t.columns.push_back(item.key());
      t.cols = t.columns.size();
    }
    if (record.size() != t.cols) {
      return InvalidArgument(fmt::format("record {} has {} fields, expected {} ({})", r,
                                         record.size(), t.cols, Join(t.columns, ", ")));
    }
    for (const std::string& column : t.columns) {
      auto it = record.find(column);
      if (it == record.end()) {
        return InvalidArgument(fmt::format("record {} has no column '{}'", r, column));
      }
      t.cells.push_back(Cell{&*it, {}});
    }
    ++t.rows;
  }
  return OkStatus();
}

// Columns: {"col": [v, ...], ...}.
Status AddColumns(RequestTable& t, const Json& columns, std::string_view field) {
  size_t rows = 0;
  bool first = true;
  std::vector<const Json*> lists;
  for (const auto& item : columns.items()) {
    if (!item.value().is_array()) {
      return InvalidArgument(
          fmt::format("'{}' column '{}' must be a list of values", field, item.key()));
    }
    if (first) rows = item.value().size();
    first = false;
    if (item.value().size() != rows) {
      return InvalidArgument(fmt::format("'{}' column '{}' has {} values, expected {}", field,
                                         item.key(), item.value().size(), rows));
    }
    t.columns.push_back(item.key());
    lists.push_back(&item.value());
  }
  t.cols = t.columns.size();
  t.rows = rows;
  t.cells.resize(t.rows * t.cols);
  for (size_t c = 0; c < lists.size(); ++c) {
    for (size_t r = 0; r < rows; ++r) t.cells[r * t.cols + c].json = &(*lists[c])[r];
  }
  return OkStatus();
}

Status NotEmpty(const RequestTable& t) {
  if (t.rows == 0) return InvalidArgument("the input has no rows");
  if (t.cols == 0) return InvalidArgument("the input rows have no values");
  return OkStatus();
}

Status NoDuplicateColumns(const RequestTable& t) {
  std::unordered_set<std::string_view> seen;
  for (const std::string& name : t.columns) {
    if (!seen.insert(name).second) {
      return InvalidArgument(fmt::format("column '{}' is given twice", name));
    }
  }
  return OkStatus();
}

Result<RequestTable> ParseJsonInput(std::string_view body) {
  if (Trim(body).empty()) return InvalidArgument("the request body is empty");
  SOMLIER_ASSIGN_OR_RETURN(Json parsed, ParseJson<Json>(body, "the request body"));
  RequestTable t;
  auto document = std::make_shared<const Json>(std::move(parsed));
  t.document = document;
  const Json& doc = *document;
  static constexpr std::string_view kFields[] = {"dataframe_split", "dataframe_records",
                                                 "instances", "inputs"};
  if (!doc.is_object()) {
    return InvalidArgument(
        "the request body must be a JSON object with one of dataframe_split, "
        "dataframe_records, instances or inputs");
  }
  std::vector<std::string_view> given;
  for (std::string_view f : kFields) {
    if (doc.contains(f)) given.push_back(f);
  }
  if (given.size() != 1) {
    std::vector<std::string> keys;
    for (const auto& item : doc.items()) keys.push_back("'" + item.key() + "'");
    return InvalidArgument(fmt::format(
        "the request must have exactly one of dataframe_split, dataframe_records, instances or "
        "inputs; it has {}",
        keys.empty() ? std::string("no fields") : Join(keys, ", ")));
  }
  const std::string_view field = given.front();
  const Json& value = doc[std::string(field)];
  if (field == "dataframe_split") {
    if (!value.is_object() || !value.contains("data")) {
      return InvalidArgument("'dataframe_split' must be an object with 'data' (and 'columns')");
    }
    if (value.contains("columns")) {
      const Json& columns = value["columns"];
      if (!columns.is_array()) return InvalidArgument("'dataframe_split.columns' must be a list");
      for (const Json& c : columns) {
        t.columns.push_back(c.is_string() ? c.get<std::string>() : JsonPreview(c));
      }
    }
    SOMLIER_RETURN_IF_ERROR(AddRows(t, value["data"], "dataframe_split.data"));
    if (!t.columns.empty() && t.cols != t.columns.size()) {
      return InvalidArgument(
          fmt::format("'dataframe_split' names {} columns but its rows have {} values",
                      t.columns.size(), t.cols));
    }
  } else if (field == "dataframe_records") {
    SOMLIER_RETURN_IF_ERROR(AddRecords(t, value, field));
  } else if (value.is_object() && field == "inputs") {
    SOMLIER_RETURN_IF_ERROR(AddColumns(t, value, field));
  } else if (value.is_array() && !value.empty() && value.front().is_object()) {
    SOMLIER_RETURN_IF_ERROR(AddRecords(t, value, field));
  } else {
    SOMLIER_RETURN_IF_ERROR(AddRows(t, value, field));
  }
  SOMLIER_RETURN_IF_ERROR(NotEmpty(t));
  SOMLIER_RETURN_IF_ERROR(NoDuplicateColumns(t));
  return t;
}

// CSV as RFC 4180 has it: fields separated by commas, records by LF or CRLF; a field in
// double quotes may hold commas, line breaks and doubled quotes. Blank lines are skipped.
// Unquoted fields are kept as they are (conversions to numbers ignore surrounding spaces);
// the header's unquoted names are trimmed.
Result<RequestTable> ParseCsvInput(std::string_view body) {
  // Column names and string values reach the model worker as JSON text, which must be UTF-8.
  if (size_t bad = FindInvalidUtf8(body); bad != std::string_view::npos) {
    return InvalidArgument(
        fmt::format("the CSV body is not valid UTF-8 (byte 0x{:02x} at offset {}); send UTF-8 text",
                    static_cast<unsigned char>(body[bad]), bad));
  }
  RequestTable t;
  size_t line = 1;
  size_t i = 0;
  bool header = true;
  std::vector<std::string_view> record;
  std::vector<bool> quoted;
  while (i < body.size()) {
    record.clear();
    quoted.clear();
    const size_t record_line = line;
    bool blank = true;
    while (true) {
      std::string_view field;
      const bool is_quoted = i < body.size() && body[i] == '"';
      if (is_quoted) {
        blank = false;
        const size_t start = ++i;
        std::string unescaped;
        bool escaped = false;
        while (true) {
          if (i >= body.size()) {
            return InvalidArgument(
                fmt::format("CSV line {}: a quoted value is not closed", record_line));
          }
          const char c = body[i];
          if (c == '"') {
            if (i + 1 < body.size() && body[i + 1] == '"') {
              if (!escaped) unescaped.assign(body.substr(start, i - start));
              escaped = true;
              unescaped += '"';
              i += 2;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          if (escaped) unescaped += c;
          ++i;
        }
        field = escaped ? std::string_view(t.owned_text.emplace_back(std::move(unescaped)))
                        : body.substr(start, i - start);
        ++i;  // the closing quote
        while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
        if (i < body.size() && body[i] != ',' && body[i] != '\n' && body[i] != '\r') {
          return InvalidArgument(fmt::format(
              "CSV line {}: text after a closing quote (double a quote inside a quoted value)",
              line));
        }
      } else {
        const size_t start = i;
        while (i < body.size() && body[i] != ',' && body[i] != '\n') ++i;
        field = body.substr(start, i - start);
        if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
        if (!Trim(field).empty()) blank = false;
      }
      record.push_back(field);
      quoted.push_back(is_quoted);
      if (i < body.size() && body[i] == ',') {
        ++i;
        blank = false;
        continue;
      }
      if (i < body.size() && body[i] == '\r') ++i;
      if (i < body.size() && body[i] == '\n') {
        ++i;
        ++line;
      }
      break;
    }
    if (blank) continue;
    if (header) {
      for (size_t c = 0; c < record.size(); ++c) {
        t.columns.emplace_back(quoted[c] ? record[c] : Trim(record[c]));
      }
      t.cols = t.columns.size();
      header = false;
      continue;
    }
    if (record.size() != t.cols) {
      return InvalidArgument(fmt::format("CSV line {} has {} values, expected {} ({})", record_line,
                                         record.size(), t.cols, Join(t.columns, ", ")));
    }
    for (std::string_view field : record) t.cells.push_back(Cell{nullptr, field});
    ++t.rows;
  }
  if (header) return InvalidArgument("the request body is empty");
  SOMLIER_RETURN_IF_ERROR(NotEmpty(t));
  SOMLIER_RETURN_IF_ERROR(NoDuplicateColumns(t));
  return t;
}

}  // namespace

Result<RequestTable> ParseInvocationsInput(std::string_view content_type, std::string_view body) {
  std::string type = ToLower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type == "text/csv") return ParseCsvInput(body);
  auto parsed = ParseJsonInput(body);
  if (!parsed.ok() && !type.empty() && type != "application/json" &&
      parsed.status().message() == "the request body is not valid JSON") {
    return InvalidArgument(fmt::format(
        "the request body is not valid JSON (content type '{}'); send application/json or "
        "text/csv",
        type));
  }
  return parsed;
}

}  // namespace somlier::serving
