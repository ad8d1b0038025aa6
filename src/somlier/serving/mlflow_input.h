// MLflow's scoring input forms, parsed into a RequestTable (serving/request_table.h):
//
//   application/json  {"dataframe_split": {"columns"?: [...], "data": [[...], ...]}}
//                     {"dataframe_records": [{"col": v, ...}, ...]}
//                     {"instances": [[...], ...] | [{"col": v}, ...] | [v, ...]}
//                     {"inputs": the same as instances | {"col": [v, ...], ...}}
//   text/csv          a header line of column names, then one line per row
//
// A flat list of values is one column; a row's values may be nested lists (a tensor model's
// rows). Rows must all have the same number of values. Types are not checked here: that is
// serving/model_input.h's job, against the model's signature. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "somlier/core/result.h"
#include "somlier/serving/request_table.h"

namespace somlier::serving {

// The largest body a request may have unless the server is told otherwise.
inline constexpr size_t kDefaultMaxBodyBytes = 32u << 20;

// Errors: InvalidArgument describing what is wrong (and where: row, column) — an empty body,
// malformed JSON or CSV, no or several input fields, ragged rows, no rows.
Result<RequestTable> ParseInvocationsInput(std::string_view content_type, std::string_view body);

}  // namespace somlier::serving
