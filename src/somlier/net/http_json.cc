#include "somlier/net/http_json.h"

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

void AnswerExceptionsWith500(httplib::Server& server) {
  server.set_exception_handler([](const httplib::Request& request, httplib::Response& response,
                                  std::exception_ptr error) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError("{} {} failed: {}", request.method, request.path, what);
    SendMlflowError(response, 500, "INTERNAL_ERROR", "internal error: " + what);
  });
}

}  // namespace somlier
