#include "somlier/net/http_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/net/http_routes.h"

namespace somlier {
namespace {

using Clock = std::chrono::steady_clock;

enum class ConnState { kIdle, kHead, kBody, kDispatched, kWriting, kClosing };

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kReadsPerEvent = 4;          // fairness: at most 256 KiB per wake-up
constexpr size_t kFlushAt = 256 * 1024;       // a handler's output is sent in pieces this big
constexpr auto kLinger = std::chrono::seconds(2);  // reading after a refusal, before close
constexpr auto kSweepEvery = std::chrono::milliseconds(200);
constexpr size_t kMaxChunkLine = 1024;
constexpr size_t kMaxTrailerBytes = 8 * 1024;

// Decodes `Transfer-Encoding: chunked` incrementally.
struct ChunkDecoder {
  enum Phase { kSize, kData, kDataEnd, kTrailer, kDone } phase = kSize;
  uint64_t remaining = 0;
  std::string line;
  size_t trailer_bytes = 0;
};

struct Connection {
  int fd = -1;
  uint64_t serial = 0;      // accept order: breaks ties between equal times
  bool registered = false;  // in the epoll set
  std::string peer;
  int peer_port = 0;
  std::string local;
  int local_port = 0;
  // Written by the loop, and by a handler thread when it hands the connection back itself
  // (the release store comes before the epoll registration that lets the loop see it).
  std::atomic<ConnState> state{ConnState::kIdle};
  Clock::time_point last_active;  // last byte in or out
  Clock::time_point head_started;
  Clock::time_point linger_until;

  std::string in;  // read and not yet consumed
  size_t head_scan = 0;

  // The request being read or handled.
  std::string head;  // rewritten request line and headers, without the final CRLF
  std::string method;
  std::string path;
  bool close_after = false;
  bool has_body = false;
  bool chunked = false;
  bool stream = false;
  uint64_t expected = 0;  // Content-Length
  uint64_t received = 0;
  size_t limit = 0;
  ChunkDecoder chunk;
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

std::string_view Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
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

void AddressOf(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// Sends what it can without blocking; false when the peer is gone.
bool SendSome(Connection& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  c.out.clear();
  c.out_off = 0;
  return true;
}

// The header's value without surrounding blanks, lower-cased.
std::string Lowered(std::string_view value) { return ToLower(Trim(value)); }

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The stream a handler thread reads one request from and writes its answer to.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(Connection& c, const HttpListenerOptions& options) : c_(c), options_(options) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return !c_.write_failed; }

  ssize_t read(char* ptr, size_t size) override {
    if (head_off_ < c_.head.size()) {
      const size_t n = std::min(size, c_.head.size() - head_off_);
      std::memcpy(ptr, c_.head.data() + head_off_, n);
      head_off_ += n;
      return static_cast<ssize_t>(n);
    }
    if (c_.stream) return ReadStreamed(ptr, size);
    if (c_.spool_fd >= 0) {
      if (body_off_ >= c_.spool_size) return 0;
      const size_t want = static_cast<size_t>(std::min<uint64_t>(size, c_.spool_size - body_off_));
      const ssize_t n = ::pread(c_.spool_fd, ptr, want, static_cast<off_t>(body_off_));
      if (n > 0) body_off_ += static_cast<uint64_t>(n);
      return n;
    }
    if (body_off_ >= c_.body.size()) return 0;
    const size_t n = std::min<size_t>(size, c_.body.size() - body_off_);
    std::memcpy(ptr, c_.body.data() + body_off_, n);
    body_off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (c_.write_failed) return -1;
    if (!head_done_) {
      head_seen_.append(ptr, std::min(size, size_t{16384} - std::min<size_t>(head_seen_.size(), 16384)));
      head_done_ = head_seen_.find("\r\n\r\n") != std::string::npos || head_seen_.size() >= 16384;
    }
    c_.out.append(ptr, size);
    if (c_.out.size() - c_.out_off >= kFlushAt && !Flush()) {
      c_.write_failed = true;
      return -1;
    }
    return static_cast<ssize_t>(size);
  }

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
  bool AnswerCloses() const {
    const std::string head = ToLower(head_seen_.substr(0, head_seen_.find("\r\n\r\n")));
    return head.find("\r\nconnection: close") != std::string::npos;
  }
  // Whether a streamed body was left (partly) unread: the next request's start is unknown.
  bool BodyLeftUnread() const { return c_.stream && c_.received < c_.expected; }

