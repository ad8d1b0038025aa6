#include "somlier/serving/model_input.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"

namespace somlier::serving {
namespace {

using Json = nlohmann::ordered_json;

std::string Brief(const Json& value) { return JsonPreview(value, 40); }

Result<double> Number(const Json& value, size_t row, std::string_view column) {
  if (value.is_number()) return value.get<double>();
  if (value.is_boolean()) return value.get<bool>() ? 1.0 : 0.0;
  if (value.is_null()) return std::nan("");
  return InvalidArgument(
      fmt::format("row {}, column {}: {} is not a number", row, column, Brief(value)));
}

std::string ColumnLabel(const InputMatrix& m, size_t col) {
  return col < m.columns.size() ? "'" + m.columns[col] + "'" : std::to_string(col);
}

// Appends one row from a JSON array.
Status AddRow(InputMatrix& m, const Json& row, size_t index) {
  if (!row.is_array()) {
    return InvalidArgument(
        fmt::format("row {} is {}, expected a list of values", index, Brief(row)));
  }
  if (index == 0 && m.cols == 0 && m.columns.empty()) m.cols = row.size();
  if (row.size() != m.cols) {
    return InvalidArgument(
        fmt::format("row {} has {} values, expected {}", index, row.size(), m.cols));
  }
  for (size_t c = 0; c < row.size(); ++c) {
    if (row[c].is_array() || row[c].is_object()) {
      return InvalidArgument(fmt::format("row {}, column {}: {} is not a number", index,
                                         ColumnLabel(m, c), Brief(row[c])));
    }
    SOMLIER_ASSIGN_OR_RETURN(double v, Number(row[c], index, ColumnLabel(m, c)));
    m.values.push_back(v);
  }
  ++m.rows;
  return OkStatus();
}

// Rows given as lists of values ([[...], ...]) or as one list of scalars (one column).
Status AddRows(InputMatrix& m, const Json& rows, std::string_view field) {
  if (!rows.is_array()) {
    return InvalidArgument(fmt::format("'{}' must be a list, got {}", field, Brief(rows)));
  }
  if (!rows.empty() && !rows.front().is_array()) {
    m.cols = 1;
    m.values.reserve(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].is_array() || rows[r].is_object()) {
        return InvalidArgument(
            fmt::format("'{}' mixes lists and single values at row {}", field, r));
      }
      SOMLIER_ASSIGN_OR_RETURN(double v, Number(rows[r], r, ColumnLabel(m, 0)));
      m.values.push_back(v);
    }
    m.rows = rows.size();
    return OkStatus();
  }
  if (m.cols == 0 && !m.columns.empty()) m.cols = m.columns.size();
  // What the rows claim is only checked row by row: reserve no more than a bounded guess.
  m.values.reserve(std::min<size_t>(rows.size() * std::max<size_t>(m.cols, 1), size_t{1} << 20));
  for (size_t r = 0; r < rows.size(); ++r) SOMLIER_RETURN_IF_ERROR(AddRow(m, rows[r], r));
  return OkStatus();
}

// Records: [{"col": value, ...}, ...]; the columns are the first record's keys.
Status AddRecords(InputMatrix& m, const Json& records, std::string_view field) {
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
      for (const auto& item : record.items()) m.columns.push_back(item.key());
      m.cols = m.columns.size();
    }
    if (record.size() != m.cols) {
      return InvalidArgument(fmt::format("record {} has {} fields, expected {} ({})", r,
                                         record.size(), m.cols, Join(m.columns, ", ")));
    }
    for (const std::string& column : m.columns) {
      auto it = record.find(column);
      if (it == record.end()) {
        return InvalidArgument(fmt::format("record {} has no column '{}'", r, column));
      }
      if (it->is_array() || it->is_object()) {
        return InvalidArgument(
            fmt::format("row {}, column '{}': {} is not a number", r, column, Brief(*it)));
      }
      SOMLIER_ASSIGN_OR_RETURN(double v, Number(*it, r, "'" + column + "'"));
      m.values.push_back(v);
    }
    ++m.rows;
  }
  return OkStatus();
}

// Columns: {"col": [v, ...], ...}.
Status AddColumns(InputMatrix& m, const Json& columns, std::string_view field) {
  size_t rows = 0;
  bool first = true;
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
    m.columns.push_back(item.key());
  }
  m.cols = m.columns.size();
  m.rows = rows;
  m.values.resize(m.rows * m.cols);
  size_t c = 0;
  for (const auto& item : columns.items()) {
    for (size_t r = 0; r < rows; ++r) {
      const Json& v = item.value()[r];
      if (v.is_array() || v.is_object()) {
        return InvalidArgument(
            fmt::format("row {}, column '{}': {} is not a number", r, item.key(), Brief(v)));
      }
      SOMLIER_ASSIGN_OR_RETURN(m.values[r * m.cols + c], Number(v, r, "'" + item.key() + "'"));
    }
    ++c;
  }
  return OkStatus();
}

