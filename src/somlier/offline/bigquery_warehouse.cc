#include "somlier/offline/bigquery_warehouse.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "somlier/artifacts/object_storage.h"
#include "somlier/core/base64.h"
#include "somlier/core/ids.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"

namespace somlier::offline {
namespace {

using batch::QuoteIdentifier;
using batch::TableRef;
using nlohmann::json;
using SteadyTime = std::chrono::steady_clock;

constexpr std::string_view kScheme = "bigquery://";
constexpr std::string_view kScope = "https://www.googleapis.com/auth/bigquery";
constexpr std::string_view kDefaultApi = "https://bigquery.googleapis.com";
constexpr size_t kMaxAnswerBytes = size_t{64} << 20;
constexpr int kConnectSeconds = 10;
constexpr int kReadSeconds = 60;
constexpr int kRetries = 3;  // after the first attempt; waits of 0.5, 1 and 2 s
constexpr auto kTokenLifetime = std::chrono::minutes(30);  // Google's tokens live an hour
constexpr int kHoldMs = 10000;  // timeoutMs: how long BigQuery holds a request for a query
constexpr auto kMaxJobWait = std::chrono::hours(6);  // BigQuery's own limit for a query job
constexpr size_t kFirstPageRows = 10000;  // the page jobs.query answers with (then: Next's)
constexpr int kCommitAttempts = 4;        // a transaction aborted by a concurrent one is run again
constexpr size_t kMaxMessage = 2000;      // of BigQuery's messages quoted in ours
constexpr std::string_view kStagingPrefix = "_somlier_staging_";

std::string Quote(std::string_view name) { return QuoteIdentifier(name, true); }

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- reading BigQuery's JSON without throwing ----

const json* Field(const json& value, std::string_view key) {
  if (!value.is_object()) return nullptr;
  const auto it = value.find(key);
  return it == value.end() ? nullptr : &*it;
}

std::string Str(const json& value, std::string_view key) {
  const json* field = Field(value, key);
  return field && field->is_string() ? field->get<std::string>() : std::string();
}

bool IsTrue(const json& value, std::string_view key) {
  const json* field = Field(value, key);
  return field && field->is_boolean() && field->get<bool>();
}

std::string Cut(std::string text) {
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage) + "...";
  return text;
}

// ---- tables and their columns ----

std::string Shown(const TableRef& table) {
  return fmt::format("{}.{}.{}", table.project, table.dataset, table.table);
}

std::string SqlName(const TableRef& table) {
  return Quote(table.project) + "." + Quote(table.dataset) + "." + Quote(table.table);
}

std::string TablesPath(const TableRef& table) {
  return fmt::format("/bigquery/v2/projects/{}/datasets/{}/tables",
                     PercentEncode(table.project, false), PercentEncode(table.dataset, false));
}

std::string TablePath(const TableRef& table) {
  return TablesPath(table) + "/" + PercentEncode(table.table, false);
}

// A table's columns, with BigQuery's name of each one's type (upper case).
struct Schema {
  std::vector<Column> columns;
  std::vector<std::string> types;
};

std::optional<ColumnType> FromBigQuery(std::string_view type) {
  if (type == "INTEGER" || type == "INT64") return ColumnType::kInteger;
  if (type == "FLOAT" || type == "FLOAT64" || type == "NUMERIC" || type == "BIGNUMERIC" ||
      type == "DECIMAL" || type == "BIGDECIMAL") {
    return ColumnType::kReal;
  }
  if (type == "BOOLEAN" || type == "BOOL") return ColumnType::kBoolean;
  if (type == "STRING") return ColumnType::kText;
  if (type == "BYTES") return ColumnType::kBytes;
  if (type == "DATE") return ColumnType::kDate;
  if (type == "TIMESTAMP" || type == "DATETIME") return ColumnType::kTimestamp;
  return std::nullopt;
}

// The type a load job's schema gives a column.
std::string_view LoadType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "FLOAT";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kText:
      return "STRING";
    case ColumnType::kBytes:
      return "BYTES";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
  }
  return "STRING";
}

// The type CREATE TABLE gives a column (standard SQL's names).
std::string_view DdlType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INT64";
    case ColumnType::kReal:
      return "FLOAT64";
    case ColumnType::kBoolean:
      return "BOOL";
    case ColumnType::kText:
      return "STRING";
    case ColumnType::kBytes:
      return "BYTES";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
  }
  return "STRING";
}

Schema SchemaOf(const std::vector<Column>& columns) {
  Schema schema;
  schema.columns = columns;
  for (const Column& c : columns) schema.types.emplace_back(LoadType(c.type));
  return schema;
}

// The schema of a tables.get answer. `readable`: every column must be one offline predict can
// read (InvalidArgument naming the first that is not); otherwise any column goes (an unknown
// type reads as text), for a destination whose names are all that matter.
Result<Schema> ParseSchema(const json& table, const std::string& shown, bool readable) {
  const json* schema = Field(table, "schema");
  const json* fields = schema ? Field(*schema, "fields") : nullptr;
  if (!fields || !fields->is_array()) {
    return Internal(fmt::format("BigQuery described table {} without a schema", shown));
  }
  Schema out;
  for (const json& field : *fields) {
    std::string name = Str(field, "name");
    std::string type = ToUpper(Str(field, "type"));
    if (name.empty() || type.empty()) {
      return Internal(
          fmt::format("BigQuery described a column of table {} without a name or type", shown));
    }
    const std::optional<ColumnType> mapped = FromBigQuery(type);
    if (readable && (!mapped || Str(field, "mode") == "REPEATED")) {
      return InvalidArgument(fmt::format(
          "column '{}' of table {} is {}{}, which cannot be read: offline predict reads INTEGER, "
          "FLOAT, NUMERIC, BIGNUMERIC, BOOLEAN, STRING, BYTES, DATE, TIMESTAMP and DATETIME "
          "columns (select the features into a view or table of those)",
          name, shown, Str(field, "mode") == "REPEATED" ? "REPEATED " : "", type));
    }
    out.columns.push_back({std::move(name), mapped.value_or(ColumnType::kText)});
    out.types.push_back(std::move(type));
  }
  return out;
}

