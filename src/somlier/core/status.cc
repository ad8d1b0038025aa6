#include "somlier/core/status.h"

#include <array>
#include <utility>

namespace somlier {
namespace {

// The one table from status code to the edges' answers. Exit code 1 is the generic
// failure (Internal); 2 is also what the CLI uses for a usage error.
constexpr std::array<StatusCodeInfo, 8> kTable = {{
    // code, name, SoMLier HTTP, MLflow HTTP, MLflow error_code, scoring HTTP, exit code
    {StatusCode::kOk, "OK", 200, 200, "", 200, 0},
    {StatusCode::kInvalidArgument, "INVALID_ARGUMENT", 422, 400, "INVALID_PARAMETER_VALUE", 400, 2},
    {StatusCode::kNotFound, "NOT_FOUND", 404, 404, "RESOURCE_DOES_NOT_EXIST", 404, 3},
    {StatusCode::kAlreadyExists, "ALREADY_EXISTS", 409, 400, "RESOURCE_ALREADY_EXISTS", 500, 4},
    {StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", 412, 400, "INVALID_PARAMETER_VALUE",
     500, 5},
    {StatusCode::kUnavailable, "UNAVAILABLE", 503, 503, "TEMPORARILY_UNAVAILABLE", 503, 6},
    {StatusCode::kInternal, "INTERNAL", 500, 500, "INTERNAL_ERROR", 500, 1},
    {StatusCode::kUnimplemented, "UNIMPLEMENTED", 501, 501, "NOT_IMPLEMENTED", 500, 7},
}};

// What the HTTP layer answers by itself, before any handler (authentication, browser
// checks, body limits), as a client should read it.
constexpr std::array<std::pair<int, StatusCode>, 3> kHttpLayerStatuses = {{
    {401, StatusCode::kFailedPrecondition},
    {403, StatusCode::kFailedPrecondition},
    {413, StatusCode::kInvalidArgument},
}};

}  // namespace

const StatusCodeInfo& InfoFor(StatusCode code) {
  for (const auto& row : kTable) {
    if (row.code == code) return row;
  }
  return kTable[6];
}

int HttpStatusFor(StatusCode code, HttpDialect dialect) {
  const StatusCodeInfo& info = InfoFor(code);
  switch (dialect) {
    case HttpDialect::kMlflow:
      return info.mlflow_http_status;
    case HttpDialect::kScoring:
      return info.scoring_http_status;
    case HttpDialect::kSomlier:
      break;
  }
  return info.http_status;
}

StatusCode StatusCodeForHttp(int http_status) {
  if (http_status >= 200 && http_status < 300) return StatusCode::kOk;
  for (const auto& row : kTable) {
    if (row.http_status == http_status) return row.code;
  }
  for (const auto& row : kTable) {
    if (row.mlflow_http_status == http_status) return row.code;
  }
  for (const auto& [status, code] : kHttpLayerStatuses) {
    if (status == http_status) return code;
  }
  return StatusCode::kInternal;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

std::string Status::ToString() const {
  std::string out(InfoFor(code_).name);
  if (!ok()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace somlier
