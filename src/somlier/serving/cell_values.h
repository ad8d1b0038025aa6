// Cell values: one request value (a JSON value or a CSV cell's text, serving/request_table.h)
// converted to a model's value type (serving/model_signature.h) and appended to a typed
// column (serving/model_input.h), by MLflow's lossless rules — the per-value half of
// serving/schema_check.h, which documents the rules. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/serving/model_input.h"
#include "somlier/serving/model_signature.h"
#include "somlier/serving/request_table.h"

namespace somlier::serving {

// How messages show a cell: its JSON (truncated), or its CSV text in quotes.
std::string ShownCell(const Cell& cell);
// JSON null, or an empty CSV cell.
bool IsMissing(const Cell& cell);
// A number: JSON numbers, or CSV text that is one (surrounding spaces and a '+' allowed).
std::optional<double> CellNumber(const Cell& cell);
std::optional<double> ParseDouble(std::string_view text);
// An ISO 8601 date or date-time: YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|(+|-)HH[:]MM], as
// nanoseconds since the epoch (UTC); nullopt if it is not one or lies outside pandas'
// datetime64[ns] range (1678-2261).
std::optional<int64_t> ParseDatetime(std::string_view text);

// Appends `cell` converted to `type` to `out` (and a null flag when `nullable`). Errors:
// InvalidArgument saying what the value is not ("\"twelve\" is not a long"), without where
// it is: the caller adds the row and column.
Status AppendValue(const Cell& cell, ValueType type, bool nullable, TypedColumn& out);

}  // namespace somlier::serving