// The condition that selects `date`'s rows by `column`, and the type of its @date parameter.
struct DateFilter {
  std::string condition;
  std::string parameter_type;
};

Result<DateFilter> DateCondition(const Schema& schema, const std::string& column,
                                 const std::string& shown) {
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    if (ToLower(schema.columns[c].name) != ToLower(column)) continue;  // as BigQuery's names
    const std::string& type = schema.types[c];
    if (type == "DATE") return DateFilter{Quote(column) + " = @date", "DATE"};
    if (type == "TIMESTAMP" || type == "DATETIME") {
      return DateFilter{"DATE(" + Quote(column) + ") = @date", "DATE"};
    }
    if (type == "STRING") return DateFilter{Quote(column) + " = @date", "STRING"};
    return InvalidArgument(fmt::format(
        "column '{}' of table {} is {}: the date column must be a DATE, TIMESTAMP, DATETIME or "
        "STRING (holding YYYY-MM-DD)",
        column, shown, type));
  }
  return NotFound(fmt::format("table {} has no column '{}'", shown, column));
}

Status CheckDate(const std::string& date) {
  bool ok = date.size() == 10 && date[4] == '-' && date[7] == '-';
  for (size_t i = 0; ok && i < date.size(); ++i) {
    ok = i == 4 || i == 7 || (date[i] >= '0' && date[i] <= '9');
  }
  if (ok) return OkStatus();
  return InvalidArgument(
      fmt::format("date '{}' is not a date like 2024-01-31 (YYYY-MM-DD)", date.substr(0, 100)));
}

// ---- values ----

// A TIMESTAMP cell in microseconds: "1706702400123456" (formatOptions.useInt64Timestamp), or
// seconds as a decimal "1.706702400123456E9" (BigQuery's default), read exactly.
std::optional<int64_t> TimestampMicros(std::string_view v) {
  size_t i = 0;
  bool negative = false;
  if (i < v.size() && (v[i] == '-' || v[i] == '+')) negative = v[i++] == '-';
  std::string digits;
  int64_t exponent = 0;
  bool dot = false;
  bool seconds = false;
  for (; i < v.size(); ++i) {
    const char c = v[i];
    if (c >= '0' && c <= '9') {
      digits += c;
      if (dot) --exponent;
    } else if (c == '.' && !dot) {
      dot = seconds = true;
    } else if ((c == 'e' || c == 'E') && !digits.empty()) {
      seconds = true;
      size_t j = i + 1;
      if (j < v.size() && v[j] == '+') ++j;
      int e = 0;
      const auto [end, ec] = std::from_chars(v.data() + j, v.data() + v.size(), e);
      if (ec != std::errc() || end != v.data() + v.size() || j == v.size()) return std::nullopt;
      exponent += e;
      break;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty() || digits.size() > 40) return std::nullopt;
  if (seconds) exponent += 6;
  const size_t first = std::min(digits.find_first_not_of('0'), digits.size());
  digits.erase(0, first);
  bool round_up = false;
  if (exponent >= 0) {
    if (static_cast<int64_t>(digits.size()) + exponent > 19) return std::nullopt;
    if (!digits.empty()) digits.append(static_cast<size_t>(exponent), '0');
  } else {
    const uint64_t drop = static_cast<uint64_t>(-exponent);
    if (drop > digits.size()) {
      digits.clear();
    } else {
      round_up = digits[digits.size() - drop] >= '5';
      digits.resize(digits.size() - drop);
    }
  }
  int64_t n = 0;
  if (!digits.empty()) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  }
  if (round_up) ++n;
  return negative ? -n : n;
}

// 2024-01-31T12:00:00.000000Z
std::string FormatTimestamp(int64_t micros) {
  int64_t seconds = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
}

// One cell of a row in BigQuery's f/v form, read by its column's BigQuery type.
Result<SqlValue> FromCell(const json& cell, const std::string& type, const std::string& column) {
  const json* v = Field(cell, "v");
  if (v == nullptr || v->is_null()) return SqlValue(std::monostate{});
  auto bad = [&]() {
    return Internal(fmt::format("BigQuery answered a {} value of column '{}' that is not one: {}",
                                type, column, JsonPreview(*v)));
  };
  if (!v->is_string()) return bad();
  const std::string& text = v->get_ref<const std::string&>();
  if (type == "INTEGER" || type == "INT64") {
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) return bad();
    return SqlValue(n);
  }
  if (type == "FLOAT" || type == "FLOAT64" || type == "NUMERIC" || type == "BIGNUMERIC" ||
      type == "DECIMAL" || type == "BIGDECIMAL") {
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);  // also NaN, Infinity, -Infinity
    if (text.empty() || end != text.c_str() + text.size()) return bad();
    return SqlValue(d);
  }
  if (type == "BOOLEAN" || type == "BOOL") {
    if (text == "true") return SqlValue(int64_t{1});
    if (text == "false") return SqlValue(int64_t{0});
    return bad();
  }
  if (type == "BYTES") {
    std::optional<std::string> bytes = Base64Decode(text);
    if (!bytes) return bad();
    return SqlValue(SqlBlob{std::move(*bytes)});
  }
  if (type == "TIMESTAMP") {
    const std::optional<int64_t> micros = TimestampMicros(text);
    if (!micros) return bad();
    return SqlValue(FormatTimestamp(*micros));
  }
  return SqlValue(text);  // STRING, DATE (YYYY-MM-DD), DATETIME (YYYY-MM-DDTHH:MM:SS[.ffffff])
}