 private:
  // Sends the buffered output, waiting for the socket up to the write timeout.
  bool Flush() {
    const auto deadline = Clock::now() + options_.write_timeout;
    while (true) {
      if (!SendSome(c_)) return false;
      if (c_.out_off == 0 && c_.out.empty()) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{c_.fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
    }
  }

  ssize_t ReadStreamed(char* ptr, size_t size) {
    const uint64_t remaining = c_.expected - c_.received;
    if (remaining == 0) return 0;
    size = static_cast<size_t>(std::min<uint64_t>(size, remaining));
    if (!c_.in.empty()) {
      const size_t n = std::min(size, c_.in.size());
      std::memcpy(ptr, c_.in.data(), n);
      c_.in.erase(0, n);
      c_.received += n;
      return static_cast<ssize_t>(n);
    }
    while (true) {
      pollfd p{c_.fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(options_.body_timeout.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return -1;  // no progress within the body timeout
      const ssize_t n = ::recv(c_.fd, ptr, size, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return -1;
      c_.received += static_cast<uint64_t>(n);
      return n;
    }
  }

  Connection& c_;
  const HttpListenerOptions& options_;
  size_t head_off_ = 0;
  uint64_t body_off_ = 0;
  std::string head_seen_;
  bool head_done_ = false;
};

}  // namespace

class HttpListener::Loop {
 public:
  Loop(HttpRoutes& routes, const HttpListenerOptions& options, int listen_fd)
      : routes_(routes), options_(options), listen_fd_(listen_fd) {}

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
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &e);
    e.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &e);
    max_connections_ = std::min(options_.max_connections, RaiseFileLimit());
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
      if (stop_.load() && !stopping) {
        stopping = true;
        stop_deadline = Clock::now() + std::chrono::seconds(60);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        ::close(listen_fd_);
        std::vector<Connection*> quiet;
        for (auto& [fd, c] : connections_) {
          if (c->state != ConnState::kDispatched && c->state != ConnState::kWriting) {
            quiet.push_back(c.get());
          }
        }
        for (Connection* c : quiet) Close(*c);
      }
      if (stopping) {
        std::vector<Connection*> idle;
        for (auto& [fd, c] : connections_) {
          if (c->state != ConnState::kDispatched && c->state != ConnState::kWriting) {
            idle.push_back(c.get());
          }
        }
        for (Connection* c : idle) Close(*c);
        if (connections_.empty() || Clock::now() > stop_deadline) break;
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
          // Out of descriptors: shed the connection least worth keeping, then try again.
          if (MakeRoom()) continue;
        }
        return;
      }
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      AddressOf(peer, c->peer, c->peer_port);
      size_t& from_peer = per_address_[c->peer];
      if (from_peer >= options_.max_connections_per_address ||
          (connections_.size() >= max_connections_ && !MakeRoom())) {
        if (from_peer == 0) per_address_.erase(c->peer);
        ::close(fd);
        continue;
      }
      ++from_peer;
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
      if (c.chunked ? c.chunk.phase == ChunkDecoder::kDone : c.received == c.expected) {
        Dispatch(c);
      }
    }
  }

