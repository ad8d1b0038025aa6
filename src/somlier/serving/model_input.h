// ModelInput: the rows a prediction request carries, parsed from every input form a model
// server accepts, and checked against what the model expects — all before any of it
// reaches a Python worker, so that bad input is a 400 with a message, never a worker crash.
//
// Accepted (MLflow's scoring protocol and the KServe Open Inference Protocol):
//   application/json  {"dataframe_split": {"columns"?: [...], "data": [[...], ...]}}
//                     {"dataframe_records": [{"col": v, ...}, ...]}
//                     {"instances": [[...], ...] | [{"col": v}, ...] | [v, ...]}
//                     {"inputs": the same as instances | {"col": [v, ...], ...}}
//   text/csv          a header line of column names, then one line per row
//   V2 infer          {"id"?, "inputs": [{"name", "shape": [rows, cols] | [rows],
//                      "datatype", "data": flat or nested}], "outputs"?: [...]}
// Values must be numbers (booleans count as 0/1, null as NaN); a flat list of values is one
// column. Rows must all have the same number of values. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"

namespace somlier::serving {

// A row-major matrix of float64 values, with the column names the request gave (or none).
struct InputMatrix {
  std::vector<std::string> columns;
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> values;  // rows * cols
};

// What a model expects, as its worker reports it: the feature names it was fitted with
// (may be empty) and the number of features (-1 when unknown).
struct ModelSchema {
  std::vector<std::string> feature_names;
  int64_t n_features = -1;
};

// The largest body a request may have unless the server is told otherwise.
inline constexpr size_t kDefaultMaxBodyBytes = 32u << 20;

// Errors: InvalidArgument describing what is wrong (and where: row, column) — empty body,
// malformed JSON or CSV, no or several input fields, ragged rows, non-numeric values.
Result<InputMatrix> ParseInvocationsInput(std::string_view content_type, std::string_view body);

struct V2InferRequest {
  std::string id;
  std::string input_name;
  std::string input_datatype;
  InputMatrix matrix;
};

// Errors: InvalidArgument as above, and for a shape that does not match the data, more than
// one input tensor, or a datatype that is not numeric.
Result<V2InferRequest> ParseV2InferRequest(std::string_view body);

// Puts `input`'s columns in the order the model was fitted with, by name when both sides
// have names, and checks the number of features. Errors: InvalidArgument naming missing
// or unknown columns, or the expected and given feature counts.
Status ConformToSchema(InputMatrix& input, const ModelSchema& schema);

}  // namespace somlier::serving