// ---- writing rows as newline-delimited JSON ----

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void AppendNumber(std::string& out, int64_t n) {
  char buffer[32];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, n).ptr);
}

void AppendNumber(std::string& out, double d) {
  char buffer[64];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, d).ptr);
}

// `v` as the JSON value a load job reads into a column of `type`: integers as strings (JSON
// numbers lose digits past 2^53), non-finite floats as "NaN"/"Infinity"/"-Infinity", bytes
// in base64, text checked to be UTF-8 (BigQuery's STRING is). Writes nothing for NULL.
Status AppendValue(std::string& out, const SqlValue& v, ColumnType type, const std::string& column,
                   size_t row) {
  auto text = [&](std::string_view s) -> Status {
    if (type == ColumnType::kBytes) {
      AppendJsonString(out, Base64Encode(s));
      return OkStatus();
    }
    if (FindInvalidUtf8(s) != std::string_view::npos) {
      return InvalidArgument(fmt::format(
          "row {} of the predictions: column '{}' holds bytes that are not UTF-8 text, which "
          "BigQuery cannot store as {}",
          row + 1, column, LoadType(type)));
    }
    AppendJsonString(out, s);
    return OkStatus();
  };
  if (const auto* n = std::get_if<int64_t>(&v)) {
    if (type == ColumnType::kBoolean) {
      out += *n ? "true" : "false";
    } else if (type == ColumnType::kReal) {
      AppendNumber(out, *n);
    } else {
      std::string digits;
      AppendNumber(digits, *n);
      return text(digits);
    }
    return OkStatus();
  }
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) {
      return text(std::isnan(*d) ? "NaN" : (*d > 0 ? "Infinity" : "-Infinity"));
    }
    if (type == ColumnType::kBoolean) {
      out += *d != 0 ? "true" : "false";
    } else if (type == ColumnType::kInteger && *d == std::trunc(*d) && std::abs(*d) < 9.2e18) {
      std::string digits;
      AppendNumber(digits, static_cast<int64_t>(*d));
      return text(digits);
    } else if (type == ColumnType::kReal || type == ColumnType::kInteger) {
      AppendNumber(out, *d);  // a fraction for an INTEGER: BigQuery's load job names it
    } else {
      std::string digits;
      AppendNumber(digits, *d);
      return text(digits);
    }
    return OkStatus();
  }
  if (const auto* s = std::get_if<std::string>(&v)) return text(*s);
  if (const auto* b = std::get_if<SqlBlob>(&v)) return text(b->bytes);
  return OkStatus();
}

// ---- HTTP ----

// What one request got.
struct Sent {
  bool reached = false;
  bool too_long = false;
  std::string error;  // when not reached
  int status = 0;
  std::string body;
};

bool IsLoopback(std::string host) {
  if (const size_t colon = host.rfind(':');
      colon != std::string::npos && host.find(']') == std::string::npos) {
    host = host.substr(0, colon);  // host:port
  } else if (const size_t bracket = host.find("]:"); bracket != std::string::npos) {
    host = host.substr(0, bracket + 1);  // [v6]:port
  }
  return host == "localhost" || host.starts_with("127.") || host == "[::1]";
}

// BigQuery's REST API at one base URL, with the credentials for it. Thread-safe: requests
// use connections of their own; the token is behind a mutex.
class Api {
 public:
  Api(std::string origin, std::string prefix, bool authenticated, Environment env)
      : origin_(std::move(origin)),
        prefix_(std::move(prefix)),
        authenticated_(authenticated),
        env_(std::move(env)) {}

  // Fetches the first token now, so that missing credentials fail before any work.
  Status Authenticate() {
    if (!authenticated_) return OkStatus();
    return Token(false).status();
  }

  // One request; `what` completes "BigQuery refused to ..." ("read the schema of table
  // p.d.t"). Answers the JSON body of a 2xx answer (null when empty); any other answer is the
  // Status its HTTP status and BigQuery's error message make. Failures that may pass are
  // retried: every request made here is safe to repeat.
  Result<json> Call(std::string_view what, std::string_view method, const std::string& path,
                    const std::string& body = "",
                    const std::string& content_type = "application/json") {
    bool renewed = false;
    for (int attempt = 0;; ++attempt) {
      std::string token;
      if (authenticated_) {
        SOMLIER_ASSIGN_OR_RETURN(token, Token(false));
      }
      const Sent sent = Send(method, path, body, content_type, token);
      token.clear();
      if (sent.too_long) {
        return Unavailable(
            fmt::format("BigQuery answered more than {} MiB to {}", kMaxAnswerBytes >> 20, what));
      }
      Status status;
      bool retry = false;
      if (!sent.reached) {
        status = Unavailable(
            fmt::format("cannot reach BigQuery at {} to {}: {}", origin_, what, sent.error));
        retry = true;
      } else if (sent.status >= 200 && sent.status < 300) {
        if (Trim(sent.body).empty()) return json();
        json answer = ParseJsonOrNull(sent.body);
        if (answer.is_discarded() || answer.is_null()) {
          return Unavailable(
              fmt::format("BigQuery answered HTTP {} to {} without JSON", sent.status, what));
        }
        return answer;
      } else if (sent.status == 401 && authenticated_ && !renewed) {
        renewed = true;  // the token may have expired early: one more try with a new one
        SOMLIER_RETURN_IF_ERROR(Token(true).status());
        --attempt;
        continue;
      } else {
        const json error = ParseJsonOrNull(sent.body);
        std::tie(status, retry) = HttpError(what, sent.status, error);
      }
      if (!retry || attempt >= kRetries) return status;
      LogDebug("bigquery: {}; trying again", status.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(500) * (1 << attempt));
    }
  }

