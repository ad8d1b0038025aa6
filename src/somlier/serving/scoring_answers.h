// The scoring protocols' answers a model server gives besides predictions: MLflow's error
// shape {"error_code", "message"} on its routes and KServe V2's {"error"} on /v2 routes.
// Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace httplib {
struct Response;
}

namespace somlier::serving {

void SendScoringError(httplib::Response& response, int status, const std::string& message);
void SendV2Error(httplib::Response& response, int status, const std::string& message);
// The error answer for `path`: V2's shape under /v2, MLflow's elsewhere.
void SendErrorFor(std::string_view path, httplib::Response& response, int status,
                  const std::string& message);

}  // namespace somlier::serving
