#include "somlier/net/http_listener.h"

#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "somlier/net/body_store.h"
#include "somlier/net/connection.h"
#include "somlier/net/connection_table.h"
#include "somlier/net/http_json.h"
#include "somlier/net/http_routes.h"
#include "somlier/net/listen_socket.h"
#include "somlier/net/request_framing.h"

namespace somlier {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kReadsPerEvent = 4;               // at most 256 KiB read per wake-up
constexpr int kRequestsPerTurn = 16;               // pipelined requests run per wake-up, at most
constexpr auto kLinger = std::chrono::seconds(2);  // reading after a refusal, before close
constexpr auto kSweepEvery = std::chrono::milliseconds(200);

std::string DefaultErrorBody(std::string_view, int status, std::string_view message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    escaped += c;
  }
  return fmt::format(R"({{"error_code": "{}", "message": "{}"}})",
                     status == 503 ? "TEMPORARILY_UNAVAILABLE" : "INVALID_PARAMETER_VALUE",
                     escaped);
}

}  // namespace

class HttpListener::Loop {
 public:
  Loop(HttpRoutes& routes, const HttpListenerOptions& options, int listen_fd)
      : routes_(routes),
        options_(options),
        listen_fd_(listen_fd),
        bodies_(options.memory_body_bytes, options.memory_budget_bytes, options.spool_budget_bytes),
        // A connection may hold a spool file besides its socket.
        table_(bodies_, std::min(options.max_connections, RaiseFileLimit() / 2),
               options.max_connections_per_address) {}

  ~Loop() {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }

