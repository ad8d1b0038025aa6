#include "somlier/api/api_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <fmt/core.h>

#include "somlier/api/http_util.h"
#include "somlier/api/routes.h"
#include "somlier/core/base64.h"
#include "somlier/core/log.h"
#include "somlier/core/secrets.h"
#include "somlier/core/version.h"

namespace somlier {
namespace {

bool IsArtifactPath(const std::string& path) {
  return path.find("/mlflow-artifacts/") != std::string::npos;
}

// The credential a request carries: the Bearer token, or the password of HTTP Basic.
std::string PresentedToken(const httplib::Request& request) {
  const std::string header = request.get_header_value("Authorization");
  if (header.starts_with("Bearer ")) return header.substr(7);
  if (header.starts_with("Basic ")) {
    auto decoded = Base64Decode(header.substr(6));
    if (!decoded) return "";
    const auto colon = decoded->find(':');
    return colon == std::string::npos ? "" : decoded->substr(colon + 1);
  }
  return "";
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) == 1) {
    return (ntohl(address.s_addr) >> 24) == 127;
  }
  return false;
}

ApiServer::ApiServer(ApiServerOptions options)
    : options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()),
      router_(std::make_unique<api::MlflowRouter>()) {}

ApiServer::~ApiServer() { Stop(); }

Result<std::unique_ptr<ApiServer>> ApiServer::Create(TrackingService& tracking,
                                                     RegistryService& registry,
                                                     ApiServerOptions options,
                                                     TrainService* train) {
  if (!IsLoopbackHost(options.host) && options.token.empty() && !options.insecure) {
    return InvalidArgument(fmt::format(
        "refusing to listen on '{}' without a token: anyone who can reach it could read and "
        "change everything. Set --token (or SOMLIER_TOKEN), or pass --insecure to accept that",
        options.host));
  }
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument(fmt::format("port {} is not between 0 and 65535", options.port));
  }
  if (options.threads < 1) {
    return InvalidArgument(fmt::format("threads {} must be at least 1", options.threads));
  }
  std::unique_ptr<ApiServer> api(new ApiServer(options));
  httplib::Server& s = *api->server_;
  const int threads = options.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(5);  // also bounds how long Stop() waits for idle connections
  s.set_read_timeout(60, 0);
  s.set_write_timeout(60, 0);
  s.set_payload_max_length(options.max_upload_bytes);
  // cpp-httplib listens with a backlog of 5, too few for a burst of clients connecting at
  // once (a training grid starting): remember the socket, re-listen wider after binding.
  ApiServer* self = api.get();
  s.set_socket_options([self](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    self->listen_fd_ = fd;
  });

  const std::string token = options.token;
  const size_t max_json = options.max_json_bytes;
  s.set_pre_routing_handler([token, max_json](const httplib::Request& request,
                                              httplib::Response& response) {
    if (request.path == "/health" || request.path == "/version") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (!token.empty() && !ConstantTimeEquals(PresentedToken(request), token)) {
      response.set_header("WWW-Authenticate", "Bearer");
      api::SendMlflowError(response, 401, "UNAUTHENTICATED",
                           "this server needs a token: send 'Authorization: Bearer <token>' "
                           "(SOMLIER_TOKEN or MLFLOW_TRACKING_TOKEN)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!IsArtifactPath(request.path)) {
      const uint64_t length = request.get_header_value<uint64_t>("Content-Length");
      if (length > max_json ||
          request.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
        // Answer before reading the body, and close: the body is never read.
        response.set_header("Connection", "close");
        api::SendMlflowError(response, 413, "INVALID_PARAMETER_VALUE",
                             fmt::format("request bodies are limited to {} bytes (with a "
                                         "Content-Length); this one has {}",
                                         max_json, length));
        return httplib::Server::HandlerResponse::Handled;
      }
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
      api::SendMlflowError(response, response.status, "BAD_REQUEST",
                           fmt::format("the request could not be handled (HTTP {})",
                                       response.status));
    }
  });
  s.set_exception_handler([](const httplib::Request& request, httplib::Response& response,
                             std::exception_ptr error) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError("{} {} failed: {}", request.method, request.path, what);
    api::SendMlflowError(response, 500, "INTERNAL_ERROR", "internal error: " + what);
  });

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
  api::AddSeedRoutes(s, tracking, registry);
  if (train) api::AddTrainRoutes(s, tracking, *train);
  return api;
}

Status ApiServer::Bind() {
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) {
      return Unavailable(fmt::format("cannot listen on {}: no free port", options_.host));
    }
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return Unavailable(fmt::format("cannot listen on {}:{} (in use, or not an address here)",
                                     options_.host, options_.port));
    }
    port_ = options_.port;
  }
  if (listen_fd_ >= 0) ::listen(listen_fd_, 1024);
  return OkStatus();
}

Status ApiServer::Serve() {
  if (!server_->listen_after_bind()) {
    return Internal(fmt::format("the server on {} stopped with an error", url()));
  }
  return OkStatus();
}

Status ApiServer::Start() {
  SOMLIER_RETURN_IF_ERROR(Bind());
  thread_ = std::thread([this] { (void)Serve(); });
  for (int i = 0; i < 500 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return OkStatus();
}

void ApiServer::Stop() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string ApiServer::url() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", options_.host, v6 ? "]" : "", port_);
}

}  // namespace somlier
