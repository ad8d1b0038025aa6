// HttpRoutes: the routes and handlers of a SoMLier HTTP server — cpp-httplib's Server used
// for routing, handler dispatch and response writing only. It never listens itself:
// HttpListener (net/http_listener.h) owns the sockets and calls process_request for each
// complete request on one of its worker threads.
//
// It also keeps the table of its routes (method and a path that reaches each), which
// `somlier server --print_routes` and `serve-model --print_routes` print, so the
// adversarial tests attack every endpoint — including ones added later — without a list of
// their own. Register routes through this class (not a httplib::Server&) so they are
// recorded; a sub-router that matches many paths with one pattern notes each endpoint
// with NoteRoute. Register before the listener starts; read-only afterwards.
#pragma once

#include <httplib.h>

#include <string>
#include <string_view>
#include <vector>

namespace somlier {

struct RouteInfo {
  std::string method;   // GET, POST, PUT, PATCH, DELETE
  std::string path;     // a path that reaches the route (its pattern's groups filled in)
  std::string pattern;  // as registered
};

class HttpRoutes : public httplib::Server {
 public:
  using httplib::Server::process_request;

  HttpRoutes& Get(const std::string& pattern, Handler handler);
  HttpRoutes& Post(const std::string& pattern, Handler handler);
  HttpRoutes& Post(const std::string& pattern, HandlerWithContentReader handler);
  HttpRoutes& Put(const std::string& pattern, Handler handler);
  HttpRoutes& Put(const std::string& pattern, HandlerWithContentReader handler);
  HttpRoutes& Patch(const std::string& pattern, Handler handler);
  HttpRoutes& Delete(const std::string& pattern, Handler handler);

  // Records an endpoint that a catch-all pattern registered on the base class serves.
  void NoteRoute(std::string method, std::string path);

  const std::vector<RouteInfo>& routes() const { return routes_; }

  // cpp-httplib stops streaming a content provider's answer once its listening socket is
  // gone; the listener says whether it serves (any descriptor) or is stopping (-1).
  void MarkServing(int fd) { svr_sock_ = fd < 0 ? INVALID_SOCKET : fd; }

 private:
  void Record(std::string method, const std::string& pattern);
  std::vector<RouteInfo> routes_;
};

// A path that `pattern` matches: optional groups dropped, "([^/]+)" as "x", "(.+)" as
// "0/x", escaped dots unescaped. Patterns beyond that small set come back unchanged.
std::string ExamplePath(std::string_view pattern);

}  // namespace somlier
