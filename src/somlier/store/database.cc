#include "somlier/store/database.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "somlier/core/log.h"
#include "somlier/core/url.h"
#include "somlier/store/postgres/postgres_connection.h"
#include "somlier/store/sqlite/sqlite_connection.h"

namespace somlier {

bool IsNull(const SqlValue& v) { return std::holds_alternative<std::monostate>(v); }

int64_t AsInt(const SqlValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) return std::strtoll(s->c_str(), nullptr, 10);
  return 0;
}

double AsDouble(const SqlValue& v) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* s = std::get_if<std::string>(&v)) return std::strtod(s->c_str(), nullptr);
  return 0.0;
}

std::string AsText(const SqlValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (auto* b = std::get_if<SqlBlob>(&v)) return b->bytes;
  return std::string();
}

Result<std::unique_ptr<Database>> Database::Open(std::string_view url, int max_connections) {
  std::unique_ptr<Database> db;
  if (url.starts_with("sqlite://")) {
    SOMLIER_ASSIGN_OR_RETURN(SqliteOptions options, ParseSqliteUrl(url));
    db = std::make_unique<Database>(
        Dialect::kSqlite, [options] { return OpenSqliteConnection(options); }, max_connections);
  } else if (url.starts_with("postgresql://") || url.starts_with("postgres://") ||
             url.starts_with("postgresql+")) {
    std::string conninfo = NormalizePostgresUrl(url);
    db = std::make_unique<Database>(
        Dialect::kPostgres, [conninfo] { return OpenPostgresConnection(conninfo); },
        max_connections);
  } else {
    return InvalidArgument(fmt::format(
        "database URL '{}' is not supported: expected sqlite:///PATH or postgresql://...",
        RedactUrlPassword(url)));
  }
  // Fail now, not at the first query, when the database cannot be reached.
  SOMLIER_ASSIGN_OR_RETURN(auto first, db->Acquire());
  db->Release(std::move(first));
  return db;
}

Database::Database(Dialect dialect, ConnectionFactory factory, int max_connections)
    : dialect_(dialect), factory_(std::move(factory)), max_connections_(max_connections) {}

Database::~Database() = default;

Result<std::unique_ptr<Connection>> Database::Acquire() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_connections_; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }
  ++open_;
  lock.unlock();
  auto created = factory_();
  if (!created.ok()) {
    lock.lock();
    --open_;
    pool_cv_.notify_one();
  }
  return created;
}

void Database::Release(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (connection->healthy()) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  pool_cv_.notify_one();
}

Status Database::RunOnce(Connection& connection, bool write,
                         const std::function<Status(Connection&)>& fn) {
  const char* begin = "BEGIN";
  if (dialect_ == Dialect::kSqlite && write) begin = "BEGIN IMMEDIATE";
  if (dialect_ == Dialect::kPostgres && !write) {
    begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  }
  SOMLIER_RETURN_IF_ERROR(connection.ExecuteScript(begin));
  Status status = fn(connection);
  if (status.ok()) status = connection.ExecuteScript("COMMIT");
  if (!status.ok() && connection.healthy()) {
    // Best effort: a failed COMMIT has already ended the transaction.
    (void)connection.ExecuteScript("ROLLBACK");
  }
  return status;
}

Status Database::Transaction(bool write, const std::function<Status(Connection&)>& fn) {
  constexpr int kMaxAttempts = 5;
  Status status;
  if (dialect_ == Dialect::kSqlite && write) {
    std::lock_guard<std::mutex> lock(sqlite_write_mu_);
    if (sqlite_writer_ == nullptr) {
      SOMLIER_ASSIGN_OR_RETURN(sqlite_writer_, factory_());
    }
    return RunOnce(*sqlite_writer_, write, fn);  // SQLite already waited out its busy timeout
  }
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, Acquire());
    status = RunOnce(*connection, write, fn);
    Release(std::move(connection));
    // PostgreSQL serialization failures, deadlocks and dropped connections are worth
    // another attempt.
    if (status.code() != StatusCode::kUnavailable || dialect_ != Dialect::kPostgres) break;
    if (attempt < kMaxAttempts) {
      LogDebug("retrying transaction after: {}", status.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt * attempt));
    }
  }
  return status;
}

}  // namespace somlier
