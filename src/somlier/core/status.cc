#include "somlier/core/status.h"

#include <array>

namespace somlier {
namespace {

// The one table from status code to the edges' answers. Exit code 1 is the generic
// failure (Internal); 2 is also what the CLI uses for a usage error.
constexpr std::array<StatusCodeInfo, 8> kTable = {{
    {StatusCode::kOk, "OK", 200, 0},
    {StatusCode::kInvalidArgument, "INVALID_ARGUMENT", 422, 2},
    {StatusCode::kNotFound, "NOT_FOUND", 404, 3},
    {StatusCode::kAlreadyExists, "ALREADY_EXISTS", 409, 4},
    {StatusCode::kFailedPrecondition, "FAILED_PRECONDITION", 412, 5},
    {StatusCode::kUnavailable, "UNAVAILABLE", 503, 6},
    {StatusCode::kInternal, "INTERNAL", 500, 1},
    {StatusCode::kUnimplemented, "UNIMPLEMENTED", 501, 7},
}};

}  // namespace

const StatusCodeInfo& InfoFor(StatusCode code) {
  for (const auto& row : kTable) {
    if (row.code == code) return row;
  }
  return kTable[6];
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
