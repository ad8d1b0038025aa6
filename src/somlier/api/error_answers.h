// ErrorAnswers: how the API server answers a failed request, in its two dialects — MLflow's
// {"error_code", "message"} on the MLflow routes and SoMLier's (the seed's)
// {"status_code", "title", "detail"} on its own — with statuses from the one table
// (core/status.h). Internal errors show only a logged reference (net/http_json.h).
#pragma once

#include <httplib.h>

#include "somlier/core/status.h"
#include "somlier/net/http_json.h"

namespace somlier::api {

using somlier::SendJson;         // net/http_json.h
using somlier::SendMlflowError;  // the (status, error_code, message) form

// MLflow's error answer for a Status.
void SendMlflowError(httplib::Response& response, const Status& status);

// SoMLier's (the seed's) error answer.
void SendSeedError(httplib::Response& response, const Status& status);

}  // namespace somlier::api