 private:
  // The Status of an HTTP error answer, and whether it may pass.
  static std::pair<Status, bool> HttpError(std::string_view what, int http, const json& body) {
    const json* error = Field(body, "error");
    std::string message = error ? Str(*error, "message") : "";
    std::string reason;
    if (const json* errors = error ? Field(*error, "errors") : nullptr;
        errors && errors->is_array() && !errors->empty()) {
      reason = Str((*errors)[0], "reason");
    }
    if (message.empty()) message = "(no message)";
    message = Cut(std::move(message));
    const bool transient = http == 429 || http >= 500 || reason == "rateLimitExceeded" ||
                           reason == "backendError" || reason == "internalError";
    const std::string text =
        http >= 500 ? fmt::format("BigQuery failed to {} (HTTP {}): {}", what, http, message)
                    : fmt::format("BigQuery refused to {} (HTTP {}): {}", what, http, message);
    if (transient) return {Unavailable(text), true};
    switch (http) {
      case 400:
        return {InvalidArgument(text), false};
      case 401:
      case 403:
        return {FailedPrecondition(text), false};
      case 404:
        return {NotFound(text), false};
      case 409:
        return {AlreadyExists(text), false};
      case 412:
        return {FailedPrecondition(text), false};
      case 413:
        return {InvalidArgument(text), false};
      default:
        return {Internal(text), false};
    }
  }

  Result<std::string> Token(bool renew) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (renew || token_.empty() || SteadyTime::now() - fetched_ > kTokenLifetime) {
      token_.clear();
      SOMLIER_ASSIGN_OR_RETURN(token_, GoogleAccessToken(env_, kScope));
      fetched_ = SteadyTime::now();
    }
    return token_;
  }

  Sent Send(std::string_view method, const std::string& path, const std::string& body,
            const std::string& content_type, const std::string& token) const {
    Sent sent;
    httplib::Client client(origin_);
    client.set_connection_timeout(kConnectSeconds, 0);
    client.set_read_timeout(kReadSeconds, 0);
    client.set_write_timeout(kReadSeconds, 0);
    client.set_follow_location(false);  // the token goes to this host only
    httplib::Request request;
    request.method = std::string(method);
    request.path = prefix_ + path;
    request.set_header("Accept", "application/json");
    if (!token.empty()) request.set_header("Authorization", "Bearer " + token);
    if (method == "POST") {
      request.body = body;
      request.set_header("Content-Type", content_type);
    }
    request.content_receiver = [&sent](const char* data, size_t size, uint64_t, uint64_t) {
      if (sent.body.size() + size > kMaxAnswerBytes) {
        sent.too_long = true;
        return false;
      }
      sent.body.append(data, size);
      return true;
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    sent.reached = client.send(request, response, error);
    if (!sent.reached) sent.error = httplib::to_string(error);
    sent.status = response.status;
    return sent;
  }

  const std::string origin_;
  const std::string prefix_;
  const bool authenticated_;
  const Environment env_;
  std::mutex mutex_;
  std::string token_;
  SteadyTime::time_point fetched_{};
};

// Where the jobs run: the warehouse's project (which pays for them) and location.
struct JobPlace {
  std::shared_ptr<Api> api;
  std::string project;
  std::string location;  // empty: BigQuery's choice (the data's)

  std::string QueriesPath() const {
    return fmt::format("/bigquery/v2/projects/{}/queries", PercentEncode(project, false));
  }
};

// A job's id and location from an answer's jobReference (the configured location when the
// answer names none).
std::pair<std::string, std::string> JobOf(const json& answer, const JobPlace& place) {
  const json* reference = Field(answer, "jobReference");
  if (reference == nullptr) return {"", place.location};
  std::string location = Str(*reference, "location");
  return {Str(*reference, "jobId"), location.empty() ? place.location : location};
}

std::string RequestId() {
  const std::string hex = NewRunId();  // 32 random hex digits, as a UUID's 8-4-4-4-12
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
}

// The path of getQueryResults for `job`: the next `max_results` rows after `page_token`.
std::string ResultsPath(const JobPlace& place, const std::string& job, const std::string& location,
                        size_t max_results, const std::string& page_token) {
  std::string path =
      fmt::format("{}/{}?maxResults={}&timeoutMs={}&formatOptions.useInt64Timestamp=true",
                  place.QueriesPath(), PercentEncode(job, false), max_results, kHoldMs);
  if (!location.empty()) path += "&location=" + PercentEncode(location, false);
  if (!page_token.empty()) path += "&pageToken=" + PercentEncode(page_token, false);
  return path;
}

// Runs a standard-SQL query (or script) with one named parameter @date and answers its
// results' first page (up to `max_results` rows) once the job is complete.
Result<json> RunQuery(const JobPlace& place, std::string_view what, const std::string& sql,
                      const DateFilter& filter, const std::string& date, size_t max_results) {
  json request = {
      {"query", sql},
      {"useLegacySql", false},
      {"parameterMode", "NAMED"},
      {"queryParameters", json::array({{{"name", "date"},
                                        {"parameterType", {{"type", filter.parameter_type}}},
                                        {"parameterValue", {{"value", date}}}}})},
      {"maxResults", max_results},
      {"timeoutMs", kHoldMs},
      {"formatOptions", {{"useInt64Timestamp", true}}},
      {"requestId", RequestId()},
  };
  if (!place.location.empty()) request["location"] = place.location;
  SOMLIER_ASSIGN_OR_RETURN(json answer,
                           place.api->Call(what, "POST", place.QueriesPath(), Dump(request)));
  const auto deadline = SteadyTime::now() + kMaxJobWait;
  auto pause = std::chrono::milliseconds(100);
  while (!IsTrue(answer, "jobComplete")) {
    const auto [job, location] = JobOf(answer, place);
    if (job.empty()) {
      return Internal(fmt::format(
          "BigQuery answered an incomplete query (to {}) without a job reference", what));
    }
    if (SteadyTime::now() > deadline) {
      return Unavailable(fmt::format("BigQuery's job {} (to {}) is not done after {} hours", job,
                                     what, kMaxJobWait.count()));
    }
    std::this_thread::sleep_for(pause);  // BigQuery holds each poll itself; emulators may not
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    SOMLIER_ASSIGN_OR_RETURN(
        answer, place.api->Call(what, "GET", ResultsPath(place, job, location, max_results, "")));
  }
  return answer;
}

