// HttpJson: JSON answers of SoMLier's HTTP servers — serialised so that a message quoting
// invalid UTF-8 from a request (a percent-decoded path, say) can never throw: bad bytes
// become U+FFFD.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "somlier/core/status.h"

namespace somlier {

// The reason phrase of an HTTP status ("Unprocessable Entity"); "Error" for one SoMLier
// never answers.
std::string_view ReasonPhrase(int status);

// `value` as JSON text; never throws on invalid UTF-8.
std::string SafeJsonDump(const nlohmann::json& value);

void SendJson(httplib::Response& response, const nlohmann::json& body, int status = 200);

// MLflow's error answer {"error_code", "message"}.
void SendMlflowError(httplib::Response& response, int http_status, std::string_view error_code,
                     std::string_view message);

// What a client is told of `status`: its message, except for internal errors (and any code
// that answers 500), whose message may hold SQL, paths or other server details — those are
// logged with a reference number, and the client gets only "internal error (reference N)".
std::string ClientMessage(const Status& status);

// Makes `server` answer a handler's exception with a logged 500 in MLflow's error shape
// ({"error_code": "INTERNAL_ERROR", "message": "internal error: ..."}) — the HTTP edge,
// where exceptions stop.
void AnswerExceptionsWith500(httplib::Server& server);

}  // namespace somlier
