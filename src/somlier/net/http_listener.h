// HttpListener: the event-driven HTTP/1.1 front of every SoMLier server (the API server, model
// servers). A fixed pool of worker threads waits on one epoll set of connections; the
// thread that receives a connection's event reads it, and when that completes a request,
// runs the request's route (an HttpRoutes: cpp-httplib's Server, used only for routing and
// writing responses) itself and writes the answer — one wake-up per request, no hand-off
// between threads. Each connection is watched one-shot, so one thread at a time serves it
// (net/connection_table.h). One more thread accepts connections, enforces the timeouts and
// runs Stop. A client that is slow, idle or silent while sending a request holds a few
// kilobytes and a file descriptor, never a thread; one that streams an upload or reads a
// long answer holds a worker only while it keeps up 64 KiB/s on average
// (net/connection.h).
//
// Limits, all per HttpListenerOptions:
//   - a request head must arrive whole within `head_timeout` of its first byte (so one byte
//     a second does not keep a connection) and be at most `max_head_bytes` (431);
//   - a connection with no request for `idle_timeout` is closed (a new one, or a kept-alive
//     one; bytes no worker has read yet, while all are busy, do not count), and so is one
//     whose head or body is late (no answer: such a client is not waiting for one);
//   - bodies are bounded before they are read: `body_policy` gives each request's limit
//     from its method and path; a larger Content-Length, or a chunked body (any spelling of
//     `Transfer-Encoding: chunked`) that grows past it, is answered 413 and the
//     connection is closed after the client has had the chance to read the answer;
//   - bodies up to `memory_body_bytes` are kept in memory (within a budget for all
//     connections); larger ones are spooled to an unlinked temporary file, so memory stays
//     bounded whatever clients send. A route whose policy says `stream` (artifact uploads)
//     gets its body from the socket as the handler reads it, without a copy;
//   - at most `max_connections` connections (and `max_connections_per_address` from one
//     address); when full, the longest-idle keep-alive connection, then the oldest
//     incomplete request head, makes room for the newcomer. RLIMIT_NOFILE is raised to its
//     hard limit at Start.
// Chunked bodies are decoded here, so routes always see a Content-Length; a compressed
// body (Content-Encoding) is refused (415), since cpp-httplib would inflate it past every
// limit. `Expect: 100-continue` is answered once the body is accepted (for a streamed body,
// when the handler first reads it, after the token and browser checks). A client that
// half-closes after its request is answered, then closed.
//
// A connection's states (changed only by the thread that claimed it; the table closes
// unclaimed ones for timeouts, eviction and Stop):
//   kIdle    -> kHead (first byte of a request)      kHead -> kBody (head complete, a body)
//   kHead    -> kHandling (head complete, no body, or a streamed body)
//   kBody    -> kHandling (body complete)
//   kHead | kBody -> kWriting (refused: 400, 411, 413, 415, 417, 431, 501, 503; then close)
//   kHandling -> kIdle (answered in full and kept; a pipelined request is taken at once)
//   kHandling -> kWriting (the answer did not fit the socket at once: sent as it drains)
//   kHandling -> closed (the answer could not be written: the client is gone)
//   kWriting -> kIdle | kClosing                     any -> kClosing (an answer with close)
//   kClosing -> closed (output flushed, input drained or a short linger passed)
//   any but kHandling -> closed (timeout, peer gone, cap eviction, Stop)
//
// Construct over the routes before Start; the routes must outlive the listener. Bind,
// Start and Stop are called from one thread; Stop stops accepting, lets the requests that
// handlers run finish and their answers go out (up to 60 s; then their sockets are shut
// down), closes every other connection unanswered, and joins all threads (idempotent; the
// destructor calls it).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "somlier/core/status.h"

namespace somlier {

class HttpRoutes;  // net/http_routes.h

// How a request's body is taken, decided from its method and path before any of it is read.
struct BodyPolicy {
  size_t max_bytes = 0;
  bool stream = false;  // read by the handler from the socket (needs a Content-Length)
};

struct HttpListenerOptions {
  int threads = 16;  // worker threads: requests processed at once
  size_t max_connections = 10000;
  size_t max_connections_per_address = 1024;
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  size_t max_head_bytes = 64 * 1024;
  size_t memory_body_bytes = 1 << 20;              // larger bodies are spooled to disk
  size_t memory_budget_bytes = size_t{256} << 20;  // bodies held in memory, all connections
  size_t spool_budget_bytes = size_t{4} << 30;     // bodies spooled to disk, all connections
  // Both functions below are called from every worker thread at once.
  std::function<BodyPolicy(std::string_view method, std::string_view path)> body_policy;
  // The body and content type of an answer the listener gives itself (400, 408, 411, 413,
  // 431, 501, 503); JSON {"error_code", "message"} when unset.
  std::function<std::string(std::string_view path, int status, std::string_view message)>
      error_body;
};

class HttpListener {
 public:
  HttpListener(HttpRoutes& routes, HttpListenerOptions options);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds `host`:`port` (0: any free port) and listens. Errors: InvalidArgument for a port
  // out of range or a host that is not an address; Unavailable when it cannot be bound.
  Status Bind(const std::string& host, int port);

  // Starts the worker and listener threads; connections are accepted on return.
  Status Start();

  // Stops accepting, answers requests in flight, closes connections, joins the threads.
  void Stop();

  int port() const { return port_; }
  // http://HOST:PORT, with an IPv6 host in brackets.
  std::string url() const;

  class Loop;  // the threads and their connections (http_listener.cc)

 private:
  HttpRoutes& routes_;
  HttpListenerOptions options_;
  std::string host_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::unique_ptr<Loop> loop_;
};

}  // namespace somlier
