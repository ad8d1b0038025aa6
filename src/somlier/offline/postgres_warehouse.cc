#include "somlier/offline/postgres_warehouse.h"

#include <fmt/core.h>
#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "somlier/core/strings.h"
#include "somlier/core/url.h"
#include "somlier/store/postgres/postgres_connection.h"

namespace somlier::offline {
namespace {

using batch::QuoteIdentifier;
using batch::TableRef;

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700,
              kFloat8 = 701, kNumeric = 1700, kDateOid = 1082, kTimestampOid = 1114,
              kTimestampTz = 1184;

std::string Quote(std::string_view name) { return QuoteIdentifier(name, false); }

ColumnType FromOid(Oid oid) {
  switch (oid) {
    case kBool:
      return ColumnType::kBoolean;
    case kBytea:
      return ColumnType::kBytes;
    case kInt8:
    case kInt2:
    case kInt4:
      return ColumnType::kInteger;
    case kFloat4:
    case kFloat8:
    case kNumeric:
      return ColumnType::kReal;
    case kDateOid:
      return ColumnType::kDate;
    case kTimestampOid:
    case kTimestampTz:
      return ColumnType::kTimestamp;
    default:
      return ColumnType::kText;
  }
}

std::string_view Declared(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "BIGINT";
    case ColumnType::kReal:
      return "DOUBLE PRECISION";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBytes:
      return "BYTEA";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
      return "TIMESTAMPTZ";
  }
  return "TEXT";
}

SqlValue FromText(const char* text, int length, Oid oid) {
  std::string_view v(text, static_cast<size_t>(length));
  switch (oid) {
    case kBool:
      return int64_t{v == "t" ? 1 : 0};
    case kInt8:
    case kInt2:
    case kInt4: {
      int64_t n = 0;
      std::from_chars(v.data(), v.data() + v.size(), n);
      return n;
    }
    case kFloat4:
    case kFloat8:
    case kNumeric:
      return std::strtod(std::string(v).c_str(), nullptr);  // also NaN, Infinity
    case kBytea: {
      std::string bytes;
      for (size_t i = 2; i + 1 < v.size(); i += 2) {
        auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
        bytes += static_cast<char>(hex(v[i]) << 4 | hex(v[i + 1]));
      }
      return SqlBlob{std::move(bytes)};
    }
    default:
      return std::string(v);
  }
}

// A connection; every call names what failed, in PostgreSQL's words.
class Pg {
 public:
  explicit Pg(PGconn* conn) : conn_(conn) {}
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;
  ~Pg() { PQfinish(conn_); }

  PGconn* get() const { return conn_; }

  // Runs `sql` with text parameters; answers the result (rows, or none for commands).
  Result<std::unique_ptr<PGresult, void (*)(PGresult*)>> Run(
      const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0);
    std::unique_ptr<PGresult, void (*)(PGresult*)> owned(res, PQclear);
    const ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_COPY_IN) {
      return Error(res, sql);
    }
    return owned;
  }

  Status Error(const PGresult* res, std::string_view sql) const {
    std::string message = res ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string text = fmt::format("postgresql warehouse: {} (in: {})", message, sql);
    const std::string_view code = state ? state : "";
    if (code == "42P01" || code == "42703" || code == "3F000") return NotFound(std::move(text));
    if (PQstatus(conn_) != CONNECTION_OK || code.starts_with("08")) {
      return Unavailable(std::move(text));
    }
    return Internal(std::move(text));
  }

 private:
  PGconn* conn_;
};

// The passwords a PostgreSQL URL holds, as written: the user's (user:PASSWORD@) and the
// password= and sslpassword= parameters.
std::vector<std::string> UrlPasswords(const std::string& url) {
  std::vector<std::string> found;
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    const size_t colon = url.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at)
      found.push_back(url.substr(colon + 1, at - colon - 1));
  }
  for (const char* key : {"password=", "sslpassword="}) {
    for (size_t p = url.find(key); p != std::string::npos; p = url.find(key, p + 1)) {
      if (p > 0 && url[p - 1] != '?' && url[p - 1] != '&') continue;
      const size_t start = p + std::string_view(key).size();
      found.push_back(url.substr(start, url.find('&', start) - start));
    }
  }
  std::erase_if(found, [](const std::string& s) { return s.size() < 2; });
  return found;
}

