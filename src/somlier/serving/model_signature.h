// ModelSignature: what a model's MLmodel says its input is — a list of typed columns or one
// tensor — in the terms of MLflow's signature format (`signature.inputs` in MLmodel):
//
//   columns  [{"name": "plan", "type": "string", "required": true}, ...]
//            types: double, float, long, integer, boolean, string, binary, datetime
//   tensor   [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 8, 8]}}]
//            dtypes: float64, float32, int64, int32 (int8/int16/uint8/uint16 too), bool
//
// ValueType is the type one value has on its way to the model; the model server converts
// request values to it (serving/schema_check.h) and sends them to the worker as raw
// little-endian arrays (serving/python_worker.h). Pure values and functions; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"

namespace somlier::serving {

enum class ValueType { kDouble, kFloat, kLong, kInteger, kBoolean, kString, kBinary, kDatetime };

// MLflow's name of the type ("double", "long", ...).
std::string_view TypeName(ValueType type);
// The KServe V2 datatype a value of the type travels as: FP64, FP32, INT64, INT32, BOOL, or
// BYTES (strings, base64 binary and ISO 8601 datetimes).
std::string_view V2Datatype(ValueType type);
// Bytes per value in the worker protocol; 0 for the types sent as a JSON list of strings.
size_t WireWidth(ValueType type);

struct ColumnSpec {
  std::string name;
  ValueType type = ValueType::kDouble;
  bool required = true;
};

struct TensorSpec {
  ValueType type = ValueType::kFloat;  // how values travel
  std::string dtype;                   // the numpy dtype the model gets ("float32", "uint8"...)
  std::vector<int64_t> shape;          // as declared, -1 for any size (usually the first)
  // The dtype's range where it is narrower than `type`'s (int8, uint8, float16, ...).
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

struct ModelSignature {
  enum class Kind { kNone, kColumns, kTensor };
  Kind kind = Kind::kNone;
  std::vector<ColumnSpec> columns;  // kColumns
  TensorSpec tensor;                // kTensor

  // "plan (string), tenure_months (long)" or "float32 [-1, 1, 8, 8]", for messages.
  std::string Describe() const;
};

// Reads MLflow's `signature.inputs` (already parsed from its JSON text); null or an empty list
// is no signature. Errors: InvalidArgument naming the entry and what is wrong — an unknown
// type, a column without a name, several tensors (named tensor inputs are not served), or a
// tensor shape that is not a list of integers.
Result<ModelSignature> ParseSignature(const nlohmann::json& inputs);

}  // namespace somlier::serving
