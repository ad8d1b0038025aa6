// HttpUtil: what the route files of the API server share — reading typed request fields,
// writing JSON responses, and the two error dialects (MLflow's {"error_code", "message"}
// and the seed's {"status_code", "title", "detail"}). Internal to src/somlier/api.
//
// This is the HTTP edge: handlers may throw, and the server turns any exception into a
// 500 answer; expected failures arrive here as Status values.
#pragma once

#include <httplib.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/json_number.h"
#include "somlier/core/result.h"
#include "somlier/core/strings.h"
#include "somlier/net/http_json.h"
#include "somlier/net/http_routes.h"
#include "somlier/store/entities.h"

namespace somlier::api {

// The fields of a request: the JSON body (an object; empty means {}) for POST, PATCH and
// DELETE, and the query string for GET (repeated keys make a list). Accessors check types
// and name the field in their errors ("Missing value for required parameter 'name'").
class Fields {
 public:
  static Result<Fields> From(const httplib::Request& request);
  static Result<Fields> FromJsonBody(std::string_view body);

  bool Has(std::string_view name) const;
  // Strings; numbers are accepted and spelled in decimal (legacy clients send ids as ints).
  Result<std::string> RequiredString(std::string_view name) const;
  Result<std::string> String(std::string_view name, std::string fallback = "") const;
  // A JSON number or a decimal string (protobuf JSON's int64), checked against `range`
  // before conversion (core/json_number.h).
  Result<std::optional<int64_t>> Int(std::string_view name, IntRange range = {}) const;
  Result<std::optional<double>> Double(std::string_view name) const;
  Result<std::optional<bool>> Bool(std::string_view name) const;
  Result<std::vector<std::string>> StringList(std::string_view name) const;
  // A list of {"key", "value"} objects.
  Result<std::vector<Tag>> TagList(std::string_view name) const;
  const nlohmann::json* Raw(std::string_view name) const;

 private:
  explicit Fields(nlohmann::json json) : json_(std::move(json)) {}
  nlohmann::json json_;
};

using somlier::SendJson;         // net/http_json.h
using somlier::SendMlflowError;  // the (status, error_code, message) form

// MLflow's error answer for a Status: INVALID_PARAMETER_VALUE (400), RESOURCE_DOES_NOT_EXIST
// (404), RESOURCE_ALREADY_EXISTS (400), TEMPORARILY_UNAVAILABLE (503), NOT_IMPLEMENTED
// (501), INTERNAL_ERROR (500).
void SendMlflowError(httplib::Response& response, const Status& status);

// The seed's error answer, with the HTTP status of the code table (core/status.h).
void SendSeedError(httplib::Response& response, const Status& status);

enum class Method { kGet, kPost, kPatch, kDelete };

// A handler of MLflow's JSON API: fields in, a JSON object (or a Status) out.
using JsonHandler = std::function<Result<nlohmann::json>(const Fields& fields)>;
// A POST handler that reads the raw body itself (log-batch).
using BodyHandler = std::function<Result<nlohmann::json>(std::string_view body)>;

// MlflowRouter: the endpoints under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/, found by an
// exact (method, path) lookup — one pattern match per request instead of one per endpoint
// (cpp-httplib tries its regular expressions in turn). Built before the server starts,
// read-only afterwards.
class MlflowRouter {
 public:
  // `path` after the prefix, starting with '/', e.g. "/runs/get".
  void Add(Method method, std::string_view path, JsonHandler handler);
  void AddBody(std::string_view path, BodyHandler handler);
  // Registers the catch-all patterns; unknown endpoints answer ENDPOINT_NOT_FOUND (404).
  void Install(HttpRoutes& server);

 private:
  struct Endpoint {
    JsonHandler json;
    BodyHandler body;
  };
  void Dispatch(Method method, const httplib::Request& request, httplib::Response& response) const;
  std::map<std::pair<Method, std::string>, Endpoint> endpoints_;
};

inline void AddMlflowRoute(MlflowRouter& router, Method method, std::string_view path,
                           JsonHandler handler) {
  router.Add(method, path, std::move(handler));
}

// `text` with regular-expression metacharacters escaped, for httplib's route patterns.
std::string RegexEscape(std::string_view text);

// A seed-style endpoint: POST `path`, and `/online<path>` too when `online_alias`; the
// handler reads the raw body; errors answer in the seed's shape.
void AddSeedRoute(HttpRoutes& server, const std::string& path, BodyHandler handler,
                  bool online_alias = true);

// The body as a JSON object. Errors: InvalidArgument for anything else.
Result<nlohmann::json> JsonObjectBody(std::string_view body);

// An optional boolean field of a seed-style request: true/false, or the strings "true" and
// "false" (the seed's clients sent both); nullopt when absent or null. Errors:
// InvalidArgument naming the field and the value.
template <typename Json>
Result<std::optional<bool>> JsonBool(const Json& request, const char* name) {
  auto it = request.find(name);
  if (it == request.end() || it->is_null()) return std::optional<bool>();
  if (it->is_boolean()) return std::optional<bool>(it->template get<bool>());
  if (it->is_string()) {
    const std::string text = ToLower(it->template get_ref<const std::string&>());
    if (text == "true") return std::optional<bool>(true);
    if (text == "false") return std::optional<bool>(false);
  }
  return InvalidArgument("'" + std::string(name) + "' must be true or false, not " + it->dump());
}

// The Content-Disposition header of a download named `filename` (RFC 6266): `attachment;
// filename="..."` with '"' and '\\' escaped, control characters dropped and non-ASCII
// replaced by '_' in that quoted fallback, plus `filename*=UTF-8''...` (RFC 8187
// percent-encoding) when the name has non-ASCII characters.
std::string ContentDispositionAttachment(std::string_view filename);

// A required non-empty string field of a seed-style request.
Result<std::string> RequiredJsonString(const nlohmann::json& request, const char* name);

}  // namespace somlier::api
