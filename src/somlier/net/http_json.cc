#include "somlier/net/http_json.h"

#include <fmt/core.h>

#include <atomic>

#include "somlier/core/log.h"

namespace somlier {

std::string SafeJsonDump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void SendJson(httplib::Response& response, const nlohmann::json& body, int status) {
  response.status = status;
  response.set_content(SafeJsonDump(body), "application/json");
}

void SendMlflowError(httplib::Response& response, int http_status, std::string_view error_code,
                     std::string_view message) {
  SendJson(response, {{"error_code", error_code}, {"message", message}}, http_status);
}

namespace {

// Logs `detail` and returns what the client is told instead.
std::string InternalReference(std::string_view detail) {
  static std::atomic<uint64_t> next{1};
  const uint64_t reference = next.fetch_add(1, std::memory_order_relaxed);
  LogError("internal error (reference {}): {}", reference, detail);
  return fmt::format("internal error (reference {}); the server's log has the details", reference);
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string ClientMessage(const Status& status) {
  if (status.http_status() < 500 || status.code() == StatusCode::kUnavailable ||
      status.code() == StatusCode::kUnimplemented) {
    return status.message();
  }
  return InternalReference(status.message());
}

void AnswerExceptionsWith500(httplib::Server& server) {
  server.set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        SendMlflowError(
            response, 500, "INTERNAL_ERROR",
            InternalReference(fmt::format("{} {} failed: {}", request.method, request.path, what)));
      });
}

}  // namespace somlier
