// JsonHttp: one JSON request to a service SoMLier calls on a user's behalf (GitHub's REST
// API, Airflow's) — the base URL's origin and path prefix joined to `path`, bounded
// connection and read timeouts, the answer read up to `max_bytes` and parsed with the
// bounded JSON parser (core/json_parse.h). Credentials travel only in `headers`; messages
// name the service and its URL with credentials removed. Thread-safe (no shared state).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "somlier/core/result.h"

namespace somlier::batch {

struct JsonAnswer {
  int status = 0;
  nlohmann::json body;  // null when it was not JSON
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// `method`: GET, POST or PATCH (with `body` as application/json). Errors: InvalidArgument
// when `base_url` is not a URL (naming `setting`); Unavailable when `service` cannot be
// reached or answers more than `max_bytes`. Any HTTP status is an answer.
Result<JsonAnswer> CallJson(std::string_view service, std::string_view setting,
                            const std::string& base_url, std::string_view method,
                            const std::string& path, const HttpHeaders& headers,
                            const std::string& body = "", size_t max_bytes = 4 << 20);

}  // namespace somlier::batch
