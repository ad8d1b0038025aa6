#include "somlier/store/postgres/postgres_connection.h"

#include <fmt/core.h>
#include <libpq-fe.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "somlier/core/log.h"
#include "somlier/core/url.h"

namespace somlier {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// bytea in the text format: "\\x" then two hex digits per byte.
std::string BytesToHex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string HexToBytes(const char* text, size_t length) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  if (length < 2 || text[0] != '\\' || text[1] != 'x') return out;
  out.reserve((length - 2) / 2);
  for (size_t i = 2; i + 1 < length; i += 2) {
    out += static_cast<char>((nibble(text[i]) << 4) | nibble(text[i + 1]));
  }
  return out;
}

std::string DoubleToText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", d);  // shortest text that reads back to the same double
}

double TextToDouble(const char* text) {
  if (std::strcmp(text, "NaN") == 0) return std::nan("");
  if (std::strcmp(text, "Infinity") == 0) return HUGE_VAL;
  if (std::strcmp(text, "-Infinity") == 0) return -HUGE_VAL;
  return std::strtod(text, nullptr);
}

Status StatusFromResult(PGconn* conn, const PGresult* res, std::string_view sql) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  std::string message = fmt::format("postgres: {}", detail);
  if (PQstatus(conn) != CONNECTION_OK) return Unavailable(message);
  if (state == nullptr) return Internal(message);
  std::string_view code(state);
  if (code == "23505") return AlreadyExists(message);                   // unique_violation
  if (code == "23503") return FailedPrecondition(message);              // foreign_key_violation
  if (code == "40001" || code == "40P01") return Unavailable(message);  // retry-able
  if (code.starts_with("08") || code == "57P01") return Unavailable(message);  // connection
  if (code.starts_with("22") || code.starts_with("23")) return InvalidArgument(message);
  LogDebug("postgres error in: {}", sql);
  return Internal(message);
}

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
  ~PostgresConnection() override { PQfinish(conn_); }

  Result<QueryResult> Execute(std::string_view sql, std::span<const SqlValue> params) override {
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlValue& v = params[i];
      if (IsNull(v)) continue;
      if (auto* d = std::get_if<double>(&v)) {
        texts[i] = DoubleToText(*d);
      } else if (auto* b = std::get_if<SqlBlob>(&v)) {
        texts[i] = BytesToHex(b->bytes);
      } else {
        texts[i] = AsText(v);
      }
      values[i] = texts[i].c_str();
    }
    SOMLIER_ASSIGN_OR_RETURN(const std::string* name, Prepare(sql, params));
    PGresult* res = PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()),
                                   values.data(), nullptr, nullptr, 0);
    struct Clear {
      PGresult* r;
      ~Clear() { PQclear(r); }
    } clear{res};
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      Status status = StatusFromResult(conn_, res, sql);
      // A statement prepared before a failure may be gone if the session was reset.
      if (PQstatus(conn_) != CONNECTION_OK) statements_.clear();
      return status;
    }
    QueryResult result;
    const int rows = PQntuples(res);
    const int cols = PQnfields(res);
    result.rows.reserve(static_cast<size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      SqlRow row;
      row.reserve(static_cast<size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.emplace_back(std::monostate{});
          continue;
        }
        const char* text = PQgetvalue(res, r, c);
        switch (PQftype(res, c)) {
          case kInt2Oid:
          case kInt4Oid:
          case kInt8Oid:
            row.emplace_back(static_cast<int64_t>(std::strtoll(text, nullptr, 10)));
            break;
          case kFloat4Oid:
          case kFloat8Oid:
          case kNumericOid:
            row.emplace_back(TextToDouble(text));
            break;
          case kBoolOid:
            row.emplace_back(static_cast<int64_t>(text[0] == 't' ? 1 : 0));
            break;
          case kByteaOid:
            row.emplace_back(
                SqlBlob{HexToBytes(text, static_cast<size_t>(PQgetlength(res, r, c)))});
            break;
          default:
            row.emplace_back(std::string(text, static_cast<size_t>(PQgetlength(res, r, c))));
        }
      }
      result.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(res);
    result.affected_rows = (affected && *affected) ? std::strtoll(affected, nullptr, 10) : 0;
    return result;
  }

  Status ExecuteScript(std::string_view sql) override {
    std::string text(sql);
    PGresult* res = PQexec(conn_, text.c_str());
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    Status status = OkStatus();
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) status = StatusFromResult(conn_, res, sql);
    PQclear(res);
    return status;
  }

  bool healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

 private:
  Result<const std::string*> Prepare(std::string_view sql, std::span<const SqlValue> params) {
    std::string key(sql);
    if (auto it = statements_.find(key); it != statements_.end()) return &it->second;
    if (statements_.size() >= 512) {  // bound the cache; generated SQL varies by shape
      SOMLIER_RETURN_IF_ERROR(ExecuteScript("DEALLOCATE ALL"));
      statements_.clear();
    }
    std::vector<Oid> types(params.size(), 0);  // 0: let the server infer from context
    for (size_t i = 0; i < params.size(); ++i) {
      if (std::holds_alternative<int64_t>(params[i])) types[i] = kInt8Oid;
      if (std::holds_alternative<double>(params[i])) types[i] = kFloat8Oid;
      if (std::holds_alternative<SqlBlob>(params[i])) types[i] = kByteaOid;
    }
    std::string name = fmt::format("s{}", next_statement_++);
    std::string translated = ToPostgresPlaceholders(sql);
    PGresult* res = PQprepare(conn_, name.c_str(), translated.c_str(),
                              static_cast<int>(types.size()), types.data());
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK) {
      Status status = StatusFromResult(conn_, res, sql);
      PQclear(res);
      return status;
    }
    PQclear(res);
    auto [it, inserted] = statements_.emplace(std::move(key), std::move(name));
    return &it->second;
  }

  PGconn* conn_;
  std::unordered_map<std::string, std::string> statements_;
  uint64_t next_statement_ = 0;
};

void IgnoreNotice(void*, const char*) {}

}  // namespace

std::string NormalizePostgresUrl(std::string_view url) {
  std::string out(url);
  if (out.starts_with("postgres://")) return "postgresql://" + out.substr(strlen("postgres://"));
  if (out.starts_with("postgresql+")) {
    auto scheme_end = out.find("://");
    if (scheme_end != std::string::npos) return "postgresql" + out.substr(scheme_end);
  }
  return out;
}

std::string ToPostgresPlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote re-enters the literal on the next char
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::unique_ptr<Connection>> OpenPostgresConnection(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string message = conn ? PQerrorMessage(conn) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    PQfinish(conn);
    return Unavailable(
        fmt::format("cannot connect to PostgreSQL at '{}': {}", RedactUrlPassword(url), message));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  auto connection = std::make_unique<PostgresConnection>(conn);
  SOMLIER_RETURN_IF_ERROR(
      connection->ExecuteScript("SET client_min_messages = warning; SET TIME ZONE 'UTC'"));
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace somlier
