// Database: a pool of connections to one SQL database (SQLite or PostgreSQL) and the
// transactions the Store runs on them.
//
// The Store writes its SQL once, with `?` placeholders and a small portable subset (both
// engines accept INSERT ... ON CONFLICT, RETURNING, NULLS LAST, row-value comparisons);
// a Connection implementation is the only code that knows its engine. Values are bound,
// never spliced into SQL text.
//
// Ownership and threads: a Database owns its connections. Transaction() may be called
// from any number of threads at once; each call leases one connection for its duration,
// so a Connection is only ever used by one thread at a time. With SQLite, write
// transactions are serialised by an in-process mutex (and by BEGIN IMMEDIATE with a busy
// timeout across processes), so concurrent writers wait instead of failing with "database
// is locked"; they all use one dedicated writer connection, whose page cache therefore
// stays valid from one write to the next. With PostgreSQL, a write transaction that fails
// with a serialization failure or deadlock is retried a bounded number of times.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

// Bytes stored as a BLOB (SQLite) or BYTEA (PostgreSQL).
struct SqlBlob {
  std::string bytes;
  bool operator==(const SqlBlob&) const = default;
};

// NULL, INTEGER/BIGINT, DOUBLE PRECISION, TEXT or BLOB/BYTEA.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string, SqlBlob>;
using SqlRow = std::vector<SqlValue>;

bool IsNull(const SqlValue& v);
int64_t AsInt(const SqlValue& v);       // NULL -> 0; numeric text is converted
double AsDouble(const SqlValue& v);     // NULL -> 0.0
std::string AsText(const SqlValue& v);  // a blob's bytes

struct QueryResult {
  std::vector<SqlRow> rows;
  int64_t affected_rows = 0;
};

enum class Dialect { kSqlite, kPostgres };

class Connection {
 public:
  virtual ~Connection() = default;

  // Runs one statement, binding `params` to its `?` placeholders in order. Errors: a
  // unique violation is AlreadyExists; a busy or unreachable database is Unavailable;
  // anything else is Internal with the engine's message.
  virtual Result<QueryResult> Execute(std::string_view sql, std::span<const SqlValue> params) = 0;

  // Runs statements without parameters (schema migrations, BEGIN, ...).
  virtual Status ExecuteScript(std::string_view sql) = 0;

  // False once the connection is known to be broken; it is then dropped from the pool.
  virtual bool healthy() const = 0;
};

// Opens one connection of the pool. Implemented by the sqlite/ and postgres/ backends.
using ConnectionFactory = std::function<Result<std::unique_ptr<Connection>>()>;

class Database {
 public:
  // `url`: sqlite:///relative.db, sqlite:////absolute/path.db (SQLite creates the file and
  // its directory; `?synchronous=normal` trades durability on power loss for speed), or
  // postgresql://user:password@host:port/db (also postgres:// and postgresql+driver://).
  // Errors: InvalidArgument for an unsupported scheme; Unavailable when the first
  // connection cannot be made.
  static Result<std::unique_ptr<Database>> Open(std::string_view url, int max_connections = 8);

  Database(Dialect dialect, ConnectionFactory factory, int max_connections);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Dialect dialect() const { return dialect_; }

  // Runs `fn` in one transaction: commits when it returns OK, rolls back otherwise and
  // returns its Status. `write` declares that fn writes (see the class comment).
  Status Transaction(bool write, const std::function<Status(Connection&)>& fn);

 private:
  class Lease;
  Result<std::unique_ptr<Connection>> Acquire();
  void Release(std::unique_ptr<Connection> connection);
  Status RunOnce(Connection& connection, bool write, const std::function<Status(Connection&)>& fn);

  const Dialect dialect_;
  const ConnectionFactory factory_;
  const int max_connections_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections alive (idle + leased)

  std::mutex sqlite_write_mu_;                 // serialises SQLite writers of this process
  std::unique_ptr<Connection> sqlite_writer_;  // guarded by sqlite_write_mu_
};

}  // namespace somlier
