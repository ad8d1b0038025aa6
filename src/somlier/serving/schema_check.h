// Schema checks: a request's table (serving/request_table.h) checked against what the model
// expects and converted into the ModelInput its worker gets (serving/model_input.h) — all
// before any of it reaches Python, so bad input is a 400 naming the row, the column, the
// expected type and the value, and never costs a worker.
//
// With a column signature, following MLflow's pyfunc schema enforcement:
//   - columns are matched by name (the request's order does not matter); a request without
//     names gives the signature's columns in order; columns the signature does not know are
//     ignored; a missing required column is an error; a missing optional one is all missing.
//   - conversions are only the lossless ones:
//       double   any JSON number; null -> NaN            float  any number in float's range
//       long     a whole number (3 or 3.0) in range      integer the same, in int32's range
//       boolean  true / false (CSV: true/false in any case)
//       string   a JSON string (CSV: the cell's text)    binary a base64 string
//       datetime an ISO 8601 date or date-time string, with an optional Z or +hh:mm offset
//     refused: strings for numbers, numbers for strings, booleans for numbers and numbers for
//     booleans, 3.5 for a long, and null for a required long, integer or boolean column
//     (integer columns cannot hold missing values: declare such a column double or optional).
//   - KServe V2 inputs: each column's datatype must be of the column's kind (BYTES for
//     string, binary and datetime; BOOL for boolean; a numeric type for numbers).
// With a tensor signature: the request's rows must have the tensor's shape without its first
// dimension (nested, or flat with as many values: a flat row is reshaped, as MLflow does);
// values convert to the tensor's dtype by the same rules.
// Without a signature: rows of numbers (booleans count as 0/1, null as NaN) become a float64
// matrix, put in the order of the feature names the model was fitted with when both sides
// have names, and checked against its number of features.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/serving/model_input.h"
#include "somlier/serving/model_signature.h"
#include "somlier/serving/request_table.h"

namespace somlier::serving {

// What a model expects: its MLmodel signature, and what its worker reports — the feature
// names it was fitted with (may be empty) and the number of features (-1 when unknown).
struct ModelSchema {
  ModelSignature signature;
  std::vector<std::string> feature_names;
  int64_t n_features = -1;
};

// Errors: InvalidArgument as described above.
Result<ModelInput> ConformToSchema(const RequestTable& table, const ModelSchema& schema);

}  // namespace somlier::serving
