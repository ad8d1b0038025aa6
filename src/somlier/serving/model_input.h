// ModelInput: one request's rows as the model will get them — typed, columnar, and checked
// (serving/schema_check.h makes it from a request) — and how requests join into a batch for
// one round trip to a Python worker (serving/python_worker.h sends it).
//
// Two layouts:
//   frame   one TypedColumn per column of the model's column signature, in its order; the
//           worker builds a pandas DataFrame with MLflow's dtypes (long -> int64, integer ->
//           int32, double -> float64, float -> float32, boolean -> bool, string/binary ->
//           object, datetime -> datetime64[ns]; an optional long/integer/boolean column with
//           missing values -> pandas' nullable Int64/Int32/boolean).
//   tensor  one TypedColumn holding rows x row_shape values; the worker reshapes it to
//           [rows, *row_shape] with `dtype`. A model without a signature gets a float64
//           matrix [rows, features] this way, with its column names when the request gave
//           them (the fast path: no per-value type dispatch in C++ or Python).
// Values only; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "somlier/serving/model_signature.h"

namespace somlier::serving {

struct TypedColumn {
  std::string name;
  ValueType type = ValueType::kDouble;
  bool nullable = false;  // a missing-value mask travels with the values
  // WireWidth(type) little-endian bytes per value (datetime: int64 nanoseconds since the
  // epoch, UTC; missing: INT64_MIN, pandas' NaT); for string and binary (base64) values,
  // their JSON texts joined by commas (null for a missing value).
  std::string data;
  std::string nulls;  // nullable: one byte per row, 1 where the value is missing
};

struct ModelInput {
  size_t rows = 0;
  bool tensor = false;
  std::vector<TypedColumn> columns;  // frame: one per column; tensor: exactly one
  std::vector<int64_t> row_shape;    // tensor: the shape of one row
  std::string dtype;                 // tensor: the numpy dtype the model gets
  std::vector<std::string> names;    // tensor of shape [features]: the columns' names, or none

  // Whether `other` can join this input in one batch (the same layout, columns and types).
  bool SameLayout(const ModelInput& other) const;
  // Appends `other`'s rows; requires SameLayout(other).
  void Append(const ModelInput& other);
  size_t bytes() const;
};

}  // namespace somlier::serving
