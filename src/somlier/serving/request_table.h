// RequestTable: the values one prediction request carries, as rows of cells, before any type
// is applied — what the input parsers produce (serving/mlflow_input.h for MLflow's forms and
// CSV, serving/v2_input.h for the KServe V2 protocol) and what serving/model_input.h checks
// against the model's signature and converts.
//
// A cell is a JSON value of the parsed document (a number, string, boolean, null, or a nested
// list for tensor inputs) or the text of a CSV cell. The table owns the parsed document, so
// cells stay valid when the table moves; CSV cells point into the request body, which must
// outlive the table, or into the table's own unescaped copies. Not thread-safe; one request's
// handler owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace somlier::serving {

using RequestJson = nlohmann::ordered_json;

struct Cell {
  const RequestJson* json = nullptr;  // a JSON value, or (when null) ...
  std::string_view text;              // ... the text of a CSV cell ("" is a missing value)
};

struct RequestTable {
  std::shared_ptr<const RequestJson> document;  // what the cells point into
  std::deque<std::string> owned_text;  // CSV values that had to be unescaped (cells view them)
  std::vector<std::string> columns;    // one name per column, or none
  // Names that only apply when the model knows them (a V2 request's single input is named,
  // but that name is usually not a column's): otherwise the columns are positional.
  bool names_optional = false;
  size_t rows = 0;
  size_t cols = 0;
  std::vector<Cell> cells;  // rows * cols, row-major
  // KServe V2 only: each column's declared datatype (one per column), or the one tensor's
  // datatype and declared shape ([rows, ...]).
  std::vector<std::string> datatypes;
  std::vector<int64_t> shape;

  const Cell& at(size_t row, size_t col) const { return cells[row * cols + col]; }
  // "'plan'" or "2": how messages name a column.
  std::string ColumnLabel(size_t col) const {
    return col < columns.size() ? "'" + columns[col] + "'" : std::to_string(col);
  }
};

}  // namespace somlier::serving
