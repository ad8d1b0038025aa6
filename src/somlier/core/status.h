// Status: the outcome of an operation that can fail in an expected way.
//
// Every layer below the CLI and HTTP edges reports expected failures (bad input, missing
// rows, a busy database, ...) as a Status or Result<T> (see result.h), never as an
// exception. A Status is a code plus a human-readable message that names the offending
// value and what was expected. The code decides how the edges answer: StatusCodeInfo()
// is the one table that maps a code to an HTTP status and a CLI exit code.
//
// Status is a small value type; copies are independent. Not synchronised: share by copy.
#pragma once

#include <string>
#include <string_view>

namespace somlier {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kInternal,
  kUnimplemented,
};

// The HTTP conventions a SoMLier server answers in: SoMLier's own endpoints (the seed's
// and ours: 422 for bad input), MLflow's REST API (400 with an error_code), and the
// scoring protocols of model servers (MLflow's scoring server and KServe V2: 400 for bad
// input, 500 for anything the client cannot fix).
enum class HttpDialect { kSomlier, kMlflow, kScoring };

// How the edges present a code. `name` is the stable spelling used in logs and JSON.
struct StatusCodeInfo {
  StatusCode code;
  std::string_view name;
  int http_status;  // SoMLier's own endpoints
  int mlflow_http_status;
  std::string_view mlflow_error_code;
  int scoring_http_status;
  int exit_code;  // the CLI's
};

// The one mapping table (status.cc). Unknown codes map to kInternal's row.
const StatusCodeInfo& InfoFor(StatusCode code);

// The HTTP status that answers `code` in `dialect`.
int HttpStatusFor(StatusCode code, HttpDialect dialect);

// The code a client of a SoMLier (or MLflow) server gives an HTTP error answer: the inverse
// of the table (SoMLier's column first, then MLflow's), plus the statuses the HTTP layer
// answers itself (401 and 403 refuse the caller: FailedPrecondition; 413: InvalidArgument).
// Anything else is Internal.
StatusCode StatusCodeForHttp(int http_status);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  int http_status() const { return InfoFor(code_).http_status; }
  int exit_code() const { return InfoFor(code_).exit_code; }

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // "NOT_FOUND: message", or "OK".
  std::string ToString() const;

  bool operator==(const Status&) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }

}  // namespace somlier

#define SOMLIER_STATUS_CONCAT_INNER(a, b) a##b
#define SOMLIER_STATUS_CONCAT(a, b) SOMLIER_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define SOMLIER_RETURN_IF_ERROR(expr)                          \
  do {                                                         \
    ::somlier::Status somlier_status_tmp_ = (expr);            \
    if (!somlier_status_tmp_.ok()) return somlier_status_tmp_; \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its Status from the enclosing function.
#define SOMLIER_ASSIGN_OR_RETURN(lhs, expr) \
  SOMLIER_ASSIGN_OR_RETURN_IMPL(SOMLIER_STATUS_CONCAT(somlier_result_, __LINE__), lhs, expr)
#define SOMLIER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()
