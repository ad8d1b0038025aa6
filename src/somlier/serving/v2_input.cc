#include "somlier/serving/v2_input.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"

namespace somlier::serving {
namespace {

using Json = RequestJson;

std::string Brief(const Json& value) { return JsonPreview(value, 40); }

constexpr std::string_view kDatatypes[] = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                                           "INT8", "INT16", "INT32",  "INT64",  "FP16",
                                           "FP32", "FP64",  "BYTES"};

// A tensor's data, flat or nested to any depth, appended in row-major order.
Status Flatten(const Json& data, std::vector<const Json*>& out, size_t depth,
               std::string_view input) {
  if (depth > 8)
    return InvalidArgument(fmt::format("input '{}': 'data' is nested too deeply", input));
  for (const Json& v : data) {
    if (v.is_array()) {
      SOMLIER_RETURN_IF_ERROR(Flatten(v, out, depth + 1, input));
    } else if (v.is_object()) {
      return InvalidArgument(
          fmt::format("input '{}': 'data' holds {}, expected values", input, Brief(v)));
    } else {
      out.push_back(&v);
    }
  }
  return OkStatus();
}

struct Tensor {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  std::vector<const Json*> values;
};

Result<Tensor> ReadTensor(const Json& tensor, size_t index) {
  if (!tensor.is_object()) {
    return InvalidArgument(fmt::format("input {} is {}, expected an object", index, Brief(tensor)));
  }
  for (const char* key : {"name", "shape", "datatype", "data"}) {
    if (!tensor.contains(key)) {
      return InvalidArgument(fmt::format("input {} has no '{}'", index, key));
    }
  }
  if (!tensor["name"].is_string() || !tensor["datatype"].is_string()) {
    return InvalidArgument(fmt::format("input {}: 'name' and 'datatype' must be strings", index));
  }
  Tensor t;
  t.name = tensor["name"].get<std::string>();
  t.datatype = tensor["datatype"].get<std::string>();
  if (std::find(std::begin(kDatatypes), std::end(kDatatypes), t.datatype) == std::end(kDatatypes)) {
    return InvalidArgument(fmt::format(
        "input '{}': datatype '{}' is not one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, "
        "FP64, BYTES",
        t.name, t.datatype));
  }
  const Json& shape = tensor["shape"];
  bool valid = shape.is_array() && !shape.empty() && shape.size() <= 8;
  for (size_t i = 0; valid && i < shape.size(); ++i) {
    valid = shape[i].is_number_integer() && shape[i].get<int64_t>() >= 0;
    if (valid) t.shape.push_back(shape[i].get<int64_t>());
  }
  if (!valid) {
    return InvalidArgument(fmt::format("input '{}': shape {} is not a list of sizes [rows, ...]",
                                       t.name, Brief(shape)));
  }
  const Json& data = tensor["data"];
  if (!data.is_array())
    return InvalidArgument(fmt::format("input '{}': 'data' must be a list", t.name));
  SOMLIER_RETURN_IF_ERROR(Flatten(data, t.values, 0, t.name));
  size_t needed = 1;
  bool fits = true;
  for (int64_t d : t.shape)
    fits = fits && !__builtin_mul_overflow(needed, static_cast<size_t>(d), &needed);
  if (!fits || needed != t.values.size()) {
    double product = 1;
    for (int64_t d : t.shape) product *= static_cast<double>(d);
    return InvalidArgument(fmt::format("input '{}': shape {} needs {:.0f} values, 'data' has {}",
                                       t.name, Brief(shape), product, t.values.size()));
  }
  return t;
}

}  // namespace

Result<V2InferRequest> ParseV2InferRequest(std::string_view body) {
  if (Trim(body).empty()) return InvalidArgument("the request body is empty");
  SOMLIER_ASSIGN_OR_RETURN(Json parsed, ParseJson<Json>(body, "the request body"));
  auto document = std::make_shared<const Json>(std::move(parsed));
  const Json& doc = *document;
  if (!doc.is_object() || !doc.contains("inputs") || !doc["inputs"].is_array()) {
    return InvalidArgument("an inference request must be an object with an 'inputs' list");
  }
  V2InferRequest request;
  if (doc.contains("id")) {
    if (!doc["id"].is_string()) return InvalidArgument("'id' must be a string");
    request.id = doc["id"].get<std::string>();
  }
  const Json& inputs = doc["inputs"];
  if (inputs.empty()) return InvalidArgument("the request has 0 inputs; send at least one");
  RequestTable& table = request.table;
  table.document = document;
  if (inputs.size() == 1) {
    SOMLIER_ASSIGN_OR_RETURN(Tensor tensor, ReadTensor(inputs.front(), 0));
    table.rows = static_cast<size_t>(tensor.shape[0]);
    table.cols = table.rows == 0 ? 0 : tensor.values.size() / table.rows;
    table.columns = {tensor.name};
    table.names_optional = true;
    if (table.cols != 1) table.columns.clear();
    table.datatypes = {tensor.datatype};
    table.shape = tensor.shape;
    table.cells.reserve(tensor.values.size());
    for (const Json* v : tensor.values) table.cells.push_back(Cell{v, {}});
  } else {
    std::vector<Tensor> tensors;
    std::unordered_set<std::string> names;
    for (size_t i = 0; i < inputs.size(); ++i) {
      SOMLIER_ASSIGN_OR_RETURN(Tensor tensor, ReadTensor(inputs[i], i));
      if (tensor.shape.size() > 2 || (tensor.shape.size() == 2 && tensor.shape[1] != 1)) {
        return InvalidArgument(fmt::format(
            "input '{}' has shape [{}]; with several inputs each is one column, of shape [rows] "
            "or [rows, 1]",
            tensor.name, fmt::join(tensor.shape, ", ")));
      }
      if (!names.insert(tensor.name).second) {
        return InvalidArgument(fmt::format("input '{}' is given twice", tensor.name));
      }
      if (!tensors.empty() && tensor.values.size() != tensors.front().values.size()) {
        return InvalidArgument(fmt::format("input '{}' has {} rows, input '{}' has {}", tensor.name,
                                           tensor.values.size(), tensors.front().name,
                                           tensors.front().values.size()));
      }
      tensors.push_back(std::move(tensor));
    }
    table.rows = tensors.front().values.size();
    table.cols = tensors.size();
    table.cells.resize(table.rows * table.cols);
    for (size_t c = 0; c < tensors.size(); ++c) {
      table.columns.push_back(tensors[c].name);
      table.datatypes.push_back(tensors[c].datatype);
      for (size_t r = 0; r < table.rows; ++r)
        table.cells[r * table.cols + c].json = tensors[c].values[r];
    }
  }
  if (table.rows == 0 || table.cols == 0) return InvalidArgument("the input has no rows");
  return request;
}

}  // namespace somlier::serving