  // Reads the request line and headers; rewrites them for the handler (no framing headers
  // but a Content-Length). False when the request was refused.
  bool ParseHead(Connection& c, const std::string& text, Clock::time_point now) {
    c.head.clear();
    c.has_body = c.chunked = c.stream = c.close_after = false;
    c.expected = c.received = 0;
    c.chunk = ChunkDecoder();
    const size_t line_end = text.find("\r\n");
    const std::string_view line = std::string_view(text).substr(0, line_end);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
      return Refuse(c, 400, "malformed request line"), false;
    }
    c.method = std::string(line.substr(0, sp1));
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    c.path = std::string(target.substr(0, target.find('?')));
    if (c.method.empty() || c.method.size() > 16 ||
        !std::all_of(c.method.begin(), c.method.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; }) ||
        target.empty() || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
      return Refuse(c, 400, "malformed request line"), false;
    }
    c.head.append(line);
    c.head += "\r\n";
    std::optional<uint64_t> length;
    std::string transfer_encoding;
    std::string connection;
    bool expect_continue = false;
    size_t pos = line_end == std::string::npos ? text.size() : line_end + 2;
    while (pos < text.size()) {
      size_t next = text.find("\r\n", pos);
      if (next == std::string::npos) next = text.size();
      const std::string_view header = std::string_view(text).substr(pos, next - pos);
      pos = next + 2;
      const size_t colon = header.find(':');
      if (colon == 0 || colon == std::string_view::npos ||
          !std::all_of(header.begin(), header.begin() + static_cast<long>(colon), IsTokenChar)) {
        return Refuse(c, 400, "malformed header line"), false;
      }
      const std::string name = ToLower(header.substr(0, colon));
      const std::string_view value = Trim(header.substr(colon + 1));
      if (name == "content-length") {
        uint64_t n = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || ptr != value.data() + value.size() || value.empty() ||
            (length && *length != n)) {
          return Refuse(c, 400, "invalid Content-Length"), false;
        }
        length = n;
        continue;
      }
      if (name == "transfer-encoding") {
        if (!transfer_encoding.empty()) transfer_encoding += ",";
        transfer_encoding += Lowered(value);
        continue;
      }
      if (name == "expect") {
        if (Lowered(value) != "100-continue") {
          return Refuse(c, 417, "only 'Expect: 100-continue' is understood"), false;
        }
        expect_continue = true;
        continue;
      }
      if (name == "connection") connection = Lowered(value);
      c.head.append(header);
      c.head += "\r\n";
    }
    c.close_after = connection.find("close") != std::string::npos ||
                    (version == "HTTP/1.0" && connection.find("keep-alive") == std::string::npos);
    if (!transfer_encoding.empty()) {
      if (length) return Refuse(c, 400, "both Content-Length and Transfer-Encoding"), false;
      std::vector<std::string> codings;
      for (const std::string& coding : Split(transfer_encoding, ',')) {
        if (!Trim(coding).empty()) codings.emplace_back(Trim(coding));
      }
      if (codings.size() != 1 || codings[0] != "chunked") {
        return Refuse(c, 501, fmt::format("Transfer-Encoding '{}' is not supported (only chunked)",
                                          transfer_encoding)),
               false;
      }
      c.chunked = true;
    }
    c.has_body = c.chunked || (length && *length > 0);
    const bool needs_length = c.has_body || c.method == "POST" || c.method == "PUT" ||
                              c.method == "PATCH";
    const BodyPolicy policy = options_.body_policy ? options_.body_policy(c.method, c.path)
                                                   : BodyPolicy{size_t{32} << 20, false};
    c.limit = policy.max_bytes;
    if (c.has_body) {
      if (length && *length > c.limit) {
        return Refuse(c, 413, fmt::format("request bodies of {} {} are limited to {} bytes; this "
                                          "one has {}",
                                          c.method, c.path, c.limit, *length)),
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
      }
      c.expected = length.value_or(0);
      if (!c.chunked && !c.stream && c.expected > options_.memory_body_bytes) {
        if (!StartSpool(c)) return false;
      }
    }
    if (!c.has_body && needs_length) c.head += "Content-Length: 0\r\n";
    if (c.stream) c.head += fmt::format("Content-Length: {}\r\n", c.expected);
    if (expect_continue && c.has_body) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      // Best effort: an empty socket buffer always takes these few bytes.
      (void)::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
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
    size_t pos = 0;
    ChunkDecoder& d = c.chunk;
    auto fail = [&](std::string_view why) {
      Refuse(c, 400, fmt::format("malformed chunked body: {}", why));
      return false;
    };
    while (pos < c.in.size() && d.phase != ChunkDecoder::kDone) {
      if (d.phase == ChunkDecoder::kData) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(c.in.size() - pos, d.remaining));
        if (!AppendBody(c, c.in.data() + pos, n)) return false;
        pos += n;
        d.remaining -= n;
        if (d.remaining == 0) d.phase = ChunkDecoder::kDataEnd;
        continue;
      }
      // A line: the chunk size, the CRLF after data, or a trailer.
      const size_t eol = c.in.find("\r\n", pos);
      const size_t available = (eol == std::string::npos ? c.in.size() : eol) - pos;
      if (d.line.size() + available > kMaxChunkLine) return fail("a line is too long");
      d.line.append(c.in, pos, available);
      if (eol == std::string::npos) {
        pos = c.in.size();
        break;
      }
      pos = eol + 2;
      std::string line = std::move(d.line);
      d.line.clear();
      if (d.phase == ChunkDecoder::kDataEnd) {
        if (!line.empty()) return fail("no CRLF after a chunk");
        d.phase = ChunkDecoder::kSize;
      } else if (d.phase == ChunkDecoder::kSize) {
        const std::string_view size_text = Trim(std::string_view(line).substr(0, line.find(';')));
        uint64_t size = 0;
        auto [ptr, ec] =
            std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
        if (size_text.empty() || ec != std::errc() || ptr != size_text.data() + size_text.size()) {
          return fail("a chunk size is not hexadecimal");
        }
        if (size > c.limit || c.received + size > c.limit) {
          Refuse(c, 413, fmt::format("request bodies of {} {} are limited to {} bytes", c.method,
                                     c.path, c.limit));
          return false;
        }
        d.remaining = size;
        d.phase = size == 0 ? ChunkDecoder::kTrailer : ChunkDecoder::kData;
      } else if (d.phase == ChunkDecoder::kTrailer) {
        d.trailer_bytes += line.size() + 2;
        if (d.trailer_bytes > kMaxTrailerBytes) return fail("the trailers are too large");
        if (line.empty()) d.phase = ChunkDecoder::kDone;
      }
    }
    c.in.erase(0, pos);
    return true;
  }

  bool AppendBody(Connection& c, const char* data, size_t n) {
    if (c.received + n > c.limit) {
      Refuse(c, 413, fmt::format("request bodies of {} {} are limited to {} bytes", c.method,
                                 c.path, c.limit));
      return false;
    }
    c.received += n;
    if (c.spool_fd < 0 && (c.body.size() + n > options_.memory_body_bytes ||
                           memory_used_ + n > options_.memory_budget_bytes)) {
      if (!StartSpool(c)) return false;
    }
    if (c.spool_fd >= 0) {
      if (spool_used_ + n > options_.spool_budget_bytes) {
        Refuse(c, 503, "the server is buffering too many request bodies; try again shortly");
        return false;
      }
      size_t done = 0;
      while (done < n) {
        const ssize_t w = ::pwrite(c.spool_fd, data + done, n - done,
                                   static_cast<off_t>(c.spool_size + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          Refuse(c, 503, "the server cannot buffer the request body (disk full?)");
          return false;
        }
        done += static_cast<size_t>(w);
      }
      c.spool_size += n;
      spool_used_ += n;
      return true;
    }
    c.body.append(data, n);
    c.memory_accounted += n;
    memory_used_ += n;
    return true;
  }

  // Moves the body to an unlinked temporary file. False (and answered) when none can be made.
  bool StartSpool(Connection& c) {
    std::error_code ec;
    const std::string dir = std::filesystem::temp_directory_path(ec).string();
    int fd = ::open(ec ? "/tmp" : dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
      std::string name = (ec ? std::string("/tmp") : dir) + "/somlier-body-XXXXXX";
      fd = ::mkostemp(name.data(), O_CLOEXEC);
      if (fd >= 0) ::unlink(name.c_str());
    }
    if (fd < 0) {
      Refuse(c, 503, "the server cannot buffer the request body");
      return false;
    }
    const std::string held = std::move(c.body);
    ReleaseBody(c);  // the memory it held, and no spool yet
    c.spool_fd = fd;
    c.spool_size = 0;
    if (!held.empty()) {
      c.received -= held.size();
      return AppendBody(c, held.data(), held.size());
    }
    return true;
  }

  void ReleaseBody(Connection& c) {
    memory_used_ -= c.memory_accounted;
    c.memory_accounted = 0;
    c.body.clear();
    c.body.shrink_to_fit();
    if (c.spool_fd >= 0) {
      ::close(c.spool_fd);
      spool_used_ -= c.spool_size;
      c.spool_fd = -1;
      c.spool_size = 0;
    }
  }

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
    if (!SendSome(c)) return Close(c);
    if (c.out.empty()) return AfterAnswer(c, Clock::now());
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
    RequestStream stream(c, options_);
    bool connection_closed = false;
    const bool close = c.close_after || stop_.load();
    const bool ok = routes_.process_request(stream, close, connection_closed,
                                            [](httplib::Request&) {});
    c.close_when_written = !ok || close || connection_closed || stream.AnswerCloses() ||
                           stream.BodyLeftUnread();
    if (!c.write_failed && !SendSome(c)) c.write_failed = true;
  }

  static size_t RaiseFileLimit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, rlim_t{1} << 20);
      ::setrlimit(RLIMIT_NOFILE, &limit);
      ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    // Descriptors for the database, workers, spool files and logs stay free.
    return limit.rlim_cur > 256 ? static_cast<size_t>(limit.rlim_cur) - 128 : 128;
  }

  HttpRoutes& routes_;
  const HttpListenerOptions& options_;
  int listen_fd_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  size_t max_connections_ = 0;
  uint64_t accepted_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  // Loop thread only.
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, size_t> per_address_;
  // Body bytes held, all connections; released by handler threads too.
  std::atomic<size_t> memory_used_{0};
  std::atomic<size_t> spool_used_{0};

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
  if (port < 0 || port > 65535) {
    return InvalidArgument(fmt::format("port {} is not between 0 and 65535", port));
  }
  const std::string address = host == "localhost" ? "127.0.0.1" : host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(port);
  if (::getaddrinfo(address.c_str(), port_text.c_str(), &hints, &found) != 0 || found == nullptr) {
    return InvalidArgument(fmt::format("cannot listen on '{}': not an IP address", host));
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const bool bound = fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                     ::listen(fd, 1024) == 0;
  ::freeaddrinfo(found);
  if (!bound) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Unavailable(fmt::format("cannot listen on {}:{}: {}", host, port, why));
  }
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  std::string ip;
  AddressOf(local, ip, port_);
  host_ = host;
  listen_fd_ = fd;
  return OkStatus();
}

Status HttpListener::Start() {
  if (listen_fd_ < 0) return FailedPrecondition("the HTTP listener is not bound");
  loop_ = std::make_unique<Loop>(routes_, options_, listen_fd_);
  routes_.MarkServing(listen_fd_);
  return loop_->Start();
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

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) == 1) {
    return (ntohl(address.s_addr) >> 24) == 127;
  }
  return false;
}

}  // namespace somlier
