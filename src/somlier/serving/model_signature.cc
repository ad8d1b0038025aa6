#include "somlier/serving/model_signature.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "somlier/core/json_parse.h"

namespace somlier::serving {
namespace {

using nlohmann::json;

struct TypeInfo {
  ValueType type;
  std::string_view name;
  std::string_view v2;
  size_t width;
};

constexpr TypeInfo kTypes[] = {
    {ValueType::kDouble, "double", "FP64", 8},   {ValueType::kFloat, "float", "FP32", 4},
    {ValueType::kLong, "long", "INT64", 8},      {ValueType::kInteger, "integer", "INT32", 4},
    {ValueType::kBoolean, "boolean", "BOOL", 1}, {ValueType::kString, "string", "BYTES", 0},
    {ValueType::kBinary, "binary", "BYTES", 0},  {ValueType::kDatetime, "datetime", "BYTES", 8},
};

const TypeInfo& Info(ValueType type) { return kTypes[static_cast<size_t>(type)]; }

// Tensor dtypes (numpy's names) and how their values travel; the worker casts to the dtype.
struct TensorType {
  std::string_view dtype;
  ValueType type;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};
constexpr TensorType kTensorTypes[] = {
    {"float64", ValueType::kDouble},
    {"float32", ValueType::kFloat},
    {"float16", ValueType::kFloat, -65504, 65504},
    {"int64", ValueType::kLong},
    {"int32", ValueType::kInteger},
    {"int16", ValueType::kInteger, -32768, 32767},
    {"int8", ValueType::kInteger, -128, 127},
    {"uint8", ValueType::kInteger, 0, 255},
    {"uint16", ValueType::kInteger, 0, 65535},
    {"uint32", ValueType::kLong, 0, 4294967295.0},
    {"bool", ValueType::kBoolean},
};

std::string Brief(const json& value) { return JsonPreview(value, 60); }

}  // namespace

std::string_view TypeName(ValueType type) { return Info(type).name; }
std::string_view V2Datatype(ValueType type) { return Info(type).v2; }
size_t WireWidth(ValueType type) { return Info(type).width; }

std::string ModelSignature::Describe() const {
  if (kind == Kind::kTensor)
    return fmt::format("{} [{}]", tensor.dtype, fmt::join(tensor.shape, ", "));
  std::vector<std::string> parts;
  for (const ColumnSpec& c : columns) {
    parts.push_back(
        fmt::format("{} ({}{})", c.name, TypeName(c.type), c.required ? "" : ", optional"));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

Result<ModelSignature> ParseSignature(const json& inputs) {
  ModelSignature signature;
  if (inputs.is_null() || (inputs.is_array() && inputs.empty())) return signature;
  if (!inputs.is_array()) {
    return InvalidArgument(
        fmt::format("the signature's inputs are {}, expected a list", Brief(inputs)));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const json& entry = inputs[i];
    if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string()) {
      return InvalidArgument(fmt::format(
          "signature input {} is {}, expected an object with a 'type'", i, Brief(entry)));
    }
    const std::string type = entry["type"].get<std::string>();
    if (type == "tensor") {
      if (inputs.size() != 1) {
        return InvalidArgument(fmt::format(
            "the signature has {} tensor inputs; the model server serves models with one tensor "
            "input or with columns",
            inputs.size()));
      }
      const json spec = entry.value("tensor-spec", json());
      if (!spec.is_object() || !spec.contains("dtype") || !spec["dtype"].is_string() ||
          !spec.contains("shape") || !spec["shape"].is_array() || spec["shape"].empty()) {
        return InvalidArgument(fmt::format(
            "signature input 0 is a tensor without a 'tensor-spec' with 'dtype' and 'shape': {}",
            Brief(entry)));
      }
      const std::string dtype = spec["dtype"].get<std::string>();
      const auto* known = std::find_if(std::begin(kTensorTypes), std::end(kTensorTypes),
                                       [&](const TensorType& t) { return t.dtype == dtype; });
      if (known == std::end(kTensorTypes)) {
        return InvalidArgument(fmt::format(
            "the signature's tensor dtype '{}' is not served; supported: float64, float32, "
            "float16, int64, int32, int16, int8, uint8, uint16, uint32, bool",
            dtype));
      }
      signature.kind = ModelSignature::Kind::kTensor;
      signature.tensor.dtype = dtype;
      signature.tensor.type = known->type;
      signature.tensor.min = known->min;
      signature.tensor.max = known->max;
      for (const json& d : spec["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < -1 || d.get<int64_t>() > (1 << 24)) {
          return InvalidArgument(
              fmt::format("the signature's tensor shape {} is not a list of sizes (-1 for any)",
                          Brief(spec["shape"])));
        }
        signature.tensor.shape.push_back(d.get<int64_t>());
      }
      return signature;
    }
    const auto* known = std::find_if(std::begin(kTypes), std::end(kTypes),
                                     [&](const TypeInfo& t) { return t.name == type; });
    if (known == std::end(kTypes)) {
      return InvalidArgument(fmt::format(
          "signature column {} has type '{}', which the model server does not serve; supported: "
          "double, float, long, integer, boolean, string, binary, datetime",
          entry.contains("name") ? Brief(entry["name"]) : std::to_string(i), type));
    }
    if (!entry.contains("name") || !entry["name"].is_string()) {
      return InvalidArgument(
          fmt::format("signature column {} has no name; the model server needs named columns", i));
    }
    ColumnSpec column;
    column.name = entry["name"].get<std::string>();
    column.type = known->type;
    if (auto required = entry.find("required"); required != entry.end() && required->is_boolean()) {
      column.required = required->get<bool>();
    }
    for (const ColumnSpec& other : signature.columns) {
      if (other.name == column.name) {
        return InvalidArgument(fmt::format("the signature names column '{}' twice", column.name));
      }
    }
    signature.columns.push_back(std::move(column));
  }
  signature.kind = ModelSignature::Kind::kColumns;
  return signature;
}

}  // namespace somlier::serving
