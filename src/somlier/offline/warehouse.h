// Warehouse: where `offline predict` reads a day's feature rows and writes their predictions —
// a SQL database reached by URL, behind one interface with an implementation per engine:
//
//   sqlite:///PATH        PATH holds bare tables; `dataset.table` is table `table` of the
//                         file DATASET.db in the directory named after PATH
//                         (offline/sqlite_warehouse.h)
//   postgresql://...      `dataset.table` is schema.table (postgres:// also accepted)
//   bigquery://PROJECT    BigQuery's REST API (offline/bigquery_warehouse.h)
//
// Reading streams a query's rows in chunks (memory stays flat however many rows match).
// Writing replaces one inference date's rows of a destination table atomically: a writer
// deletes the date's rows and appends the new ones in one transaction (or, on BigQuery, a
// staging table swapped in by one multi-statement transaction), and nothing of it is visible
// until Commit() — a writer destroyed (or a process killed) before that leaves the previous
// rows as they were. Names reach SQL only as quoted identifiers (batch/table_ref.h checks
// them first); values are always bound.
//
// Ownership and threads: a Warehouse is used by one thread at a time, except that one reader
// and one writer it made may each be driven from its own thread (they hold their own
// connections). Readers and writers must not outlive their warehouse.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "somlier/batch/table_ref.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/store/database.h"

namespace somlier::offline {

// The column types a warehouse reports and creates, whatever its engine calls them.
enum class ColumnType { kInteger, kReal, kBoolean, kText, kBytes, kDate, kTimestamp };
std::string_view ColumnTypeName(ColumnType type);

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
};

// Rows, row-major: cells[row * columns + column]. Booleans are 0/1 integers, dates
// "YYYY-MM-DD" and timestamps ISO 8601 text, bytes a SqlBlob.
struct RowChunk {
  size_t rows = 0;
  std::vector<SqlValue> cells;
};

// A chunk ends early once its values take this much memory (wide rows, long texts), so a
// pipeline's chunks in flight stay bounded whatever the table holds.
inline constexpr size_t kChunkBytes = size_t{64} << 20;

// What a value takes in a chunk, about.
inline size_t CellBytes(const SqlValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return sizeof(SqlValue) + s->size();
  if (auto* b = std::get_if<SqlBlob>(&v)) return sizeof(SqlValue) + b->bytes.size();
  return sizeof(SqlValue);
}

class RowReader {
 public:
  virtual ~RowReader() = default;
  virtual const std::vector<Column>& columns() const = 0;
  // Replaces `chunk` with up to `max_rows` next rows (fewer once they take kChunkBytes); 0
  // rows means the end.
  virtual Status Next(size_t max_rows, RowChunk& chunk) = 0;
};

class TableWriter {
 public:
  virtual ~TableWriter() = default;  // without Commit(): nothing is changed
  // Appends rows of the replacement's varying columns (all but the constant ones), in order.
  virtual Status Append(const RowChunk& chunk) = 0;
  // Makes the replacement visible at once. Errors: those of the engine.
  virtual Status Commit() = 0;
};

// What a writer replaces: `date`'s rows (where `date_column` equals it) of `table`, created
// with `columns` when missing; an existing table must have every one of them (by name). The
// last constants.size() columns hold the same values on every row (the model, the date...):
// they are given once, here, and not in each appended row.
struct Replacement {
  batch::TableRef table;
  std::vector<Column> columns;
  std::vector<SqlValue> constants;
  std::string date_column;
  std::string date;  // YYYY-MM-DD

  size_t varying() const { return columns.size() - constants.size(); }
};

class Warehouse {
 public:
  virtual ~Warehouse() = default;

  // The URL as shown in messages (credentials removed).
  virtual std::string name() const = 0;

  // The rows of `table` whose `column` equals `date` (YYYY-MM-DD; a DATE column, or text
  // holding dates). Errors: NotFound for a missing table or column; Unavailable when the
  // warehouse cannot be reached; InvalidArgument for a reference the engine cannot name.
  virtual Result<std::unique_ptr<RowReader>> Select(const batch::TableRef& table,
                                                    const std::string& column,
                                                    const std::string& date) = 0;

  // Called once before a run reads `source` and writes `destination` (the SQLite warehouse
  // puts one file that is both into WAL mode before anything holds it). Default: nothing.
  virtual Status Prepare(const batch::TableRef& source, const batch::TableRef& destination) {
    (void)source;
    (void)destination;
    return OkStatus();
  }

  // How many rows Select would give (for a progress bar).
  virtual Result<int64_t> Count(const batch::TableRef& table, const std::string& column,
                                const std::string& date) = 0;

  // Deletes `date`'s rows of `table` (where `date_column` equals it) in one transaction;
  // nothing when the table does not exist. What a day without input rows does to its earlier
  // predictions.
  virtual Status DeleteDate(const batch::TableRef& table, const std::string& date_column,
                            const std::string& date) = 0;

  // Starts a replacement (see Replacement). Errors: FailedPrecondition when an existing table
  // lacks a column, naming them; those of the engine.
  virtual Result<std::unique_ptr<TableWriter>> Replace(const Replacement& replacement) = 0;
};

// FailedPrecondition unless `existing` (an existing table's column names) has every column
// of the replacement; names the missing ones.
Status CheckHasColumns(const Replacement& replacement, const std::vector<std::string>& existing,
                       const std::string& warehouse);

// Opens the warehouse `url` names. Errors: InvalidArgument for another scheme or a malformed
// URL (naming what is accepted); Unavailable when it cannot be reached.
Result<std::unique_ptr<Warehouse>> OpenWarehouse(const std::string& url, const Environment& env);

// The default warehouse: sqlite:///$SOMLIER_HOME/warehouse.db.
std::string DefaultWarehouseUrl(const std::string& somlier_home);

}  // namespace somlier::offline
