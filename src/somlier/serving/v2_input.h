// The KServe V2 (Open Inference Protocol) inference request, parsed into a RequestTable
// (serving/request_table.h):
//
//   {"id"?, "inputs": [{"name", "shape", "datatype", "data": flat or nested}, ...],
//    "parameters"?, "outputs"?}
//
// One input is a tensor of shape [rows, ...] (or [rows]): its values are row-major cells, and
// its name is a column name only if the model has such a column. Several inputs are one
// column each (shape [rows] or [rows, 1], all with the same rows), named by the input — how a
// model with a column signature is called (BYTES for strings). Datatypes are kept for
// serving/model_input.h to check against the model's columns. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/serving/request_table.h"

namespace somlier::serving {

struct V2InferRequest {
  std::string id;
  RequestTable table;
};

// Errors: InvalidArgument naming the input and what is wrong — a shape that does not match
// the data, an unknown datatype, inputs with different numbers of rows, a name given twice.
Result<V2InferRequest> ParseV2InferRequest(std::string_view body);

}  // namespace somlier::serving
