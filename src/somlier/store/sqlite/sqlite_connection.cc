#include "somlier/store/sqlite/sqlite_connection.h"

#include <fmt/core.h>
#include <sqlite3.h>

#include <filesystem>
#include <unordered_map>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

Status MapError(sqlite3* db, int rc, std::string_view what) {
  std::string message =
      fmt::format("sqlite: {}: {}", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return AlreadyExists(std::move(message));
      }
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return FailedPrecondition(std::move(message));
      return InvalidArgument(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  ~SqliteConnection() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Result<QueryResult> Execute(std::string_view sql, std::span<const SqlValue> params) override {
    SOMLIER_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    // Reset on every exit path so the statement releases its read lock.
    struct Resetter {
      sqlite3_stmt* s;
      ~Resetter() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } resetter{stmt};

    const int expected = sqlite3_bind_parameter_count(stmt);
    if (expected != static_cast<int>(params.size())) {
      return Internal(fmt::format("sqlite: statement expects {} parameters, got {}: {}", expected,
                                  params.size(), sql));
    }
    for (int i = 0; i < expected; ++i) {
      const SqlValue& v = params[static_cast<size_t>(i)];
      int rc = SQLITE_OK;
      if (auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, i + 1, *n);
      } else if (auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, i + 1, *d);
      } else if (auto* s = std::get_if<std::string>(&v)) {
        // The caller's values outlive the statement's use (reset on every exit path).
        rc = sqlite3_bind_text(stmt, i + 1, s->data(), static_cast<int>(s->size()), SQLITE_STATIC);
      } else if (auto* b = std::get_if<SqlBlob>(&v)) {
        rc = sqlite3_bind_blob(stmt, i + 1, b->bytes.data(), static_cast<int>(b->bytes.size()),
                               SQLITE_STATIC);
      } else {
        rc = sqlite3_bind_null(stmt, i + 1);
      }
      if (rc != SQLITE_OK) return MapError(db_, rc, "bind");
    }

    QueryResult result;
    const int columns = sqlite3_column_count(stmt);
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return MapError(db_, sqlite3_extended_errcode(db_), "step");
      SqlRow row;
      row.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER:
            row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            row.emplace_back(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_BLOB: {
            const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, c));
            row.emplace_back(SqlBlob{
                std::string(data ? data : "", static_cast<size_t>(sqlite3_column_bytes(stmt, c)))});
            break;
          }
          default: {
            const auto* text = sqlite3_column_text(stmt, c);
            row.emplace_back(std::string(reinterpret_cast<const char*>(text),
                                         static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
          }
        }
      }
      result.rows.push_back(std::move(row));
    }
    result.affected_rows = sqlite3_changes64(db_);
    return result;
  }

  Status ExecuteScript(std::string_view sql) override {
    std::string text(sql);
    char* error = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errstr(rc);
      sqlite3_free(error);
      Status mapped = MapError(nullptr, sqlite3_extended_errcode(db_), "exec");
      return Status(mapped.code(), fmt::format("sqlite: {}", message));
    }
    return OkStatus();
  }

  bool healthy() const override { return true; }

 private:
  Result<sqlite3_stmt*> Prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = statements_.find(key); it != statements_.end()) return it->second;
    if (statements_.size() >= 512) {  // bound the cache; generated SQL varies by shape
      for (auto& [s, stmt] : statements_) sqlite3_finalize(stmt);
      statements_.clear();
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return MapError(db_, rc, fmt::format("prepare '{}'", key));
    }
    statements_.emplace(std::move(key), stmt);
    return stmt;
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace

Result<SqliteOptions> ParseSqliteUrl(std::string_view url) {
  constexpr std::string_view kPrefix = "sqlite:///";
  if (!url.starts_with(kPrefix)) {
    return InvalidArgument(fmt::format(
        "SQLite URL '{}' must look like sqlite:///relative.db or sqlite:////absolute/path.db",
        url));
  }
  std::string_view rest = url.substr(kPrefix.size());
  SqliteOptions options;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    while (!query.empty()) {
      auto amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      auto eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value = ToUpper(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      if (key == "synchronous" && (value == "FULL" || value == "NORMAL" || value == "EXTRA")) {
        options.synchronous = value;
      } else {
        return InvalidArgument(fmt::format(
            "SQLite URL option '{}' is not supported (expected synchronous=full|normal|extra)",
            std::string(pair)));
      }
    }
  }
  if (rest.empty()) return InvalidArgument(fmt::format("SQLite URL '{}' names no file", url));
  options.path = std::string(rest);
  return options;
}

Result<std::unique_ptr<Connection>> OpenSqliteConnection(const SqliteOptions& options) {
  std::filesystem::path path(options.path);
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return Unavailable(fmt::format("cannot create directory '{}' for the database: {}",
                                     path.parent_path().string(), ec.message()));
    }
  }
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Unavailable(fmt::format("cannot open SQLite database '{}': {}", options.path, message));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  auto connection = std::make_unique<SqliteConnection>(db);
  // WAL lets readers proceed while one writer commits; the mode is stored in the file.
  SOMLIER_RETURN_IF_ERROR(
      connection
          ->ExecuteScript(
              fmt::format("PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA foreign_keys=ON; "
                          "PRAGMA case_sensitive_like=ON; PRAGMA mmap_size=1073741824; "
                          "PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;",
                          options.synchronous))
          .WithContext(fmt::format("opening '{}'", options.path)));
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace somlier