// Waits for a job (a load job) to be DONE; its failure as a Status naming `what`.
Status WaitForJob(const JobPlace& place, std::string_view what, json job, const std::string& id) {
  const auto deadline = SteadyTime::now() + kMaxJobWait;
  auto pause = std::chrono::milliseconds(100);
  std::string location = JobOf(job, place).second;
  for (;;) {
    const json* status = Field(job, "status");
    if (status && Str(*status, "state") == "DONE") {
      const json* result = Field(*status, "errorResult");
      if (result == nullptr || result->is_null()) return OkStatus();
      std::vector<std::string> messages = {Str(*result, "message")};
      if (const json* errors = Field(*status, "errors"); errors && errors->is_array()) {
        for (const json& e : *errors) {
          std::string m = Str(e, "message");
          if (!m.empty() && messages.size() < 4 &&
              std::find(messages.begin(), messages.end(), m) == messages.end()) {
            messages.push_back(std::move(m));
          }
        }
      }
      const std::string reason = Str(*result, "reason");
      const std::string text =
          Cut(fmt::format("BigQuery's job {} to {} failed{}: {}", id, what,
                          reason.empty() ? "" : " (" + reason + ")", Join(messages, "; ")));
      if (reason == "notFound") return NotFound(text);
      if (reason == "accessDenied") return FailedPrecondition(text);
      if (reason == "backendError" || reason == "internalError" || reason == "rateLimitExceeded") {
        return Unavailable(text);
      }
      return InvalidArgument(text);
    }
    if (SteadyTime::now() > deadline) {
      return Unavailable(fmt::format("BigQuery's job {} (to {}) is not done after {} hours", id,
                                     what, kMaxJobWait.count()));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    std::string path = fmt::format("/bigquery/v2/projects/{}/jobs/{}",
                                   PercentEncode(place.project, false), PercentEncode(id, false));
    if (!location.empty()) path += "?location=" + PercentEncode(location, false);
    SOMLIER_ASSIGN_OR_RETURN(job, place.api->Call(what, "GET", path));
  }
}

// tables.get: the table's schema, or nullopt when it does not exist.
Result<std::optional<Schema>> FindTable(Api& api, const TableRef& table, bool readable) {
  const std::string shown = Shown(table);
  auto answer =
      api.Call(fmt::format("read the schema of table {}", shown), "GET", TablePath(table));
  if (!answer.ok()) {
    if (answer.status().code() == StatusCode::kNotFound) return std::optional<Schema>();
    return answer.status();
  }
  SOMLIER_ASSIGN_OR_RETURN(Schema schema, ParseSchema(*answer, shown, readable));
  return std::optional<Schema>(std::move(schema));
}

Result<Schema> GetTable(Api& api, const TableRef& table, bool readable) {
  SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> schema, FindTable(api, table, readable));
  if (!schema) {
    return NotFound(
        fmt::format("table {} does not exist in BigQuery (or its dataset does not)", Shown(table)));
  }
  return std::move(*schema);
}

// ---- reading ----

class BigQueryReader final : public RowReader {
 public:
  BigQueryReader(JobPlace place, Schema schema, std::string shown)
      : place_(std::move(place)), schema_(std::move(schema)), shown_(std::move(shown)) {}

  const std::vector<Column>& columns() const override { return schema_.columns; }

  // Takes a complete answer of jobs.query or getQueryResults: its rows and the next page's
  // token.
  Status Take(const json& answer) {
    if (job_.empty()) std::tie(job_, location_) = JobOf(answer, place_);
    buffer_.clear();
    next_ = 0;
    rows_ = 0;
    const size_t n = schema_.columns.size();
    if (const json* rows = Field(answer, "rows"); rows && rows->is_array()) {
      buffer_.reserve(rows->size() * n);
      for (const json& row : *rows) {
        const json* cells = Field(row, "f");
        if (!cells || !cells->is_array() || cells->size() != n) {
          return Internal(fmt::format(
              "BigQuery answered a row of table {} that does not have its {} columns", shown_, n));
        }
        for (size_t c = 0; c < n; ++c) {
          SOMLIER_ASSIGN_OR_RETURN(
              SqlValue value, FromCell((*cells)[c], schema_.types[c], schema_.columns[c].name));
          buffer_.push_back(std::move(value));
        }
        ++rows_;
      }
    }
    std::string token = Str(answer, "pageToken");
    if (!token.empty() && token == page_token_ && rows_ == 0) {
      return Internal(fmt::format("BigQuery answered the same page of table {} twice", shown_));
    }
    page_token_ = std::move(token);
    more_ = !page_token_.empty();
    if (more_ && job_.empty()) {
      return Internal(fmt::format(
          "BigQuery answered a first page of table {} without the job reference to read more",
          shown_));
    }
    return OkStatus();
  }

