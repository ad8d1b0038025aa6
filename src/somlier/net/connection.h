// Connection: one client connection of the HTTP listener (net/http_listener.h) and the
// stream a handler thread reads its request from and writes its answer to. Internal to
// src/somlier/net.
//
// Ownership: the listener's ConnectionTable (net/connection_table.h) owns every
// Connection; one thread at a time touches it — the thread that claimed it after one of
// its events, which reads it, runs its request and writes the answer — or else the table,
// under its mutex. The states and their transitions are documented at the top of
// net/http_listener.h.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "somlier/net/request_framing.h"

namespace somlier {

enum class ConnState { kIdle, kHead, kBody, kHandling, kWriting, kClosing };

struct Connection {
  int fd = -1;
  uint64_t serial = 0;   // the table's key and the tag of its events; accept order
  bool claimed = false;  // a thread is serving it (guarded by the table's mutex)
  std::string peer;
  int peer_port = 0;
  std::string local;
  int local_port = 0;
  ConnState state = ConnState::kIdle;
  std::chrono::steady_clock::time_point last_active;  // last byte in or out
  std::chrono::steady_clock::time_point head_started;
  std::chrono::steady_clock::time_point linger_until;

  std::string in;  // read and not yet consumed
  size_t head_scan = 0;

  // The request being read or handled.
  std::string head;  // rewritten request line and headers, without the final CRLF
  std::string method;
  std::string path;
  bool close_after = false;
  bool peer_closed = false;      // the client half-closed after sending: close once answered
  bool expect_continue = false;  // a streamed body waits for "100 Continue" (sent on first read)
  bool has_body = false;
  bool chunked = false;
  bool stream = false;
  uint64_t expected = 0;  // Content-Length
  uint64_t received = 0;
  size_t limit = 0;
  ChunkedDecoder chunk;
  std::string body;
  size_t memory_accounted = 0;
  int spool_fd = -1;
  uint64_t spool_size = 0;

  // The answer.
  std::string out;
  size_t out_off = 0;
  bool close_when_written = false;
  bool write_failed = false;
};

// Sends what it can of `c.out` without blocking; false when the peer is gone.
bool SendSome(Connection& c);

// The request as a handler reads it — the rewritten head, then the body from memory, the
// spool file or (streamed) the socket — and its answer, buffered in `c.out` and sent in
// pieces as it grows.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(Connection& c, std::chrono::milliseconds body_timeout,
                std::chrono::milliseconds write_timeout)
      : c_(c), body_timeout_(body_timeout), write_timeout_(write_timeout) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return !c_.write_failed; }
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer;
    port = c_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.local;
    port = c_.local_port;
  }
  socket_t socket() const override { return c_.fd; }

  // Whether the answer's head says the connection closes.
  bool AnswerCloses() const;
  // Whether a streamed body was left (partly) unread: the next request's start is unknown.
  bool BodyLeftUnread() const { return c_.stream && c_.received < c_.expected; }

 private:
  bool Flush();
  ssize_t ReadStreamed(char* ptr, size_t size);

  Connection& c_;
  std::chrono::milliseconds body_timeout_;
  std::chrono::milliseconds write_timeout_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  uint64_t sent_ = 0;  // answer bytes handed to Flush so far
  size_t head_off_ = 0;
  uint64_t body_off_ = 0;
  std::string head_seen_;
  bool head_done_ = false;
};

}  // namespace somlier
