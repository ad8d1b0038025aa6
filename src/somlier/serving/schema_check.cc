#include "somlier/serving/schema_check.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/serving/cell_values.h"

namespace somlier::serving {
namespace {

using Json = RequestJson;

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
          s = InvalidArgument(fmt::format("{} is out of {}'s range [{}, {}]", ShownCell(values[i]),
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
        return InvalidArgument(fmt::format("row {}, column {}: {} is not a number", r,
                                           t.ColumnLabel(c), ShownCell(cell)));
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
