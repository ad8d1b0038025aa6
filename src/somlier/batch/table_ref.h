// TableRef: a warehouse table as `offline create_v2` and `offline predict` name it —
// `[project.]dataset.table` (BigQuery's form; `dataset.table` is a schema and table in
// PostgreSQL, an attached database file and table in SQLite, and a bare `table` the main
// database there) — and a column, both checked against BigQuery's naming rules (the
// strictest of the three) and only ever reaching SQL quoted as identifiers. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier::batch {

struct TableRef {
  std::string project;  // empty: the warehouse's own
  std::string dataset;  // empty: a bare table (SQLite's main database)
  std::string table;

  std::string ToString() const;  // as given: [project.]dataset.table
};

// Errors: InvalidArgument naming `what` (DATASET_REF, --destination, ...), the value and the
// rule broken: a project id is 6-30 of [a-z0-9-], starting with a letter and not ending with
// '-'; a dataset 1-1024 of [A-Za-z0-9_]; a table 1-1024 of [A-Za-z0-9_-], not starting with
// '-'. `allow_bare`: a table without a dataset is accepted.
Result<TableRef> ParseTableRef(std::string_view what, std::string_view text, bool allow_bare);

// A column: 1-300 of [A-Za-z0-9_], starting with a letter or '_'. Errors: InvalidArgument.
Status CheckColumnName(std::string_view what, std::string_view column);

// `name` as a quoted SQL identifier: "name" (SQLite, PostgreSQL: '"' doubled) or `name`
// (BigQuery: '`' and '\' escaped). Names are checked first; this is the second line.
std::string QuoteIdentifier(std::string_view name, bool bigquery);

}  // namespace somlier::batch
