// HttpListener: how every SoMLier HTTP server (the API server, model servers) is set up and
// bound — a fixed pool of handler threads, TCP_NODELAY, long-lived keep-alive connections,
// 60 s read and write timeouts, and a listen backlog of 1024 (cpp-httplib's own is 5, too
// few for a burst of clients connecting at once).
//
// Construct it over a server before adding routes; it must outlive the server's use of it
// (the server calls back into it when binding). Not thread-safe.
#pragma once

#include <string>
#include <thread>

#include "somlier/core/status.h"

namespace httplib {
class Server;
}

namespace somlier {

class HttpListener {
 public:
  // Applies the settings above, with `threads` handler threads (each keep-alive connection
  // holds one while open).
  HttpListener(httplib::Server& server, int threads);

  // Binds `host`:`port` (0: any free port). Errors: InvalidArgument for a port out of
  // range; Unavailable when the address cannot be bound.
  Status Bind(const std::string& host, int port);

  // Serves on a new thread (join it after the server's stop()) and returns once the server
  // runs — cpp-httplib's stop() does nothing to a server that has not started yet. Bind()
  // first.
  std::thread ServeInBackground();

  int port() const { return port_; }
  // http://HOST:PORT, with an IPv6 host in brackets.
  std::string url() const;

 private:
  httplib::Server& server_;
  std::string host_;
  int port_ = 0;
  int listen_fd_ = -1;  // the socket cpp-httplib binds
};

// Whether `host` names this machine's loopback interface (127.0.0.0/8, ::1, localhost).
bool IsLoopbackHost(const std::string& host);

}  // namespace somlier