  Status Next(size_t max_rows, RowChunk& chunk) override {
    chunk.rows = 0;
    chunk.cells.clear();
    const size_t n = schema_.columns.size();
    while (chunk.rows < max_rows) {
      if (next_ < rows_) {
        const size_t take = std::min(max_rows - chunk.rows, rows_ - next_);
        auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(next_ * n);
        chunk.cells.insert(chunk.cells.end(), std::make_move_iterator(first),
                           std::make_move_iterator(first + static_cast<std::ptrdiff_t>(take * n)));
        next_ += take;
        chunk.rows += take;
        continue;
      }
      if (!more_) break;
      buffer_.clear();  // one page in memory at a time
      SOMLIER_ASSIGN_OR_RETURN(
          json answer, place_.api->Call(fmt::format("read the rows of table {}", shown_), "GET",
                                        ResultsPath(place_, job_, location_,
                                                    std::max<size_t>(max_rows, 1), page_token_)));
      if (!IsTrue(answer, "jobComplete")) {  // BigQuery held the request: ask again
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      SOMLIER_RETURN_IF_ERROR(Take(answer));
    }
    return OkStatus();
  }

 private:
  JobPlace place_;
  Schema schema_;
  std::string shown_;
  std::string job_;
  std::string location_;
  std::string page_token_;
  bool more_ = false;
  std::vector<SqlValue> buffer_;  // rows_ rows of the current page; next_ is the first unread
  size_t rows_ = 0;
  size_t next_ = 0;
};

// ---- writing ----

class BigQueryWriter final : public TableWriter {
 public:
  BigQueryWriter(JobPlace place, std::string warehouse, Replacement replacement, TableRef staging)
      : place_(std::move(place)),
        warehouse_(std::move(warehouse)),
        r_(std::move(replacement)),
        staging_(std::move(staging)) {
    for (const Column& c : r_.columns) {
      std::string key;
      AppendJsonString(key, c.name);
      keys_.push_back(key + ":");
    }
  }

  ~BigQueryWriter() override {
    if (!dropped_) DropStaging();
  }

  Status Append(const RowChunk& chunk) override {
    if (committed_) return FailedPrecondition("the BigQuery writer has already committed");
    const size_t n = r_.varying();
    if (chunk.cells.size() != chunk.rows * n) {
      return Internal(fmt::format("a chunk of {} rows has {} cells, not {} per row", chunk.rows,
                                  chunk.cells.size(), n));
    }
    if (chunk.rows == 0) return OkStatus();
    const std::string what = fmt::format("load {} rows into the staging table {} (for {})",
                                         chunk.rows, Shown(staging_), Shown(r_.table));
    const std::string job_id = "somlier_load_" + NewRunId();
    json load = {
        {"destinationTable",
         {{"projectId", staging_.project},
          {"datasetId", staging_.dataset},
          {"tableId", staging_.table}}},
        {"sourceFormat", "NEWLINE_DELIMITED_JSON"},
        {"schema", {{"fields", Fields()}}},
        {"writeDisposition", "WRITE_APPEND"},
        {"createDisposition", "CREATE_IF_NEEDED"},
    };
    json job = {{"jobReference", {{"projectId", place_.project}, {"jobId", job_id}}},
                {"configuration", {{"load", std::move(load)}}}};
    if (!place_.location.empty()) job["jobReference"]["location"] = place_.location;

    // multipart/related: the job, then the rows (RFC 2387, as Google's upload protocol takes).
    const std::string boundary = "somlier_" + NewRunId();
    std::string body = fmt::format(
        "--{}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n--{}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n",
        boundary, Dump(job), boundary);
    for (size_t row = 0; row < chunk.rows; ++row) {
      body += '{';
      bool first = true;
      for (size_t c = 0; c < r_.columns.size(); ++c) {
        const SqlValue& v = c < n ? chunk.cells[row * n + c] : r_.constants[c - n];
        if (std::holds_alternative<std::monostate>(v)) continue;
        if (!first) body += ',';
        first = false;
        body += keys_[c];
        SOMLIER_RETURN_IF_ERROR(
            AppendValue(body, v, r_.columns[c].type, r_.columns[c].name, rows_ + row));
      }
      body += "}\n";
    }
    body += fmt::format("\r\n--{}--\r\n", boundary);

    const std::string path =
        fmt::format("/upload/bigquery/v2/projects/{}/jobs?uploadType=multipart",
                    PercentEncode(place_.project, false));
    auto answer =
        place_.api->Call(what, "POST", path, body, "multipart/related; boundary=" + boundary);
    json started;
    if (answer.ok()) {
      started = std::move(*answer);
    } else if (answer.status().code() != StatusCode::kAlreadyExists) {
      return answer.status();
    }  // else: a retry found the job its first attempt started (the id is ours)
    if (!Field(started, "jobReference")) {
      started["jobReference"] = job["jobReference"];
    }
    SOMLIER_RETURN_IF_ERROR(WaitForJob(place_, what, std::move(started), job_id));
    rows_ += chunk.rows;
    return OkStatus();
  }

  Status Commit() override {
    if (committed_) return OkStatus();
    const std::string shown = Shown(r_.table);
    // The destination as it is now: its columns, and the type of its date column.
    SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> existing,
                             FindTable(*place_.api, r_.table, /*readable=*/false));
    if (existing) {
      std::vector<std::string> names;
      for (const Column& c : existing->columns) names.push_back(c.name);
      SOMLIER_RETURN_IF_ERROR(CheckHasColumns(r_, names, warehouse_));
    }
    SOMLIER_ASSIGN_OR_RETURN(
        DateFilter filter,
        DateCondition(existing ? *existing : SchemaOf(r_.columns), r_.date_column, shown));