  Status Start() {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0 || stop_fd_ < 0) {
      return Unavailable(
          fmt::format("cannot set up the HTTP event loop: {}", std::strerror(errno)));
    }
    SOMLIER_RETURN_IF_ERROR(table_.Open(wake_fd_));
    try {
      for (int i = 0; i < std::max(options_.threads, 1); ++i) {
        workers_.emplace_back([this] { Work(); });
      }
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error& e) {  // out of threads: undo what started
      Stop();
      return Unavailable(
          fmt::format("cannot start the HTTP server's {} threads: {}", options_.threads, e.what()));
    }
    return OkStatus();
  }

  // Idempotent; also undoes a Start that failed halfway.
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      Signal(stop_fd_);
      thread_.join();
    }
    // The wake-up descriptor is never read: it stays readable, so every worker's
    // epoll_wait returns, sees workers_stop_ and ends.
    workers_stop_.store(true);
    if (!workers_.empty()) Signal(wake_fd_);
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

 private:
  // ---- the listener thread: accepting, timeouts, stopping ----

  void Run() {
    auto next_sweep = Clock::now() + kSweepEvery;
    bool accept_paused = false;
    while (!stop_.load()) {
      pollfd p[2] = {{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_sweep - Clock::now());
      ::poll(p, accept_paused ? 1 : 2, static_cast<int>(std::max<int64_t>(wait.count(), 0)));
      if (stop_.load()) break;
      if (!accept_paused && (p[1].revents & POLLIN)) accept_paused = !Accept();
      if (Clock::now() >= next_sweep) {
        Sweep(Clock::now());
        accept_paused = false;
        next_sweep = Clock::now() + kSweepEvery;
      }
    }
    // Stop accepting; answer what is in flight; close the rest unanswered.
    ::close(listen_fd_);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (true) {
      table_.CloseUnclaimedIf([](const Connection& c) { return c.state != ConnState::kWriting; });
      Sweep(Clock::now());  // an answer nobody reads still times out
      if (table_.size() == 0) break;
      if (Clock::now() > deadline) {
        // Handlers still blocked on a client: make their reads and writes fail so that
        // Stop can join them (shutdown, unlike close, is safe while they use the socket).
        table_.ShutdownAll();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Accepts what is waiting. False when out of descriptors with nothing to shed: the
  // listening socket is then left alone until the next sweep (it would stay readable).
  bool Accept() {
    while (true) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          if (table_.Evict()) continue;  // shed the connection least worth keeping
          return false;
        }
        return true;
      }
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      AddressOf(peer, c->peer, c->peer_port);
      sockaddr_storage local{};
      socklen_t local_length = sizeof local;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
        AddressOf(local, c->local, c->local_port);
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      c->last_active = Clock::now();
      table_.Add(std::move(c));
    }
  }

  // Closes the connections whose client is late. A connection past its time whose socket
  // holds input no worker has read, or can take the rest of its answer, is waiting for a
  // free worker, not for its client: it is kept.
  void Sweep(Clock::time_point now) {
    table_.CloseUnclaimedIf([&](const Connection& c) {
      const auto late = [&] {
        switch (c.state) {
          case ConnState::kIdle:
            return now - c.last_active > options_.idle_timeout;
          case ConnState::kHead:
            return now - c.head_started > options_.head_timeout;
          case ConnState::kBody:
            return now - c.last_active > options_.body_timeout;
          case ConnState::kWriting:
            return now - c.last_active > options_.write_timeout;
          case ConnState::kClosing:
            return now > c.linger_until;
          case ConnState::kHandling:
            return false;
        }
        return false;
      };
      if (!late()) return false;
      if (c.state == ConnState::kClosing) return true;
      if (c.state == ConnState::kWriting) return !SocketReady(c.fd, POLLOUT);
      if (c.state == ConnState::kIdle && !c.in.empty()) return false;  // a yielded turn
      return !SocketReady(c.fd, POLLIN) || stop_.load();
    });
  }

  // Whether `fd` is ready for `events` now (a hang-up or error counts as not ready).
  static bool SocketReady(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & events) && !(p.revents & (POLLERR | POLLHUP));
  }

  static void Signal(int fd) {
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  }

  // ---- the worker threads: each serves the connection whose event it received ----

  void Work() {
    while (!workers_stop_.load()) {
      epoll_event event{};
      const int n = ::epoll_wait(table_.epoll_fd(), &event, 1, -1);
      if (n <= 0 || event.data.u64 == ConnectionTable::kWakeTag || workers_stop_.load()) {
        continue;
      }
      if (Connection* c = table_.Claim(event.data.u64)) Serve(*c, event.events);
    }
  }

  // Does what the event calls for — reads, advances the request, runs it on this thread
  // (and up to kRequestsPerTurn - 1 requests pipelined behind it), writes — then gives the
  // connection back to the table, watched for what it waits for next, or closes it.
  void Serve(Connection& c, uint32_t events) {
    auto now = Clock::now();
    bool open = true;
    if (c.state == ConnState::kWriting) {
      open = (events & EPOLLOUT) && SendSome(c);  // an error or hang-up alone: gone
      if (open) {
        c.last_active = now;
        if (c.out.empty()) AfterAnswer(c, now);
      }
    } else if (events & EPOLLIN) {
      open = Read(c, now);
    } else if (!(events & EPOLLOUT)) {  // EPOLLOUT alone: a turn yielded with input to take
      open = false;                     // an error or hang-up
    }
    bool yielded = false;
    for (int served = 0;
         open && c.state != ConnState::kWriting && c.state != ConnState::kClosing;) {
      if (c.state == ConnState::kIdle && (c.in.empty() || stop_.load())) {
        open = !stop_.load();  // stopping: no new request starts
        break;
      }
      if (served == kRequestsPerTurn) {  // fairness: the rest after other connections' turns
        yielded = true;
        break;
      }
      Advance(c, now);
      if (c.state != ConnState::kHandling) break;
      open = RunRequest(c);
      ++served;
      now = Clock::now();
    }
    // A client that half-closed gets its answer, then the connection goes.
    if (open && c.peer_closed && c.state != ConnState::kWriting && !yielded) open = false;
    if (!open) return table_.Close(c);
    // A yielded turn comes back at once (the socket is writable), behind the events already
    // waiting; a request that waits for input is watched for it.
    table_.Rearm(c, c.state == ConnState::kWriting || yielded ? EPOLLOUT : EPOLLIN);
  }

  // Reads what the socket holds (a bounded amount). False when the connection is done: the
  // peer closed or reset it with nothing left to answer, or it was closing anyway.
  bool Read(Connection& c, Clock::time_point now) {
    char buffer[kReadChunk];
    for (size_t i = 0; i < kReadsPerEvent; ++i) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n == 0 && c.state != ConnState::kClosing && !c.in.empty()) {
        c.peer_closed = true;  // a half-close: answer what it sent, then close
        return true;
      }
      if (n <= 0) return false;
      c.last_active = now;
      if (c.state == ConnState::kClosing) continue;  // drained and dropped
      c.in.append(buffer, static_cast<size_t>(n));
      if (c.state == ConnState::kBody || c.in.size() > options_.max_head_bytes + kReadChunk) break;
    }
    return true;
  }

  // Advances the connection through what its input holds: a head, then a body, until a
  // request is complete (kHandling) or refused (kWriting).
  void Advance(Connection& c, Clock::time_point now) {
    if (c.state == ConnState::kIdle || c.state == ConnState::kHead) {
      if (c.in.empty()) return;
      if (c.state == ConnState::kIdle) {
        c.state = ConnState::kHead;
        c.head_started = now;
        c.head_scan = 0;
      }
      const size_t end = c.in.find("\r\n\r\n", c.head_scan);
      if (end == std::string::npos) {
        if (c.in.size() > options_.max_head_bytes) {
          return Refuse(
              c, 431,
              fmt::format("the request head is larger than {} bytes", options_.max_head_bytes));
        }
        c.head_scan = c.in.size() >= 3 ? c.in.size() - 3 : 0;
        return;
      }
      if (end + 4 > options_.max_head_bytes) {
        return Refuse(
            c, 431,
            fmt::format("the request head is larger than {} bytes", options_.max_head_bytes));
      }
      const std::string head = c.in.substr(0, end);
      c.in.erase(0, end + 4);
      if (!ParseHead(c, head, now)) return;
      if (!c.has_body || c.stream) return Complete(c);
      c.state = ConnState::kBody;
    }
    if (c.state == ConnState::kBody) {
      if (!ConsumeBody(c)) return;
      if (c.chunked ? c.chunk.done() : c.received == c.expected) Complete(c);
    }
  }

  // Reads the request line and headers and decides how the body is taken. False when the
  // request was refused.
  bool ParseHead(Connection& c, std::string_view text, Clock::time_point now) {
    ParsedHead parsed = ParseRequestHead(text);
    RequestHead& h = parsed.head;
    c.method = std::move(h.method);
    c.path = std::move(h.path);
    if (parsed.refusal) return Refuse(c, parsed.refusal->status, parsed.refusal->message), false;
    c.head = std::move(h.forwarded);
    c.close_after = h.close_after;
    c.chunked = h.chunked;
    c.has_body = h.has_body();
    c.stream = false;
    c.expected = h.content_length.value_or(0);
    c.received = 0;
    c.chunk = ChunkedDecoder();
    const BodyPolicy policy = options_.body_policy ? options_.body_policy(c.method, c.path)
                                                   : BodyPolicy{size_t{32} << 20, false};
    c.limit = policy.max_bytes;
    if (c.has_body) {
      if (!c.chunked && c.expected > c.limit) {
        return Refuse(c, 413,
                      fmt::format("request bodies of {} {} are limited to {} bytes; this "
                                  "one has {}",
                                  c.method, c.path, c.limit, c.expected)),
               false;
      }
      if (policy.stream) {
        if (c.chunked) {
          return Refuse(c, 411,
                        fmt::format("{} {} needs a Content-Length (chunked bodies are "
                                    "not accepted here)",
                                    c.method, c.path)),
                 false;
        }
        c.stream = true;
        c.head += fmt::format("Content-Length: {}\r\n", c.expected);
      }  // a body larger than memory takes goes to a spool file once its bytes arrive
    } else if (c.method == "POST" || c.method == "PUT" || c.method == "PATCH") {
      c.head += "Content-Length: 0\r\n";
    }
    // A streamed body is invited by the handler's stream when it first reads it (after the
    // token and browser checks); a buffered one now. The answer buffer is empty here (the
    // previous answer was sent whole), so these few bytes fit; if not, the connection goes.
    c.expect_continue = h.expect_continue && c.has_body && c.stream;
    if (h.expect_continue && c.has_body && !c.stream) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
          static_cast<ssize_t>(kContinue.size())) {
        c.peer_closed = true;
        return Refuse(c, 503, "the connection cannot take more data"), false;
      }
    }
    c.last_active = now;
    return true;
  }

  // Moves what the input holds of the body into the body. False when the request was
  // refused.
  bool ConsumeBody(Connection& c) {
    if (!c.chunked) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(c.in.size(), c.expected - c.received));
      if (n > 0 && !AppendBody(c, c.in.data(), n)) return false;
      c.in.erase(0, n);
      return true;
    }
    const ChunkedDecoder::Fed fed = c.chunk.Feed(
        c.in, c.limit, fmt::format("{} {}", c.method, c.path),
        [&](std::string_view data) { return AppendBody(c, data.data(), data.size()); });
    if (fed.stopped) return false;  // AppendBody refused the request
    if (fed.refusal) return Refuse(c, fed.refusal->status, fed.refusal->message), false;
    c.in.erase(0, fed.consumed);
    return true;
  }

  bool AppendBody(Connection& c, const char* data, size_t n) {
    auto refused = bodies_.Append(c, std::string_view(data, n));
    if (refused) Refuse(c, refused->status, refused->message);
    return !refused;
  }

  // The request is whole (or, streamed, its head is): finish the head the routes read.
  void Complete(Connection& c) {
    if (!c.stream) {
      const uint64_t size = c.spool_fd >= 0 ? c.spool_size : c.body.size();
      if (c.has_body) c.head += fmt::format("Content-Length: {}\r\n", size);
    }
    c.head += "\r\n";
    c.state = ConnState::kHandling;
  }

  // Runs the request's route on this thread and sends what the socket takes of the answer.
  // False when the client is gone; otherwise the connection is left kWriting (the rest of
  // the answer waits for the socket), kIdle or kClosing.
  bool RunRequest(Connection& c) {
    RequestStream stream(c, options_.body_timeout, options_.write_timeout);
    bool connection_closed = false;
    const bool close = c.close_after || c.peer_closed || stop_.load();
    const bool ok =
        routes_.process_request(stream, close, connection_closed, [](httplib::Request&) {});
    c.close_when_written =
        !ok || close || connection_closed || stream.AnswerCloses() || stream.BodyLeftUnread();
    if (!c.write_failed && !SendSome(c)) c.write_failed = true;
    bodies_.Release(c);
    c.head.clear();
    if (c.write_failed) return false;
    const auto now = Clock::now();
    c.last_active = now;
    if (!c.out.empty()) {
      c.state = ConnState::kWriting;
    } else {
      AfterAnswer(c, now);
    }
    return true;
  }

  // Answers the request with an error and closes the connection once the answer is out.
  void Refuse(Connection& c, int status, const std::string& message) {
    const std::string body = options_.error_body ? options_.error_body(c.path, status, message)
                                                 : DefaultErrorBody(c.path, status, message);
    c.out = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        status, ReasonPhrase(status), body.size(), body);
    c.out_off = 0;
    c.in.clear();
    bodies_.Release(c);
    c.close_when_written = true;
    c.state = ConnState::kWriting;
    c.last_active = Clock::now();
    // A peer that is gone shows as an error event once the connection is watched again.
    if (SendSome(c) && c.out.empty()) AfterAnswer(c, Clock::now());
  }

  // The answer is out: keep the connection for the next request, or close it (after a
  // short linger that reads and drops what the client still sends, so that it can read
  // the answer before the close resets the connection).
  void AfterAnswer(Connection& c, Clock::time_point now) {
    if (c.close_when_written || stop_.load()) {
      ::shutdown(c.fd, SHUT_WR);
      c.state = ConnState::kClosing;
      c.linger_until = now + kLinger;
      c.in.clear();
      return;
    }
    c.state = ConnState::kIdle;
    c.last_active = now;
  }

  HttpRoutes& routes_;
  const HttpListenerOptions& options_;
  int listen_fd_;
  int wake_fd_ = -1;  // wakes the workers at Stop (tagged kWakeTag in the table's epoll set)
  int stop_fd_ = -1;  // wakes the listener thread at Stop
  std::atomic<bool> stop_{false};
  std::atomic<bool> workers_stop_{false};
  BodyStore bodies_;
  ConnectionTable table_;
  std::thread thread_;
  std::vector<std::thread> workers_;
};

