// MlflowRouter: the endpoints of MLflow's REST API under /api/2.0/mlflow/ and
// /ajax-api/2.0/mlflow/, found by an exact (method, path) lookup. Handlers take Fields
// (api/fields.h); unknown fields are ignored, as MLflow does. Internal to src/somlier/api.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "somlier/api/fields.h"
#include "somlier/core/result.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace somlier {
class HttpRoutes;
}  // namespace somlier

namespace somlier::api {

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

}  // namespace somlier::api