Result<std::unique_ptr<Pg>> Connect(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string message = conn ? PQerrorMessage(conn) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    PQfinish(conn);
    // libpq may quote the URL's parts (a password it cannot decode, say): never a password.
    for (const std::string& secret : UrlPasswords(url)) {
      for (size_t at = message.find(secret); at != std::string::npos;
           at = message.find(secret, at + 3)) {
        message.replace(at, secret.size(), "***");
      }
    }
    return Unavailable(
        fmt::format("cannot connect to the warehouse '{}': {}", RedactUrlPassword(url), message));
  }
  auto pg = std::make_unique<Pg>(conn);
  SOMLIER_RETURN_IF_ERROR(pg->Run("SET client_min_messages = warning").status());
  SOMLIER_RETURN_IF_ERROR(pg->Run("SET TIME ZONE 'UTC'").status());
  SOMLIER_RETURN_IF_ERROR(pg->Run("SET bytea_output = 'hex'").status());  // what FromText reads
  // Another run writing the same table holds its lock to the end: wait a while, not forever.
  SOMLIER_RETURN_IF_ERROR(pg->Run("SET lock_timeout = '5min'").status());
  return pg;
}

std::string Name(const TableRef& table) {
  return table.dataset.empty() ? Quote(table.table)
                               : Quote(table.dataset) + "." + Quote(table.table);
}

// A table's columns, and the type OID of each (a query that reads no rows).
struct Described {
  std::vector<Column> columns;
  std::vector<Oid> oids;
};
Result<Described> Describe(Pg& pg, const TableRef& table) {
  SOMLIER_ASSIGN_OR_RETURN(auto res,
                           pg.Run(fmt::format("SELECT * FROM {} WHERE false", Name(table))));
  Described d;
  for (int c = 0; c < PQnfields(res.get()); ++c) {
    d.oids.push_back(PQftype(res.get(), c));
    d.columns.push_back({PQfname(res.get(), c), FromOid(d.oids.back())});
  }
  return d;
}

// `column = $1` with the date cast to the column's type (a DATE, or text holding dates).
Result<std::string> DateCondition(const Described& d, const std::string& column) {
  for (size_t c = 0; c < d.columns.size(); ++c) {
    if (d.columns[c].name != column) continue;
    if (d.oids[c] == kTimestampOid || d.oids[c] == kTimestampTz) {  // the whole day (UTC)
      return fmt::format("{0} >= $1::date AND {0} < $1::date + 1", Quote(column));
    }
    return fmt::format("{} = $1{}", Quote(column), d.oids[c] == kDateOid ? "::date" : "");
  }
  return NotFound(fmt::format("the table has no column '{}'", column));
}

class PgReader final : public RowReader {
 public:
  PgReader(std::unique_ptr<Pg> pg, Described described)
      : pg_(std::move(pg)), d_(std::move(described)) {}

  const std::vector<Column>& columns() const override { return d_.columns; }

  // Fetches a few thousand rows at a time (libpq holds a whole answer in memory) until the
  // chunk is full.
  Status Next(size_t max_rows, RowChunk& chunk) override {
    chunk.rows = 0;
    chunk.cells.clear();
    size_t bytes = 0;
    while (!done_ && chunk.rows < max_rows && bytes < kChunkBytes) {
      const size_t want = std::min<size_t>(max_rows - chunk.rows, 4096);
      SOMLIER_ASSIGN_OR_RETURN(auto res,
                               pg_->Run(fmt::format("FETCH FORWARD {} FROM somlier_rows", want)));
      const int rows = PQntuples(res.get());
      const int cols = PQnfields(res.get());
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          if (PQgetisnull(res.get(), r, c)) {
            chunk.cells.emplace_back(std::monostate{});
          } else {
            chunk.cells.push_back(
                FromText(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c), d_.oids[c]));
          }
          bytes += CellBytes(chunk.cells.back());
        }
      }
      chunk.rows += static_cast<size_t>(rows);
      if (static_cast<size_t>(rows) < want) {
        done_ = true;
        (void)pg_->Run("COMMIT");
      }
    }
    return OkStatus();
  }

 private:
  std::unique_ptr<Pg> pg_;
  Described d_;
  bool done_ = false;
};