Status NotEmpty(const InputMatrix& m) {
  if (m.rows == 0) return InvalidArgument("the input has no rows");
  if (m.cols == 0) return InvalidArgument("the input rows have no values");
  return OkStatus();
}

Result<Json> ParseJson(std::string_view body) {
  if (Trim(body).empty()) return InvalidArgument("the request body is empty");
  return somlier::ParseJson<Json>(body, "the request body");
}

Result<InputMatrix> ParseJsonInput(std::string_view body) {
  SOMLIER_ASSIGN_OR_RETURN(Json doc, ParseJson(body));
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
  InputMatrix m;
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
        m.columns.push_back(c.is_string() ? c.get<std::string>() : JsonPreview(c));
      }
    }
    SOMLIER_RETURN_IF_ERROR(AddRows(m, value["data"], "dataframe_split.data"));
    if (!m.columns.empty() && m.cols != m.columns.size()) {
      return InvalidArgument(
          fmt::format("'dataframe_split' names {} columns but its rows have {} "
                      "values",
                      m.columns.size(), m.cols));
    }
  } else if (field == "dataframe_records") {
    SOMLIER_RETURN_IF_ERROR(AddRecords(m, value, field));
  } else if (value.is_object() && field == "inputs") {
    SOMLIER_RETURN_IF_ERROR(AddColumns(m, value, field));
  } else if (value.is_array() && !value.empty() && value.front().is_object()) {
    SOMLIER_RETURN_IF_ERROR(AddRecords(m, value, field));
  } else {
    SOMLIER_RETURN_IF_ERROR(AddRows(m, value, field));
  }
  SOMLIER_RETURN_IF_ERROR(NotEmpty(m));
  return m;
}

std::vector<std::string_view> SplitCsvLine(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    cells.push_back(
        Trim(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return cells;
}

Result<InputMatrix> ParseCsvInput(std::string_view body) {
  // Column names reach the model worker as JSON text, which must be UTF-8.
  if (size_t bad = FindInvalidUtf8(body); bad != std::string_view::npos) {
    return InvalidArgument(
        fmt::format("the CSV body is not valid UTF-8 (byte 0x{:02x} at offset {}); send UTF-8 text",
                    static_cast<unsigned char>(body[bad]), bad));
  }
  InputMatrix m;
  size_t line_number = 0;
  bool header = true;
  while (!body.empty()) {
    size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    std::vector<std::string_view> cells = SplitCsvLine(line);
    if (header) {
      for (std::string_view cell : cells) {
        if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') {
          cell = cell.substr(1, cell.size() - 2);
        }
        m.columns.emplace_back(cell);
      }
      m.cols = m.columns.size();
      header = false;
      continue;
    }
    if (cells.size() != m.cols) {
      return InvalidArgument(fmt::format("CSV line {} has {} values, expected {} ({})", line_number,
                                         cells.size(), m.cols, Join(m.columns, ", ")));
    }
    for (size_t c = 0; c < cells.size(); ++c) {
      std::string_view cell = cells[c];
      double v = 0;
      if (cell.empty()) {
        v = std::nan("");
      } else {
        if (cell.front() == '+') cell.remove_prefix(1);
        auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
        if (ec != std::errc() || ptr != cell.data() + cell.size()) {
          return InvalidArgument(fmt::format("CSV line {}, column '{}': '{}' is not a number",
                                             line_number, m.columns[c], cells[c]));
        }
      }
      m.values.push_back(v);
    }
    ++m.rows;
  }
  if (header) return InvalidArgument("the request body is empty");
  SOMLIER_RETURN_IF_ERROR(NotEmpty(m));
  return m;
}

// A V2 tensor's data: flat, or nested to any depth; appended in row-major order.
Status Flatten(const Json& data, std::vector<double>& out, size_t depth) {
  if (depth > 8) return InvalidArgument("'data' is nested too deeply");
  for (const Json& v : data) {
    if (v.is_array()) {
      SOMLIER_RETURN_IF_ERROR(Flatten(v, out, depth + 1));
    } else if (v.is_object()) {
      return InvalidArgument(fmt::format("'data' holds {}, expected numbers", Brief(v)));
    } else {
      SOMLIER_ASSIGN_OR_RETURN(double x, Number(v, out.size(), "-"));
      out.push_back(x);
    }
  }
  return OkStatus();
}

}  // namespace

