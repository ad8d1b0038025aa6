#include "somlier/offline/sqlite_warehouse.h"

#include <fmt/core.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "somlier/core/strings.h"

namespace somlier::offline {
namespace {

namespace fs = std::filesystem;
using batch::QuoteIdentifier;
using batch::TableRef;

std::string Quote(std::string_view name) { return QuoteIdentifier(name, false); }

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A declared column type read by SQLite's affinity rules (and the names of dates).
ColumnType FromDeclared(const char* declared) {
  const std::string t = Lower(declared ? declared : "");
  if (t.find("bool") != std::string::npos) return ColumnType::kBoolean;
  if (t.find("int") != std::string::npos) return ColumnType::kInteger;
  if (t.find("timestamp") != std::string::npos || t.find("datetime") != std::string::npos) {
    return ColumnType::kTimestamp;
  }
  if (t.find("date") != std::string::npos) return ColumnType::kDate;
  if (t.find("char") != std::string::npos || t.find("clob") != std::string::npos ||
      t.find("text") != std::string::npos) {
    return ColumnType::kText;
  }
  if (t.find("blob") != std::string::npos) return ColumnType::kBytes;
  if (t.empty()) return ColumnType::kText;
  return ColumnType::kReal;  // REAL, FLOAT, DOUBLE, NUMERIC, DECIMAL
}

std::string_view Declared(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBytes:
      return "BLOB";
    // Dates are ISO text: a plain DATE or TIMESTAMP column has NUMERIC affinity, so SQLite
    // would try every value as a number first; with TEXT in the name it takes text as is.
    case ColumnType::kDate:
      return "DATE TEXT";
    case ColumnType::kTimestamp:
      return "TIMESTAMP TEXT";
  }
  return "TEXT";
}

// One connection: the main database and the datasets attached to it.
class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() {
    for (sqlite3_stmt* s : statements_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }

  Status Open(const fs::path& path, bool create) {
    // One thread uses a connection at a time (see the header): no per-call mutex.
    const int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      return Unavailable(fmt::format("cannot open the warehouse database '{}': {}", path.string(),
                                     db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db_, 30000);
    // A double-quoted name that is no column must be an error, not a string literal.
    sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
    return Exec("PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY");
  }

  Status Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      Status status = Error(error ? error : sqlite3_errmsg(db_), sql);
      sqlite3_free(error);
      return status;
    }
    return OkStatus();
  }

  // The statement stays valid as long as this connection.
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) !=
        SQLITE_OK) {
      return Error(sqlite3_errmsg(db_), sql);
    }
    statements_.push_back(stmt);
    return stmt;
  }

  // A statement's failure: missing tables and columns are NotFound, a busy database
  // Unavailable, anything else Internal; with what was being run.
  Status Error(std::string_view message, std::string_view sql) {
    std::string text = fmt::format("sqlite warehouse: {} (in: {})", message, sql);
    if (message.starts_with("no such table") || message.starts_with("no such column")) {
      return NotFound(std::move(text));
    }
    const int rc = db_ ? sqlite3_errcode(db_) : SQLITE_ERROR;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Unavailable(std::move(text));
    return Internal(std::move(text));
  }

  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
};

Status Bind(sqlite3_stmt* stmt, int index, const SqlValue& v) {
  int rc;
  if (auto* n = std::get_if<int64_t>(&v)) {
    rc = sqlite3_bind_int64(stmt, index, *n);
  } else if (auto* d = std::get_if<double>(&v)) {
    rc = sqlite3_bind_double(stmt, index, *d);
  } else if (auto* s = std::get_if<std::string>(&v)) {
    rc = sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()), SQLITE_STATIC);
  } else if (auto* b = std::get_if<SqlBlob>(&v)) {
    rc = sqlite3_bind_blob(stmt, index, b->bytes.data(), static_cast<int>(b->bytes.size()),
                           SQLITE_STATIC);
  } else {
    rc = sqlite3_bind_null(stmt, index);
  }
  return rc == SQLITE_OK ? OkStatus() : Internal(fmt::format("sqlite warehouse: bind: {}", rc));
}

SqlValue Read(sqlite3_stmt* stmt, int column) {
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, column);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, column);
    case SQLITE_TEXT:
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, column)),
                         static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
    case SQLITE_BLOB: {
      const void* data = sqlite3_column_blob(stmt, column);
      return SqlBlob{std::string(static_cast<const char*>(data),
                                 static_cast<size_t>(sqlite3_column_bytes(stmt, column)))};
    }
    default:
      return std::monostate{};
  }
}

