#include "somlier/net/http_json.h"

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

}  // namespace somlier