Result<InputMatrix> ParseInvocationsInput(std::string_view content_type, std::string_view body) {
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

Result<V2InferRequest> ParseV2InferRequest(std::string_view body) {
  SOMLIER_ASSIGN_OR_RETURN(Json doc, ParseJson(body));
  if (!doc.is_object() || !doc.contains("inputs") || !doc["inputs"].is_array()) {
    return InvalidArgument("an inference request must be an object with an 'inputs' list");
  }
  const Json& inputs = doc["inputs"];
  if (inputs.size() != 1) {
    return InvalidArgument(fmt::format(
        "the request has {} input tensors; this model takes one, of shape [rows, features]",
        inputs.size()));
  }
  V2InferRequest request;
  if (doc.contains("id")) {
    if (!doc["id"].is_string()) return InvalidArgument("'id' must be a string");
    request.id = doc["id"].get<std::string>();
  }
  const Json& tensor = inputs.front();
  if (!tensor.is_object()) return InvalidArgument("an input tensor must be an object");
  for (const char* key : {"name", "shape", "datatype", "data"}) {
    if (!tensor.contains(key)) {
      return InvalidArgument(fmt::format("the input tensor has no '{}'", key));
    }
  }
  if (!tensor["name"].is_string() || !tensor["datatype"].is_string()) {
    return InvalidArgument("the input tensor's 'name' and 'datatype' must be strings");
  }
  request.input_name = tensor["name"].get<std::string>();
  request.input_datatype = tensor["datatype"].get<std::string>();
  static constexpr std::string_view kNumeric[] = {"BOOL",   "UINT8", "UINT16", "UINT32",
                                                  "UINT64", "INT8",  "INT16",  "INT32",
                                                  "INT64",  "FP16",  "FP32",   "FP64"};
  if (std::find(std::begin(kNumeric), std::end(kNumeric), request.input_datatype) ==
      std::end(kNumeric)) {
    return InvalidArgument(
        fmt::format("datatype '{}' is not supported; use a numeric type such "
                    "as FP32, FP64 or INT64",
                    request.input_datatype));
  }
  const Json& shape = tensor["shape"];
  std::vector<int64_t> dims;
  if (shape.is_array()) {
    for (const Json& d : shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        dims.clear();
        break;
      }
      dims.push_back(d.get<int64_t>());
    }
  }
  if (dims.empty() || dims.size() > 2) {
    return InvalidArgument(fmt::format("shape {} is not [rows, features] or [rows]", Brief(shape)));
  }
  if (!tensor["data"].is_array()) return InvalidArgument("'data' must be a list");
  InputMatrix& m = request.matrix;
  SOMLIER_RETURN_IF_ERROR(Flatten(tensor["data"], m.values, 0));
  m.rows = static_cast<size_t>(dims[0]);
  m.cols = dims.size() == 2 ? static_cast<size_t>(dims[1]) : 1;
  // Compared without multiplying first: a huge shape must not wrap around to the data's size.
  if (m.rows > m.values.size() || m.cols > m.values.size() || m.values.size() != m.rows * m.cols) {
    return InvalidArgument(fmt::format("shape {} needs {:.0f} values, 'data' has {}", Brief(shape),
                                       static_cast<double>(m.rows) * static_cast<double>(m.cols),
                                       m.values.size()));
  }
  SOMLIER_RETURN_IF_ERROR(NotEmpty(m));
  return request;
}

Status ConformToSchema(InputMatrix& input, const ModelSchema& schema) {
  const size_t expected =
      schema.n_features >= 0 ? static_cast<size_t>(schema.n_features) : schema.feature_names.size();
  if (!schema.feature_names.empty() && !input.columns.empty()) {
    std::unordered_map<std::string_view, size_t> given;
    for (size_t c = 0; c < input.columns.size(); ++c) {
      if (!given.emplace(input.columns[c], c).second) {
        return InvalidArgument(fmt::format("column '{}' is given twice", input.columns[c]));
      }
    }
    std::vector<std::string> missing;
    std::vector<size_t> order;
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
      for (const std::string& c : input.columns) {
        if (given.count(c)) unknown.push_back("'" + c + "'");
      }
      std::string message = "the input's columns do not match the model's";
      if (!missing.empty()) message += "; missing: " + Join(missing, ", ");
      if (!unknown.empty()) message += "; unknown: " + Join(unknown, ", ");
      return InvalidArgument(message + "; expected: " + Join(schema.feature_names, ", "));
    }
    bool identity = true;
    for (size_t c = 0; c < order.size(); ++c) identity = identity && order[c] == c;
    if (!identity) {
      std::vector<double> values(input.values.size());
      for (size_t r = 0; r < input.rows; ++r) {
        for (size_t c = 0; c < order.size(); ++c) {
          values[r * input.cols + c] = input.values[r * input.cols + order[c]];
        }
      }
      input.values = std::move(values);
    }
    input.columns = schema.feature_names;
    return OkStatus();
  }
  if (expected > 0 && input.cols != expected) {
    return InvalidArgument(fmt::format("the model expects {} features per row, the input has {}",
                                       expected, input.cols));
  }
  return OkStatus();
}

}  // namespace somlier::serving