class SqliteReader final : public RowReader {
 public:
  SqliteReader(std::unique_ptr<Db> db, sqlite3_stmt* stmt, std::vector<Column> columns)
      : db_(std::move(db)), stmt_(stmt), columns_(std::move(columns)) {}

  const std::vector<Column>& columns() const override { return columns_; }

  Status Next(size_t max_rows, RowChunk& chunk) override {
    chunk.rows = 0;
    chunk.cells.clear();
    const int n = static_cast<int>(columns_.size());
    chunk.cells.reserve(std::min(max_rows * columns_.size(), kChunkBytes / sizeof(SqlValue)));
    size_t bytes = 0;
    while (!done_ && chunk.rows < max_rows && bytes < kChunkBytes) {
      const int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_DONE) {
        done_ = true;
        sqlite3_reset(stmt_);  // releases the read snapshot
        break;
      }
      if (rc != SQLITE_ROW) return db_->Error(sqlite3_errmsg(db_->get()), "SELECT (reading rows)");
      for (int c = 0; c < n; ++c) {
        chunk.cells.push_back(Read(stmt_, c));
        bytes += CellBytes(chunk.cells.back());
      }
      ++chunk.rows;
    }
    return OkStatus();
  }

 private:
  std::unique_ptr<Db> db_;
  sqlite3_stmt* stmt_;
  std::vector<Column> columns_;
  bool done_ = false;
};

class SqliteWriter final : public TableWriter {
 public:
  // `created`: the file this writer made, removed again unless it commits.
  SqliteWriter(std::unique_ptr<Db> db, size_t varying, fs::path created)
      : db_(std::move(db)), columns_(varying), created_(std::move(created)) {}
  ~SqliteWriter() override {
    if (committed_) return;
    (void)db_->Exec("ROLLBACK");
    db_.reset();
    if (!created_.empty()) {
      std::error_code ec;
      for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
        fs::remove(created_.string() + suffix, ec);
      }
    }
  }

  Db* db() const { return db_.get(); }

  // Two INSERTs: many rows at once (fewer trips through the VM), and one. Each row's varying
  // values are numbered parameters ?1.. in order; the constants' parameters follow them and
  // are bound once, shared by every row (bindings survive sqlite3_reset).
  Status Prepare(const std::string& table, const Replacement& r) {
    std::vector<std::string> names;
    for (const Column& c : r.columns) names.push_back(Quote(c.name));
    const std::string head = fmt::format("INSERT INTO {} ({}) VALUES ", table, Join(names, ","));
    constants_ = r.constants;  // bound with SQLITE_STATIC: they live as long as the statements
    many_rows_ = std::max<size_t>(1, std::min<size_t>(64, 30000 / std::max<size_t>(1, columns_)));
    for (size_t rows : {many_rows_, size_t{1}}) {
      std::string sql = head;
      const size_t first_constant = rows * columns_ + 1;
      for (size_t row = 0; row < rows; ++row) {
        sql += row ? ",(" : "(";
        for (size_t c = 0; c < r.columns.size(); ++c) {
          const size_t number =
              c < columns_ ? row * columns_ + c + 1 : first_constant + (c - columns_);
          sql += fmt::format("{}?{}", c ? "," : "", number);
        }
        sql += ")";
      }
      SOMLIER_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, db_->Prepare(sql));
      for (size_t k = 0; k < constants_.size(); ++k) {
        SOMLIER_RETURN_IF_ERROR(Bind(stmt, static_cast<int>(first_constant + k), constants_[k]));
      }
      (rows == 1 ? one_ : many_) = stmt;
    }
    return OkStatus();
  }

  Status Append(const RowChunk& chunk) override {
    size_t row = 0;
    while (row < chunk.rows) {
      const bool batch = chunk.rows - row >= many_rows_;
      sqlite3_stmt* stmt = batch ? many_ : one_;
      const size_t rows = batch ? many_rows_ : 1;
      const SqlValue* cells = chunk.cells.data() + row * columns_;
      for (size_t i = 0; i < rows * columns_; ++i) {
        SOMLIER_RETURN_IF_ERROR(Bind(stmt, static_cast<int>(i + 1), cells[i]));
      }
      const int rc = sqlite3_step(stmt);
      sqlite3_reset(stmt);
      if (rc != SQLITE_DONE) return db_->Error(sqlite3_errmsg(db_->get()), "INSERT");
      row += rows;
    }
    return OkStatus();
  }

  Status Commit() override {
    SOMLIER_RETURN_IF_ERROR(db_->Exec("COMMIT"));
    committed_ = true;
    return OkStatus();
  }

 private:
  std::unique_ptr<Db> db_;
  size_t columns_;
  size_t many_rows_ = 1;
  sqlite3_stmt* many_ = nullptr;
  sqlite3_stmt* one_ = nullptr;
  std::vector<SqlValue> constants_;
  fs::path created_;
  bool committed_ = false;
};