// COPY's text format: backslash, tab, newline and carriage return escaped; NULL as \N.
void AppendCopyText(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

// A value in COPY's text format.
void AppendCopyValue(std::string& out, const SqlValue& v, ColumnType type) {
  char number[32];
  if (auto* i = std::get_if<int64_t>(&v)) {
    if (type == ColumnType::kBoolean) {
      out += *i ? 't' : 'f';
    } else {
      out.append(number, std::to_chars(number, number + sizeof number, *i).ptr);
    }
  } else if (auto* d = std::get_if<double>(&v)) {
    if (std::isnan(*d)) {
      out += "NaN";
    } else if (std::isinf(*d)) {
      out += *d > 0 ? "Infinity" : "-Infinity";
    } else {
      out.append(number, std::to_chars(number, number + sizeof number, *d).ptr);
    }
  } else if (auto* s = std::get_if<std::string>(&v)) {
    AppendCopyText(out, *s);
  } else if (auto* b = std::get_if<SqlBlob>(&v)) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\\\x";
    for (unsigned char ch : b->bytes) {
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  } else {
    out += "\\N";
  }
}

class PgWriter final : public TableWriter {
 public:
  PgWriter(std::unique_ptr<Pg> pg, const Replacement& r)
      : pg_(std::move(pg)), columns_(r.columns), constants_(r.constants.size()) {
    // Every row ends with the constants' text.
    for (size_t k = 0; k < r.constants.size(); ++k) {
      if (k || r.varying()) row_end_ += '\t';
      AppendCopyValue(row_end_, r.constants[k], columns_[r.varying() + k].type);
    }
    row_end_ += '\n';
  }
  ~PgWriter() override {
    if (copying_) {
      PQputCopyEnd(pg_->get(), "abandoned");
      while (PGresult* res = PQgetResult(pg_->get())) PQclear(res);
    }
    if (!committed_) (void)pg_->Run("ROLLBACK");
  }

  Status StartCopy(const std::string& table) {
    std::vector<std::string> names;
    for (const Column& c : columns_) names.push_back(Quote(c.name));
    const std::string sql = fmt::format("COPY {} ({}) FROM STDIN", table, Join(names, ", "));
    SOMLIER_RETURN_IF_ERROR(pg_->Run(sql).status());
    copying_ = true;
    return OkStatus();
  }

  Status Append(const RowChunk& chunk) override {
    buffer_.clear();
    const size_t n = columns_.size() - constants_;
    for (size_t r = 0; r < chunk.rows; ++r) {
      for (size_t c = 0; c < n; ++c) {
        if (c) buffer_ += '\t';
        AppendCopyValue(buffer_, chunk.cells[r * n + c], columns_[c].type);
      }
      buffer_ += row_end_;
    }
    if (PQputCopyData(pg_->get(), buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      return pg_->Error(nullptr, "COPY (sending rows)");
    }
    return OkStatus();
  }

  Status Commit() override {
    if (PQputCopyEnd(pg_->get(), nullptr) != 1) return pg_->Error(nullptr, "COPY (ending)");
    copying_ = false;
    Status status;
    while (PGresult* res = PQgetResult(pg_->get())) {
      if (status.ok() && PQresultStatus(res) != PGRES_COMMAND_OK) status = pg_->Error(res, "COPY");
      PQclear(res);
    }
    SOMLIER_RETURN_IF_ERROR(status);
    SOMLIER_RETURN_IF_ERROR(pg_->Run("COMMIT").status());
    committed_ = true;
    return OkStatus();
  }

  Pg& pg() { return *pg_; }

 private:
  std::unique_ptr<Pg> pg_;
  std::vector<Column> columns_;
  size_t constants_;
  std::string row_end_;
  std::string buffer_;
  bool copying_ = false;
  bool committed_ = false;
};

class PostgresWarehouse final : public Warehouse {
 public:
  explicit PostgresWarehouse(std::string url) : url_(std::move(url)) {}

  std::string name() const override { return RedactUrlPassword(url_); }

  Result<std::unique_ptr<RowReader>> Select(const TableRef& table, const std::string& column,
                                            const std::string& date) override {
    SOMLIER_RETURN_IF_ERROR(CheckNoProject(table));
    SOMLIER_ASSIGN_OR_RETURN(auto pg, Connect(url_));
    SOMLIER_RETURN_IF_ERROR(pg->Run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").status());
    SOMLIER_ASSIGN_OR_RETURN(Described d, Describe(*pg, table));
    SOMLIER_ASSIGN_OR_RETURN(std::string condition, DateCondition(d, column));
    SOMLIER_RETURN_IF_ERROR(
        pg->Run(fmt::format("DECLARE somlier_rows NO SCROLL CURSOR FOR SELECT * FROM {} WHERE {}",
                            Name(table), condition),
                {date})
            .status());
    return std::unique_ptr<RowReader>(std::make_unique<PgReader>(std::move(pg), std::move(d)));
  }

  Result<int64_t> Count(const TableRef& table, const std::string& column,
                        const std::string& date) override {
    SOMLIER_RETURN_IF_ERROR(CheckNoProject(table));
    SOMLIER_ASSIGN_OR_RETURN(auto pg, Connect(url_));
    SOMLIER_ASSIGN_OR_RETURN(Described d, Describe(*pg, table));
    SOMLIER_ASSIGN_OR_RETURN(std::string condition, DateCondition(d, column));
    SOMLIER_ASSIGN_OR_RETURN(
        auto res,
        pg->Run(fmt::format("SELECT count(*) FROM {} WHERE {}", Name(table), condition), {date}));
    return std::strtoll(PQgetvalue(res.get(), 0, 0), nullptr, 10);
  }

  Status DeleteDate(const TableRef& table, const std::string& date_column,
                    const std::string& date) override {
    SOMLIER_RETURN_IF_ERROR(CheckNoProject(table));
    SOMLIER_ASSIGN_OR_RETURN(auto pg, Connect(url_));
    auto described = Describe(*pg, table);
    if (described.status().code() == StatusCode::kNotFound) return OkStatus();  // no table
    SOMLIER_RETURN_IF_ERROR(described.status());
    SOMLIER_ASSIGN_OR_RETURN(std::string condition, DateCondition(*described, date_column));
    return pg->Run(fmt::format("DELETE FROM {} WHERE {}", Name(table), condition), {date}).status();
  }

  Result<std::unique_ptr<TableWriter>> Replace(const Replacement& r) override {
    SOMLIER_RETURN_IF_ERROR(CheckNoProject(r.table));
    SOMLIER_ASSIGN_OR_RETURN(auto pg, Connect(url_));
    SOMLIER_RETURN_IF_ERROR(pg->Run("BEGIN").status());
    auto writer = std::make_unique<PgWriter>(std::move(pg), r);
    Pg& conn = writer->pg();
    const std::string table = Name(r.table);
    std::vector<std::string> definitions;
    for (const Column& c : r.columns) {
      definitions.push_back(fmt::format("{} {}", Quote(c.name), Declared(c.type)));
    }
    // CREATE TABLE IF NOT EXISTS is not safe against itself: two first runs into one table
    // both pass the check, and the second fails on pg_type's unique index. A lock on the
    // table's name, held to the end of the transaction, makes the second wait for the first.
    SOMLIER_RETURN_IF_ERROR(
        conn.Run("SELECT pg_advisory_xact_lock(hashtext($1))", {"somlier.offline:" + table})
            .status());
    SOMLIER_RETURN_IF_ERROR(
        conn.Run(fmt::format("CREATE TABLE IF NOT EXISTS {} ({})", table, Join(definitions, ", ")))
            .status());
    SOMLIER_RETURN_IF_ERROR(
        conn.Run(fmt::format("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", table)).status());
    SOMLIER_ASSIGN_OR_RETURN(Described d, Describe(conn, r.table));
    std::vector<std::string> existing;
    for (const Column& c : d.columns) existing.push_back(c.name);
    SOMLIER_RETURN_IF_ERROR(CheckHasColumns(r, existing, name()));
    SOMLIER_ASSIGN_OR_RETURN(std::string condition, DateCondition(d, r.date_column));
    SOMLIER_RETURN_IF_ERROR(
        conn.Run(fmt::format("DELETE FROM {} WHERE {}", table, condition), {r.date}).status());
    SOMLIER_RETURN_IF_ERROR(writer->StartCopy(table));
    return std::unique_ptr<TableWriter>(std::move(writer));
  }

 private:
  Status CheckNoProject(const TableRef& table) const {
    if (table.project.empty()) return OkStatus();
    return InvalidArgument(fmt::format(
        "table '{}' names a project: only a bigquery:// warehouse has projects ({} holds "
        "[schema.]table)",
        table.ToString(), name()));
  }

  std::string url_;
};

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const std::string& url) {
  const std::string normalized = NormalizePostgresUrl(url);
  // Reachable and logged in now, so a bad URL fails before any work.
  SOMLIER_RETURN_IF_ERROR(Connect(normalized).status());
  return std::unique_ptr<Warehouse>(std::make_unique<PostgresWarehouse>(normalized));
}

}  // namespace somlier::offline
