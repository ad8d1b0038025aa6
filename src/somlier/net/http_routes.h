// HttpRoutes: the routes and handlers of a SoMLier HTTP server — cpp-httplib's Server used
// for routing, handler dispatch and response writing only. It never listens itself:
// HttpListener (net/http_listener.h) owns the sockets and calls process_request for each
// complete request on one of its handler threads. Register routes before the listener
// starts; read-only afterwards.
#pragma once

#include <httplib.h>

namespace somlier {

class HttpRoutes : public httplib::Server {
 public:
  using httplib::Server::process_request;
  // cpp-httplib stops streaming a content provider's answer once its listening socket is
  // gone; the listener says whether it serves (any descriptor) or is stopping (-1).
  void MarkServing(int fd) { svr_sock_ = fd < 0 ? INVALID_SOCKET : fd; }
};

}  // namespace somlier
