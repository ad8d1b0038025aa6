// ApiServer: SoMLier's HTTP server — MLflow's tracking, registry and artifact REST APIs,
// the seed's /search, /register and /train, SoMLier's /runs/..., and /health — on
// cpp-httplib.
//
// Safety: with a token, every endpoint but /health and /version requires
// `Authorization: Bearer <token>` (or HTTP Basic with the token as password, which MLflow
// clients send for MLFLOW_TRACKING_USERNAME/PASSWORD), compared in constant time.
// Create() refuses a non-loopback host without a token unless `insecure`. Requests from web
// pages are held to net/browser_guard.h (Host, Origin, JSON content type). JSON request
// bodies are limited to `max_json_bytes` (413 before the body is read); artifact uploads
// to `max_upload_bytes`, streamed to disk as they arrive. Unknown endpoints answer MLflow's
// ENDPOINT_NOT_FOUND; a handler that throws answers 500 INTERNAL_ERROR and the server keeps
// serving.
//
// Connections are held by the event-driven listener (net/http_listener.h: head and idle
// deadlines, connection caps, bounded and chunked bodies); `threads` worker threads run
// the routes of complete requests, as many at once. Start()/Stop() are called from one thread; the
// services must outlive the server.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "somlier/api/use_cases.h"
#include "somlier/core/result.h"
#include "somlier/net/http_listener.h"

namespace somlier::api {
class MlflowRouter;
}  // namespace somlier::api

namespace somlier {

struct RouteInfo;

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  int port = 5000;  // 0: any free port
  std::string token;
  bool insecure = false;
  int threads = 128;
  size_t max_json_bytes = 32u << 20;
  size_t max_upload_bytes = size_t{8} << 30;
  // Names clients may address this server by besides its loopback ones (net/browser_guard.h).
  std::vector<std::string> allowed_hosts;
};

class ApiServer {
 public:
  // Errors: InvalidArgument for a non-loopback host without a token (and not insecure), or
  // bad option values.
  // `services` needs tracking and the registry; the use cases of the others are served
  // only when they are given (api/use_cases.h). They must outlive the server.
  static Result<std::unique_ptr<ApiServer>> Create(api::UseCaseServices services,
                                                   ApiServerOptions options);
  ~ApiServer();

  // Binds the listening socket and serves on a background thread. Errors: InvalidArgument
  // for a port out of range; Unavailable when the address is taken.
  Status Start();
  void Stop();

  int port() const { return listener_->port(); }
  std::string url() const { return listener_->url(); }
  // Every endpoint this server serves (net/http_routes.h).
  const std::vector<RouteInfo>& routes() const;

 private:
  ApiServer(ApiServerOptions options);
  ApiServerOptions options_;
  std::unique_ptr<HttpRoutes> server_;
  std::unique_ptr<api::MlflowRouter> router_;
  std::unique_ptr<HttpListener> listener_;
};

}  // namespace somlier