    std::vector<std::string> definitions;
    std::vector<std::string> names;
    bool partition = false;
    for (const Column& c : r_.columns) {
      definitions.push_back(fmt::format("{} {}", Quote(c.name), DdlType(c.type)));
      names.push_back(Quote(c.name));
      partition = partition || (c.name == r_.date_column && c.type == ColumnType::kDate);
    }
    const std::string table = SqlName(r_.table);
    const std::string list = Join(names, ", ");
    const std::string script = fmt::format(
        "CREATE TABLE IF NOT EXISTS {} ({}){};\n"
        "BEGIN TRANSACTION;\n"
        "DELETE FROM {} WHERE {};\n"
        "INSERT INTO {} ({}) SELECT {} FROM {};\n"
        "COMMIT TRANSACTION;",
        table, Join(definitions, ", "), partition ? " PARTITION BY " + Quote(r_.date_column) : "",
        table, filter.condition, table, list, list, SqlName(staging_));
    const std::string what = fmt::format("replace the rows of {} of table {}", r_.date, shown);
    for (int attempt = 1;; ++attempt) {
      auto done = RunQuery(place_, what, script, filter, r_.date, 1);
      Status status = done.status();
      if (status.ok()) {
        // The job's own status, too: a script's failure is there whatever its results say.
        const auto [job, location] = JobOf(*done, place_);
        if (!job.empty()) {
          json reference = {{"jobReference", {{"jobId", job}, {"location", location}}}};
          status = WaitForJob(place_, what, std::move(reference), job);
        }
      }
      if (status.ok()) break;
      // Another transaction on the table won: BigQuery aborted this one whole; run it again.
      if (attempt >= kCommitAttempts ||
          ToLower(status.message()).find("concurrent update") == std::string::npos) {
        return status;
      }
      LogInfo("bigquery: {}; trying again", status.message());
      std::this_thread::sleep_for(std::chrono::seconds(2) * (1 << (attempt - 1)));
    }
    committed_ = true;
    DropStaging();
    return OkStatus();
  }

 private:
  json Fields() const {
    json fields = json::array();
    for (const Column& c : r_.columns) {
      fields.push_back(
          {{"name", c.name}, {"type", std::string(LoadType(c.type))}, {"mode", "NULLABLE"}});
    }
    return fields;
  }

  // Best effort: what is left expires within a day anyway.
  void DropStaging() {
    dropped_ = true;
    auto gone = place_.api->Call(fmt::format("delete the staging table {}", Shown(staging_)),
                                 "DELETE", TablePath(staging_));
    if (!gone.ok() && gone.status().code() != StatusCode::kNotFound) {
      LogWarning("{} (it expires by itself within a day)", gone.status().message());
    }
  }

  JobPlace place_;
  std::string warehouse_;
  Replacement r_;
  TableRef staging_;
  std::vector<std::string> keys_;  // each column's name as a JSON key, with its ':'
  size_t rows_ = 0;                // appended so far
  bool committed_ = false;
  bool dropped_ = false;
};

// ---- the warehouse ----

class BigQueryWarehouse final : public Warehouse {
 public:
  BigQueryWarehouse(std::string url, JobPlace place)
      : url_(std::move(url)), place_(std::move(place)) {}

  std::string name() const override { return url_; }

  Result<std::unique_ptr<RowReader>> Select(const TableRef& ref, const std::string& column,
                                            const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(TableRef table, Resolve(ref));
    SOMLIER_RETURN_IF_ERROR(CheckDate(date));
    const std::string shown = Shown(table);
    SOMLIER_ASSIGN_OR_RETURN(Schema schema, GetTable(*place_.api, table, /*readable=*/true));
    SOMLIER_ASSIGN_OR_RETURN(DateFilter filter, DateCondition(schema, column, shown));
    SOMLIER_ASSIGN_OR_RETURN(
        json answer,
        RunQuery(place_, fmt::format("read the rows of {} of table {}", date, shown),
                 fmt::format("SELECT * FROM {} WHERE {}", SqlName(table), filter.condition), filter,
                 date, kFirstPageRows));
    const json* answered = Field(answer, "schema");
    if (const json* fields = answered ? Field(*answered, "fields") : nullptr;
        fields && fields->is_array() && fields->size() != schema.columns.size()) {
      return Unavailable(
          fmt::format("table {} changed while it was read ({} columns, then {}): run again", shown,
                      schema.columns.size(), fields->size()));
    }
    auto reader = std::make_unique<BigQueryReader>(place_, std::move(schema), shown);
    SOMLIER_RETURN_IF_ERROR(reader->Take(answer));
    return std::unique_ptr<RowReader>(std::move(reader));
  }

  Result<int64_t> Count(const TableRef& ref, const std::string& column,
                        const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(TableRef table, Resolve(ref));
    SOMLIER_RETURN_IF_ERROR(CheckDate(date));
    const std::string shown = Shown(table);
    SOMLIER_ASSIGN_OR_RETURN(Schema schema, GetTable(*place_.api, table, /*readable=*/false));
    SOMLIER_ASSIGN_OR_RETURN(DateFilter filter, DateCondition(schema, column, shown));
    SOMLIER_ASSIGN_OR_RETURN(
        json answer,
        RunQuery(place_, fmt::format("count the rows of {} of table {}", date, shown),
                 fmt::format("SELECT COUNT(*) FROM {} WHERE {}", SqlName(table), filter.condition),
                 filter, date, 1));
    const json* rows = Field(answer, "rows");
    const json* cells =
        rows && rows->is_array() && rows->size() == 1 ? Field((*rows)[0], "f") : nullptr;
    if (cells && cells->is_array() && cells->size() == 1) {
      auto value = FromCell((*cells)[0], "INTEGER", "COUNT(*)");
      if (value.ok() && std::holds_alternative<int64_t>(*value)) return std::get<int64_t>(*value);
    }
    return Internal(fmt::format("BigQuery answered the count of table {} without one", shown));
  }

