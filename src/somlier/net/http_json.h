// HttpJson: JSON answers of SoMLier's HTTP servers — serialised so that a message quoting
// invalid UTF-8 from a request (a percent-decoded path, say) can never throw: bad bytes
// become U+FFFD.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace somlier {

// `value` as JSON text; never throws on invalid UTF-8.
std::string SafeJsonDump(const nlohmann::json& value);

void SendJson(httplib::Response& response, const nlohmann::json& body, int status = 200);

// MLflow's error answer {"error_code", "message"}.
void SendMlflowError(httplib::Response& response, int http_status, std::string_view error_code,
                     std::string_view message);

// Makes `server` answer a handler's exception with a logged 500 in MLflow's error shape
// ({"error_code": "INTERNAL_ERROR", "message": "internal error: ..."}) — the HTTP edge,
// where exceptions stop.
void AnswerExceptionsWith500(httplib::Server& server);

}  // namespace somlier
