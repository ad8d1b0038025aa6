#include "somlier/api/api_server.h"

#include <fmt/core.h>

#include "somlier/api/error_answers.h"
#include "somlier/api/mlflow_router.h"
#include "somlier/api/routes.h"
#include "somlier/api/use_cases.h"
#include "somlier/core/base64.h"
#include "somlier/core/log.h"
#include "somlier/core/secrets.h"
#include "somlier/core/strings.h"
#include "somlier/core/version.h"
#include "somlier/net/browser_guard.h"
#include "somlier/net/http_routes.h"
#include "somlier/net/listen_socket.h"

namespace somlier {
namespace {

// An artifact upload: the one kind of request whose body is raw bytes, streamed to disk and
// limited by max_upload_bytes rather than max_json_bytes.
bool IsArtifactUpload(std::string_view method, std::string_view path) {
  return method == "PUT" && (path.starts_with("/api/2.0/mlflow-artifacts/artifacts/") ||
                             path.starts_with("/ajax-api/2.0/mlflow-artifacts/artifacts/"));
}

// The credential a request carries: the Bearer token, or the password of HTTP Basic. Auth
// schemes are case-insensitive (RFC 9110 §11.1).
std::string PresentedToken(const httplib::Request& request) {
  const std::string header = request.get_header_value("Authorization");
  const size_t space = header.find(' ');
  if (space == std::string::npos) return "";
  const std::string scheme = ToLower(header.substr(0, space));
  const std::string credentials(Trim(std::string_view(header).substr(space + 1)));
  if (scheme == "bearer") return credentials;
  if (scheme == "basic") {
    auto decoded = Base64Decode(credentials);
    if (!decoded) return "";
    const auto colon = decoded->find(':');
    return colon == std::string::npos ? "" : decoded->substr(colon + 1);
  }
  return "";
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options)
    : options_(std::move(options)),
      server_(std::make_unique<HttpRoutes>()),
      router_(std::make_unique<api::MlflowRouter>()) {}

ApiServer::~ApiServer() { Stop(); }

Result<std::unique_ptr<ApiServer>> ApiServer::Create(api::UseCaseServices services,
                                                     ApiServerOptions options) {
  if (services.tracking == nullptr || services.registry == nullptr) {
    return InvalidArgument("an API server needs the tracking and registry services");
  }
  TrackingService& tracking = *services.tracking;
  RegistryService& registry = *services.registry;
  if (!IsLoopbackHost(options.host) && options.token.empty() && !options.insecure) {
    return InvalidArgument(fmt::format(
        "refusing to listen on '{}' without a token: anyone who can reach it could read and "
        "change everything. Set --token (or SOMLIER_TOKEN), or pass --insecure to accept that",
        options.host));
  }
  if (options.threads < 1) {
    return InvalidArgument(fmt::format("threads {} must be at least 1", options.threads));
  }
  std::unique_ptr<ApiServer> api(new ApiServer(options));
  HttpRoutes& s = *api->server_;
  HttpListenerOptions listen;
  listen.threads = options.threads;
  listen.body_policy = [max_json = options.max_json_bytes, max_upload = options.max_upload_bytes](
                           std::string_view method, std::string_view path) {
    if (IsArtifactUpload(method, path)) return BodyPolicy{max_upload, /*stream=*/true};
    return BodyPolicy{max_json, /*stream=*/false};
  };
  api->listener_ = std::make_unique<HttpListener>(s, std::move(listen));
  s.set_payload_max_length(options.max_upload_bytes);

  const std::string token = options.token;
  const BrowserGuardOptions guard{!token.empty(), options.allowed_hosts};
  s.set_pre_routing_handler(
      [token, guard](const httplib::Request& request, httplib::Response& response) {
        if (request.path == "/health" || request.path == "/version") {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        // Checked before a handler reads the body (body sizes were bounded by the listener); a
        // refusal closes the connection, since an unread streamed body cannot be skipped.
        auto refuse = [&response](int status, std::string_view code, const std::string& message) {
          response.set_header("Connection", "close");
          api::SendMlflowError(response, status, code, message);
          return httplib::Server::HandlerResponse::Handled;
        };
        const bool upload = IsArtifactUpload(request.method, request.path);
        if (upload) {
          // The listener streams these bodies to the upload route; a path that route's pattern
          // does not take would have cpp-httplib read the whole body into memory instead.
          const std::string_view rest =
              std::string_view(request.path).substr(request.path.find("/artifacts/") + 11);
          if (rest.empty() || rest.find_first_of("\r\n") != std::string_view::npos) {
            return refuse(404, "ENDPOINT_NOT_FOUND",
                          "an artifact upload needs a file path after .../artifacts/");
          }
        }
        if (auto refusal = CheckBrowserRequest(request, guard, /*body_is_raw=*/upload)) {
          return refuse(refusal->http_status,
                        refusal->http_status == 403 ? "PERMISSION_DENIED" : "BAD_REQUEST",
                        refusal->message);
        }
        if (!token.empty() && !ConstantTimeEquals(PresentedToken(request), token)) {
          response.set_header("WWW-Authenticate", "Bearer");
          return refuse(401, "UNAUTHENTICATED",
                        "this server needs a token: send 'Authorization: Bearer <token>' "
                        "(SOMLIER_TOKEN or MLFLOW_TRACKING_TOKEN)");
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  s.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    if (response.status == 404) {
      api::SendMlflowError(response, 404, "ENDPOINT_NOT_FOUND",
                           fmt::format("no endpoint {} {}", request.method, request.path));
    } else if (response.status == 413) {
      api::SendMlflowError(response, 413, "INVALID_PARAMETER_VALUE", "the request is too large");
    } else {
      api::SendMlflowError(
          response, response.status, "BAD_REQUEST",
          fmt::format("the request could not be handled (HTTP {})", response.status));
    }
  });
  AnswerExceptionsWith500(s);

  s.Get("/health", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("OK", "text/plain");
  });
  s.Get("/version", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(std::string(kSomlierVersion), "text/plain");
  });
  api::AddTrackingRoutes(*api->router_, tracking);
  api::AddRegistryRoutes(*api->router_, registry);
  api->router_->Install(s);
  api::AddArtifactRoutes(s, tracking);
  if (services.train) api::AddProjectSourceRoute(s, *services.train);
  api::AddUseCaseRoutes(s, services);
  return api;
}

Status ApiServer::Start() {
  SOMLIER_RETURN_IF_ERROR(listener_->Bind(options_.host, options_.port));
  return listener_->Start();
}

void ApiServer::Stop() { listener_->Stop(); }

const std::vector<RouteInfo>& ApiServer::routes() const { return server_->routes(); }

}  // namespace somlier