  Result<std::unique_ptr<TableWriter>> Replace(const Replacement& replacement) override {
    Replacement r = replacement;
    SOMLIER_ASSIGN_OR_RETURN(r.table, Resolve(replacement.table));
    SOMLIER_RETURN_IF_ERROR(CheckDate(r.date));
    if (r.columns.empty()) {
      return InvalidArgument(fmt::format("no columns to write to table {}", Shown(r.table)));
    }
    const std::string shown = Shown(r.table);
    // An existing destination must have every column; checked again by Commit().
    SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> existing,
                             FindTable(*place_.api, r.table, /*readable=*/false));
    if (existing) {
      std::vector<std::string> names;
      for (const Column& c : existing->columns) names.push_back(c.name);
      SOMLIER_RETURN_IF_ERROR(CheckHasColumns(r, names, name()));
    }
    SOMLIER_RETURN_IF_ERROR(
        DateCondition(existing ? *existing : SchemaOf(r.columns), r.date_column, shown).status());

    TableRef staging = r.table;
    staging.table = fmt::format("{}{}_{}", kStagingPrefix, r.table.table.substr(0, 900),
                                NewRunId().substr(0, 16));
    json fields = json::array();
    for (const Column& c : r.columns) {
      fields.push_back(
          {{"name", c.name}, {"type", std::string(LoadType(c.type))}, {"mode", "NULLABLE"}});
    }
    const int64_t expires =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(24))
            .count();
    const json table = {
        {"tableReference",
         {{"projectId", staging.project},
          {"datasetId", staging.dataset},
          {"tableId", staging.table}}},
        {"schema", {{"fields", std::move(fields)}}},
        {"expirationTime", std::to_string(expires)},
        {"description", fmt::format("SoMLier offline predict: the rows of {} for {}, until they "
                                    "replace that date's (then deleted; else expires in a day)",
                                    r.date, shown)},
    };
    auto created =
        place_.api->Call(fmt::format("create the staging table {} (for {})", Shown(staging), shown),
                         "POST", TablesPath(staging), Dump(table));
    // AlreadyExists: a retry found the table its first attempt created (the name is random).
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status();
    }
    return std::unique_ptr<TableWriter>(
        std::make_unique<BigQueryWriter>(place_, name(), std::move(r), std::move(staging)));
  }

 private:
  Result<TableRef> Resolve(const TableRef& table) const {
    if (table.dataset.empty()) {
      return InvalidArgument(
          fmt::format("table '{}' has no dataset: BigQuery names tables dataset.table or "
                      "project.dataset.table ({})",
                      table.ToString(), url_));
    }
    TableRef resolved = table;
    if (resolved.project.empty()) resolved.project = place_.project;
    return resolved;
  }

  std::string url_;
  JobPlace place_;
};

bool IsProjectId(std::string_view s) {
  if (s.size() < 6 || s.size() > 30 || !(s.front() >= 'a' && s.front() <= 'z') || s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsLocation(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenBigQueryWarehouse(const std::string& url,
                                                         const Environment& env) {
  const std::string shown_url = url.substr(0, 300);
  if (!url.starts_with(kScheme)) {
    return InvalidArgument(fmt::format(
        "warehouse '{}' is not bigquery://PROJECT (optionally ?location=LOCATION)", shown_url));
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  std::string_view query;
  if (const size_t mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (!IsProjectId(rest)) {
    return InvalidArgument(fmt::format(
        "warehouse '{}': '{}' is not a project id (6-30 lowercase letters, digits and '-', "
        "starting with a letter): give bigquery://PROJECT",
        shown_url, rest.substr(0, 100)));
  }
  JobPlace place;
  place.project = std::string(rest);
  for (const std::string& parameter : Split(query, '&')) {
    if (parameter.empty()) continue;
    if (parameter.starts_with("location=") && IsLocation(parameter.substr(9))) {
      place.location = parameter.substr(9);
      continue;
    }
    return InvalidArgument(fmt::format(
        "warehouse '{}': '{}' is not location=LOCATION (like US, EU or europe-west1), the one "
        "setting a bigquery:// URL takes",
        shown_url, parameter.substr(0, 100)));
  }

  const std::string api_url = Lookup(env, "SOMLIER_BIGQUERY_API_URL");
  const std::string emulator = Lookup(env, "BIGQUERY_EMULATOR_HOST");
  std::string base(kDefaultApi);
  std::string_view variable = "SOMLIER_BIGQUERY_API_URL";
  if (!api_url.empty()) {
    base = api_url;
  } else if (!emulator.empty()) {
    base = emulator.find("://") == std::string::npos ? "http://" + emulator : emulator;
    variable = "BIGQUERY_EMULATOR_HOST";
  }
  const std::optional<UrlParts> parts = SplitUrl(base);
  if (!parts || !(base.starts_with("http://") || base.starts_with("https://")) ||
      parts->path.find('?') != std::string::npos) {
    return InvalidArgument(
        fmt::format("{} '{}' is not an http(s) URL like https://bigquery.googleapis.com", variable,
                    RedactUrlCredentials(base.substr(0, 300))));
  }
  std::string prefix = parts->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  const bool authenticated = emulator.empty();
  if (authenticated && base.starts_with("http://") &&
      !IsLoopback(parts->origin.substr(std::string_view("http://").size()))) {
    return FailedPrecondition(fmt::format(
        "{} '{}' is plain http: the access token would travel in clear text; use https (or "
        "BIGQUERY_EMULATOR_HOST for an emulator, which gets no credentials)",
        variable, RedactUrlCredentials(base.substr(0, 300))));
  }
  place.api = std::make_shared<Api>(parts->origin, std::move(prefix), authenticated, env);
  SOMLIER_RETURN_IF_ERROR(place.api->Authenticate());
  return std::unique_ptr<Warehouse>(std::make_unique<BigQueryWarehouse>(url, std::move(place)));
}

}  // namespace somlier::offline