HttpListener::HttpListener(HttpRoutes& routes, HttpListenerOptions options)
    : routes_(routes), options_(std::move(options)) {
  // What cpp-httplib announces in its Keep-Alive header: the listener's idle timeout, and no
  // cap on requests per connection.
  routes_.set_keep_alive_timeout(std::max<time_t>(1, options_.idle_timeout.count() / 1000));
  routes_.set_keep_alive_max_count(1000000);
}

HttpListener::~HttpListener() {
  Stop();
  if (listen_fd_ >= 0 && !loop_) ::close(listen_fd_);
}

Status HttpListener::Bind(const std::string& host, int port) {
  SOMLIER_ASSIGN_OR_RETURN(ListenSocket socket, OpenListenSocket(host, port));
  host_ = host;
  port_ = socket.port;
  listen_fd_ = socket.fd;
  return OkStatus();
}

Status HttpListener::Start() {
  if (listen_fd_ < 0) return FailedPrecondition("the HTTP listener is not bound");
  loop_ = std::make_unique<Loop>(routes_, options_, listen_fd_);
  if (Status started = loop_->Start(); !started.ok()) {
    loop_.reset();  // the loop never ran: the listening socket is still ours to close
    return started;
  }
  routes_.MarkServing(listen_fd_);
  return OkStatus();
}

void HttpListener::Stop() {
  if (loop_) {
    routes_.MarkServing(-1);
    loop_->Stop();  // closes the listening socket
    loop_.reset();
    listen_fd_ = -1;
  }
}

std::string HttpListener::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", host_, v6 ? "]" : "", port_);
}

}  // namespace somlier