class SqliteWarehouse final : public Warehouse {
 public:
  SqliteWarehouse(std::string url, fs::path main) : url_(std::move(url)), main_(std::move(main)) {}

  std::string name() const override { return url_; }

  // One file read and written at once goes to WAL first, before any reader holds it: there
  // the reader does not block the writer (a rollback journal would make the writer wait for
  // the reader, and the reader for the writer). Other files keep their journal mode.
  Status Prepare(const TableRef& source, const TableRef& destination) override {
    if (File(source) != File(destination)) return OkStatus();
    std::error_code ec;
    fs::create_directories(File(destination).parent_path(), ec);
    Db db;
    SOMLIER_RETURN_IF_ERROR(db.Open(File(destination), true));
    return db.Exec("PRAGMA main.journal_mode=WAL");
  }

  Result<std::unique_ptr<RowReader>> Select(const TableRef& table, const std::string& column,
                                            const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(auto db, Connect(table, false));
    SOMLIER_ASSIGN_OR_RETURN(
        sqlite3_stmt * stmt,
        db->Prepare(fmt::format("SELECT * FROM {} WHERE {} = ?", Name(table), Quote(column))));
    sqlite3_bind_text(stmt, 1, date.data(), static_cast<int>(date.size()), SQLITE_TRANSIENT);
    std::vector<Column> columns;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      columns.push_back(
          {sqlite3_column_name(stmt, c), FromDeclared(sqlite3_column_decltype(stmt, c))});
    }
    return std::unique_ptr<RowReader>(
        std::make_unique<SqliteReader>(std::move(db), stmt, std::move(columns)));
  }

  Result<int64_t> Count(const TableRef& table, const std::string& column,
                        const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(auto db, Connect(table, false));
    SOMLIER_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                             db->Prepare(fmt::format("SELECT count(*) FROM {} WHERE {} = ?",
                                                     Name(table), Quote(column))));
    sqlite3_bind_text(stmt, 1, date.data(), static_cast<int>(date.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) != SQLITE_ROW) return db->Error(sqlite3_errmsg(db->get()), "count");
    return sqlite3_column_int64(stmt, 0);
  }

  Status DeleteDate(const TableRef& table, const std::string& date_column,
                    const std::string& date) override {
    std::error_code ec;
    if (!fs::exists(File(table), ec)) return OkStatus();
    SOMLIER_ASSIGN_OR_RETURN(auto db, Connect(table, false));
    SOMLIER_ASSIGN_OR_RETURN(sqlite3_stmt * info,
                             db->Prepare("SELECT count(*) FROM main.pragma_table_info(?)"));
    sqlite3_bind_text(info, 1, table.table.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(info) != SQLITE_ROW || sqlite3_column_int64(info, 0) == 0) {
      return OkStatus();  // no such table
    }
    sqlite3_reset(info);
    SOMLIER_ASSIGN_OR_RETURN(
        sqlite3_stmt * del,
        db->Prepare(fmt::format("DELETE FROM {} WHERE {} = ?", Name(table), Quote(date_column))));
    sqlite3_bind_text(del, 1, date.data(), static_cast<int>(date.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(del) != SQLITE_DONE) return db->Error(sqlite3_errmsg(db->get()), "DELETE");
    return OkStatus();
  }

  Result<std::unique_ptr<TableWriter>> Replace(const Replacement& r) override {
    bool created = false;
    SOMLIER_ASSIGN_OR_RETURN(auto db, Connect(r.table, true, &created));
    const std::string schema = "main";
    // The journal mode is the file's (see Prepare); either way a commit is durable.
    SOMLIER_RETURN_IF_ERROR(db->Exec("PRAGMA main.synchronous=FULL"));
    auto writer = std::make_unique<SqliteWriter>(std::move(db), r.varying(),
                                                 created ? File(r.table) : fs::path());
    SOMLIER_RETURN_IF_ERROR(writer->db()->Exec("BEGIN IMMEDIATE"));
    Db& conn = *writer->db();
    const std::string table = Name(r.table);

    // The table's columns, if it exists.
    SOMLIER_ASSIGN_OR_RETURN(
        sqlite3_stmt * info,
        conn.Prepare(fmt::format("SELECT name FROM {}.pragma_table_info(?)", schema)));
    sqlite3_bind_text(info, 1, r.table.table.c_str(), -1, SQLITE_TRANSIENT);
    std::vector<std::string> existing;
    while (sqlite3_step(info) == SQLITE_ROW) {
      existing.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(info, 0)));
    }
    sqlite3_reset(info);
    if (existing.empty()) {
      std::vector<std::string> definitions;
      for (const Column& c : r.columns) {
        definitions.push_back(fmt::format("{} {}", Quote(c.name), Declared(c.type)));
      }
      SOMLIER_RETURN_IF_ERROR(
          conn.Exec(fmt::format("CREATE TABLE {} ({})", table, Join(definitions, ", "))));
    } else {
      SOMLIER_RETURN_IF_ERROR(CheckHasColumns(r, existing, url_));
    }
    SOMLIER_ASSIGN_OR_RETURN(
        sqlite3_stmt * del,
        conn.Prepare(fmt::format("DELETE FROM {} WHERE {} = ?", table, Quote(r.date_column))));
    sqlite3_bind_text(del, 1, r.date.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(del) != SQLITE_DONE) return conn.Error(sqlite3_errmsg(conn.get()), "DELETE");
    sqlite3_reset(del);
    SOMLIER_RETURN_IF_ERROR(writer->Prepare(table, r));
    return std::unique_ptr<TableWriter>(std::move(writer));
  }

 private:
  // A table as the SQL of its own connection names it: every connection opens the one file
  // holding its table as its main database (no ATTACH: a write transaction then locks that
  // file alone).
  static std::string Name(const TableRef& table) { return "main." + Quote(table.table); }

  // A connection to `table`'s file. Reading: the file must exist. Writing: it is created
  // (and its directory); `created` says whether it was.
  Result<std::unique_ptr<Db>> Connect(const TableRef& table, bool create, bool* created = nullptr) {
    if (!table.project.empty()) {
      return InvalidArgument(fmt::format(
          "table '{}' names a project: only a bigquery:// warehouse has projects ({} holds "
          "[dataset.]table)",
          table.ToString(), url_));
    }
    const fs::path file = File(table);
    std::error_code ec;
    const bool exists = fs::exists(file, ec);
    if (!create && !exists) {
      return NotFound(table.dataset.empty()
                          ? fmt::format("the warehouse database '{}' does not exist", file.string())
                          : fmt::format("dataset '{}' does not exist (no database file '{}')",
                                        table.dataset, file.string()));
    }
    if (create) fs::create_directories(file.parent_path(), ec);
    if (created) *created = !exists;
    auto db = std::make_unique<Db>();
    SOMLIER_RETURN_IF_ERROR(db->Open(file, create));
    return db;
  }

  // The database file holding `table`: the warehouse's own for a bare table; for
  // `dataset.table`, DATASET.db in the directory named after the warehouse's file
  // (warehouse.db -> warehouse/), which holds nothing else — so no dataset name reaches
  // another file beside it (SoMLier's own database, say).
  fs::path File(const TableRef& table) const {
    if (table.dataset.empty()) return main_;
    return main_.parent_path() / main_.stem() / (table.dataset + ".db");
  }

  std::string url_;
  fs::path main_;
};

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenSqliteWarehouse(const std::string& url) {
  constexpr std::string_view kScheme = "sqlite:///";
  if (!url.starts_with(kScheme) || url.size() == kScheme.size() ||
      url.find('?') != std::string::npos) {
    return InvalidArgument(fmt::format(
        "warehouse '{}' is not sqlite:///relative/path.db or sqlite:////absolute/path.db", url));
  }
  fs::path path = fs::absolute(url.substr(kScheme.size()));
  if (path.filename().empty()) {
    return InvalidArgument(fmt::format("warehouse '{}' names a directory, not a file", url));
  }
  return std::unique_ptr<Warehouse>(std::make_unique<SqliteWarehouse>(url, std::move(path)));
}

}  // namespace somlier::offline
