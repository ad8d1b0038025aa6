#include "somlier/api/mlflow_router.h"

#include <fmt/core.h>
#include <httplib.h>

#include "somlier/api/error_answers.h"
#include "somlier/net/http_routes.h"

namespace somlier::api {

using nlohmann::json;

void MlflowRouter::Add(Method method, std::string_view path, JsonHandler handler) {
  endpoints_[{method, std::string(path)}].json = std::move(handler);
}

void MlflowRouter::AddBody(std::string_view path, BodyHandler handler) {
  endpoints_[{Method::kPost, std::string(path)}].body = std::move(handler);
}

void MlflowRouter::Dispatch(Method method, const httplib::Request& request,
                            httplib::Response& response) const {
  auto it = endpoints_.find({method, "/" + request.matches[1].str()});
  if (it == endpoints_.end()) {
    return SendMlflowError(response, 404, "ENDPOINT_NOT_FOUND",
                           fmt::format("no endpoint {} {}", request.method, request.path));
  }
  Result<json> body = Internal("no handler");
  if (it->second.body) {
    body = it->second.body(request.body);
  } else {
    Result<Fields> fields = Fields::From(request);
    if (!fields.ok()) return SendMlflowError(response, fields.status());
    body = it->second.json(*fields);
  }
  if (!body.ok()) return SendMlflowError(response, body.status());
  SendJson(response, *body);
}

void MlflowRouter::Install(HttpRoutes& server) {
  const std::string pattern = R"(/(?:api|ajax-api)/2\.0/mlflow/(.+))";
  auto route = [this](Method method) {
    return [this, method](const httplib::Request& request, httplib::Response& response) {
      Dispatch(method, request, response);
    };
  };
  // One catch-all per method (not recorded), and each endpoint noted for the route table.
  server.httplib::Server::Get(pattern, route(Method::kGet));
  server.httplib::Server::Post(pattern, route(Method::kPost));
  server.httplib::Server::Patch(pattern, route(Method::kPatch));
  server.httplib::Server::Delete(pattern, route(Method::kDelete));
  static constexpr std::string_view kMethodNames[] = {"GET", "POST", "PATCH", "DELETE"};
  for (const auto& [key, endpoint] : endpoints_) {
    for (const char* prefix : {"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"}) {
      server.NoteRoute(std::string(kMethodNames[static_cast<int>(key.first)]), prefix + key.second);
    }
  }
}

}  // namespace somlier::api
