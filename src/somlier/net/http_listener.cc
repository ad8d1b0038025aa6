#include "somlier/net/http_listener.h"

#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "somlier/net/body_store.h"
#include "somlier/net/connection.h"
#include "somlier/net/http_routes.h"
#include "somlier/net/listen_socket.h"
#include "somlier/net/request_framing.h"

namespace somlier {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kReadsPerEvent = 4;          // fairness: at most 256 KiB per wake-up
constexpr auto kLinger = std::chrono::seconds(2);  // reading after a refusal, before close
constexpr auto kSweepEvery = std::chrono::milliseconds(200);

std::string_view Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

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
        bodies_(options.memory_body_bytes, options.memory_budget_bytes,
                options.spool_budget_bytes) {}

  ~Loop() {
    for (auto& [fd, c] : connections_) CloseFds(*c);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  Status Start() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return Unavailable(fmt::format("cannot set up the HTTP event loop: {}", std::strerror(errno)));
    }
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = listen_fd_;
    const bool watched = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &e) == 0;
    e.data.fd = wake_fd_;
    if (!watched || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &e) != 0) {
      return Unavailable(fmt::format("cannot set up the HTTP event loop: {}", std::strerror(errno)));
    }
    // A connection may hold a spool file besides its socket.
    max_connections_ = std::min(options_.max_connections, RaiseFileLimit() / 2);
    for (int i = 0; i < std::max(options_.threads, 1); ++i) {
      workers_.emplace_back([this] { Work(); });
    }
    thread_ = std::thread([this] { Run(); });
    return OkStatus();
  }

  void Stop() {
    stop_.store(true);
    Wake();
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(mutex_);
      workers_stop_ = true;
    }
    ready_cv_.notify_all();
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
    workers_.clear();
  }

 private:
  // ---- the event loop ----

  void Run() {
    std::vector<epoll_event> events(256);
    auto next_sweep = Clock::now() + kSweepEvery;
    bool stopping = false;
    Clock::time_point stop_deadline;
    while (true) {
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(kSweepEvery.count()));
      const auto now = Clock::now();
      for (int i = 0; i < std::max(n, 0); ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          if (!stopping) Accept(now);
          continue;
        }
        if (fd == wake_fd_) {
          uint64_t count;
          while (::read(wake_fd_, &count, sizeof count) > 0) {
          }
          continue;
        }
        auto it = connections_.find(fd);
        if (it == connections_.end()) continue;
        Connection& c = *it->second;
        // A handler thread is handing it back (HandBack): its events wait until it has.
        if (c.state.load(std::memory_order_acquire) == ConnState::kDispatched) continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          if (c.state == ConnState::kWriting && !(events[i].events & EPOLLIN)) {
            Close(c);
            continue;
          }
          if (events[i].events & EPOLLIN) OnReadable(c, now);
          else Close(c);
        } else if (events[i].events & EPOLLOUT) {
          OnWritable(c, now);
        }
      }
      DrainFinished(Clock::now());
      if (stop_.load() && !stopping) {  // stop accepting; answer what is in flight
        stopping = true;
        stop_deadline = Clock::now() + std::chrono::seconds(60);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        ::close(listen_fd_);
      }
      if (stopping) {
        std::vector<Connection*> quiet;
        for (auto& [fd, c] : connections_) {
          if (c->state != ConnState::kDispatched && c->state != ConnState::kWriting) {
            quiet.push_back(c.get());
          }
        }
        for (Connection* c : quiet) Close(*c);
        if (connections_.empty()) break;
        if (Clock::now() > stop_deadline) {
          // Handlers still blocked on a client: make their reads and writes fail so that
          // Stop can join them (shutdown, unlike close, is safe while they use the socket).
          for (auto& [fd, c] : connections_) ::shutdown(fd, SHUT_RDWR);
          break;
        }
      }
      if (Clock::now() >= next_sweep) {
        Sweep(Clock::now());
        next_sweep = Clock::now() + kSweepEvery;
      }
    }
    // Past the deadline: what is still dispatched is abandoned to its handler thread, which
    // finishes writing on its own; its connection is closed when the workers are joined.
  }

  void Accept(Clock::time_point now) {
    while (true) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: shed the connection least worth keeping, then try again; when
          // none can go, stop watching the listening socket until the next sweep (it would
          // stay readable and spin the loop).
          if (MakeRoom()) continue;
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
          accept_paused_ = true;
        }
        return;
      }
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      AddressOf(peer, c->peer, c->peer_port);
      const auto known = per_address_.find(c->peer);
      const size_t from_peer = known == per_address_.end() ? 0 : known->second;
      // MakeRoom may close (and forget) a connection of this very address: look up after it.
      if (from_peer >= options_.max_connections_per_address ||
          (connections_.size() >= max_connections_ && !MakeRoom())) {
        ::close(fd);
        continue;
      }
      ++per_address_[c->peer];
      sockaddr_storage local{};
      socklen_t local_length = sizeof local;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
        AddressOf(local, c->local, c->local_port);
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      c->last_active = now;
      c->serial = ++accepted_;
      Connection& ref = *c;
      connections_.emplace(fd, std::move(c));
      Watch(ref, EPOLLIN);
    }
  }

  // Closes the connection least worth keeping: the longest-idle keep-alive one, else the
  // oldest incomplete request head. False when every connection is doing real work.
  bool MakeRoom() {
    auto older = [](Clock::time_point a, const Connection& ca, Clock::time_point b,
                    const Connection& cb) {
      return a < b || (a == b && ca.serial < cb.serial);
    };
    Connection* victim = nullptr;
    for (auto& [fd, c] : connections_) {
      if (c->state == ConnState::kIdle &&
          (victim == nullptr || older(c->last_active, *c, victim->last_active, *victim))) {
        victim = c.get();
      }
    }
    if (victim == nullptr) {
      for (auto& [fd, c] : connections_) {
        if (c->state == ConnState::kHead &&
            (victim == nullptr || older(c->head_started, *c, victim->head_started, *victim))) {
          victim = c.get();
        }
      }
    }
    if (victim == nullptr) return false;
    Close(*victim);
    return true;
  }

  void OnReadable(Connection& c, Clock::time_point now) {
    char buffer[kReadChunk];
    for (size_t i = 0; i < kReadsPerEvent; ++i) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n == 0 && c.state != ConnState::kClosing && !c.in.empty()) {
        // The peer finished sending (a half-close): answer what it sent, then close.
        c.peer_closed = true;  // before Process: a dispatch hands c to a handler thread
        Process(c, now);
        if (c.state != ConnState::kDispatched && c.state != ConnState::kWriting) Close(c);
        return;
      }
      if (n <= 0) {  // the peer closed (or reset) its side
        Close(c);
        return;
      }
      c.last_active = now;
      if (c.state == ConnState::kClosing) continue;  // drained and dropped
      c.in.append(buffer, static_cast<size_t>(n));
      if (c.state == ConnState::kBody || c.in.size() > options_.max_head_bytes + kReadChunk) break;
    }
    if (c.state != ConnState::kClosing) Process(c, now);
  }

  void OnWritable(Connection& c, Clock::time_point now) {
    if (!SendSome(c)) {
      Close(c);
      return;
    }
    c.last_active = now;
    if (c.out.empty()) AfterAnswer(c, now);
  }

  // Advances the connection through what its input holds: a head, then a body, then a
  // dispatch to a handler thread.
  void Process(Connection& c, Clock::time_point now) {
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
          return Refuse(c, 431, fmt::format("the request head is larger than {} bytes",
                                            options_.max_head_bytes));
        }
        c.head_scan = c.in.size() >= 3 ? c.in.size() - 3 : 0;
        return;
      }
      if (end + 4 > options_.max_head_bytes) {
        return Refuse(c, 431, fmt::format("the request head is larger than {} bytes",
                                          options_.max_head_bytes));
      }
      const std::string head = c.in.substr(0, end);
      c.in.erase(0, end + 4);
      if (!ParseHead(c, head, now)) return;
      if (!c.has_body || c.stream) return Dispatch(c);
      c.state = ConnState::kBody;
    }
    if (c.state == ConnState::kBody) {
      if (!ConsumeBody(c)) return;
      if (c.chunked ? c.chunk.done() : c.received == c.expected) {
        Dispatch(c);
      }
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
        return Refuse(c, 413, fmt::format("request bodies of {} {} are limited to {} bytes; this "
                                          "one has {}",
                                          c.method, c.path, c.limit, c.expected)),
               false;
      }
      if (policy.stream) {
        if (c.chunked) {
          return Refuse(c, 411, fmt::format("{} {} needs a Content-Length (chunked bodies are "
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
      const size_t n = static_cast<size_t>(std::min<uint64_t>(c.in.size(), c.expected - c.received));
      if (n > 0 && !AppendBody(c, c.in.data(), n)) return false;
      c.in.erase(0, n);
      return true;
    }
    const ChunkedDecoder::Fed fed =
        c.chunk.Feed(c.in, c.limit, fmt::format("{} {}", c.method, c.path),
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

  void ReleaseBody(Connection& c) { bodies_.Release(c); }

  void Dispatch(Connection& c) {
    if (!c.stream) {
      const uint64_t size = c.spool_fd >= 0 ? c.spool_size : c.body.size();
      if (c.has_body) c.head += fmt::format("Content-Length: {}\r\n", size);
    }
    c.head += "\r\n";
    c.state = ConnState::kDispatched;
    Unwatch(c);
    {
      std::lock_guard lock(mutex_);
      ready_.push_back(&c);
    }
    ready_cv_.notify_one();
  }

  // Answers the request with an error and closes the connection once the answer is out.
  void Refuse(Connection& c, int status, const std::string& message) {
    const std::string body = options_.error_body ? options_.error_body(c.path, status, message)
                                                 : DefaultErrorBody(c.path, status, message);
    c.out = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        status, Reason(status), body.size(), body);
    c.out_off = 0;
    c.in.clear();
    ReleaseBody(c);
    c.close_when_written = true;
    c.state = ConnState::kWriting;
    c.last_active = Clock::now();
    // Never closed from here (callers still hold the connection): a peer that is gone shows
    // as an error event on the next turn of the loop.
    if (SendSome(c) && c.out.empty()) return AfterAnswer(c, Clock::now());
    Watch(c, EPOLLOUT);
  }

  // The answer is out: keep the connection for the next request, or close it.
  void AfterAnswer(Connection& c, Clock::time_point now) {
    if (c.close_when_written || stop_.load()) {
      ::shutdown(c.fd, SHUT_WR);
      c.state = ConnState::kClosing;
      c.linger_until = now + kLinger;
      c.in.clear();
      Watch(c, EPOLLIN);
      return;
    }
    c.state = ConnState::kIdle;
    c.last_active = now;
    Watch(c, EPOLLIN);
    Process(c, now);  // a pipelined request may be waiting already
  }

  void Sweep(Clock::time_point now) {
    if (accept_paused_ && !stop_.load()) {
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.fd = listen_fd_;
      accept_paused_ = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &e) != 0;
    }
    std::vector<Connection*> expired;
    for (auto& [fd, cp] : connections_) {
      Connection& c = *cp;
      switch (c.state) {
        case ConnState::kIdle:
          if (now - c.last_active > options_.idle_timeout) expired.push_back(&c);
          break;
        case ConnState::kHead:
          if (now - c.head_started > options_.head_timeout) expired.push_back(&c);
          break;
        case ConnState::kBody:
          if (now - c.last_active > options_.body_timeout) expired.push_back(&c);
          break;
        case ConnState::kWriting:
          if (now - c.last_active > options_.write_timeout) expired.push_back(&c);
          break;
        case ConnState::kClosing:
          if (now > c.linger_until) expired.push_back(&c);
          break;
        case ConnState::kDispatched:
          break;
      }
    }
    for (Connection* c : expired) Close(*c);
  }

  void Watch(Connection& c, uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &e);
    c.registered = true;
  }

  void Unwatch(Connection& c) {
    if (c.registered) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    c.registered = false;
  }

  void Close(Connection& c) {
    Unwatch(c);
    ReleaseBody(c);
    CloseFds(c);
    if (auto it = per_address_.find(c.peer); it != per_address_.end() && --it->second == 0) {
      per_address_.erase(it);
    }
    connections_.erase(c.fd);  // destroys c
  }

  static void CloseFds(Connection& c) {
    if (c.spool_fd >= 0) ::close(c.spool_fd);
    c.spool_fd = -1;
    ::close(c.fd);
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  // Connections whose handler has finished come back to the loop here.
  void DrainFinished(Clock::time_point now) {
    std::vector<Connection*> finished;
    {
      std::lock_guard lock(mutex_);
      finished.swap(finished_);
    }
    for (Connection* c : finished) {
      ReleaseBody(*c);
      c->head.clear();
      if (c->write_failed) {
        Close(*c);
        continue;
      }
      c->last_active = now;
      if (!c->out.empty()) {
        c->state = ConnState::kWriting;
        Watch(*c, EPOLLOUT);
      } else {
        AfterAnswer(*c, now);
      }
    }
  }

  // ---- handler threads ----

  // Gives an idle connection back to the loop from a handler thread. The loop ignores
  // events of a dispatched connection, so registering first and then publishing the state
  // means the loop sees it only once it is complete; after the store it is the loop's (it
  // may be closed at once) and this thread must not touch it again.
  void HandBack(Connection& c) {
    c.registered = true;
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &e);
    c.state.store(ConnState::kIdle, std::memory_order_release);
  }

  void Work() {
    while (true) {
      Connection* c = nullptr;
      {
        std::unique_lock lock(mutex_);
        ready_cv_.wait(lock, [this] { return workers_stop_ || !ready_.empty(); });
        if (ready_.empty()) return;
        c = ready_.front();
        ready_.pop_front();
      }
      Handle(*c);
      if (!c->write_failed && c->out.empty() && !c->close_when_written && c->in.empty() &&
          !stop_.load()) {
        // Answered in full and kept alive, with nothing more buffered: back to the loop's
        // epoll set directly, without waking the loop thread.
        ReleaseBody(*c);
        c->head.clear();
        c->last_active = Clock::now();
        HandBack(*c);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        finished_.push_back(c);
      }
      Wake();
    }
  }

  void Handle(Connection& c) {
    RequestStream stream(c, options_.body_timeout, options_.write_timeout);
    bool connection_closed = false;
    const bool close = c.close_after || c.peer_closed || stop_.load();
    const bool ok = routes_.process_request(stream, close, connection_closed,
                                            [](httplib::Request&) {});
    c.close_when_written = !ok || close || connection_closed || stream.AnswerCloses() ||
                           stream.BodyLeftUnread();
    if (!c.write_failed && !SendSome(c)) c.write_failed = true;
  }

  HttpRoutes& routes_;
  const HttpListenerOptions& options_;
  int listen_fd_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  size_t max_connections_ = 0;
  uint64_t accepted_ = 0;
  bool accept_paused_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  // Loop thread only.
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, size_t> per_address_;
  BodyStore bodies_;  // also used by handler threads (Release)

  // Shared with the handler threads.
  std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<Connection*> ready_;
  std::vector<Connection*> finished_;
  bool workers_stop_ = false;
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
