#include "somlier/net/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kFlushAt = 256 * 1024;  // a handler's answer is sent in pieces this big
constexpr size_t kHeadSeen = 16384;      // how much of an answer's head is kept to inspect
constexpr uint64_t kMinBytesPerSecond = 64 * 1024;  // what slow readers and senders must keep up

}  // namespace

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

ssize_t RequestStream::read(char* ptr, size_t size) {
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

ssize_t RequestStream::write(const char* ptr, size_t size) {
  if (c_.write_failed) return -1;
  if (!head_done_) {
    head_seen_.append(ptr, std::min(size, kHeadSeen - std::min(head_seen_.size(), kHeadSeen)));
    head_done_ = head_seen_.find("\r\n\r\n") != std::string::npos || head_seen_.size() >= kHeadSeen;
  }
  c_.out.append(ptr, size);
  if (c_.out.size() - c_.out_off >= kFlushAt && !Flush()) {
    c_.write_failed = true;
    return -1;
  }
  return static_cast<ssize_t>(size);
}

bool RequestStream::AnswerCloses() const {
  const std::string head = ToLower(head_seen_.substr(0, head_seen_.find("\r\n\r\n")));
  return head.find("\r\nconnection: close") != std::string::npos;
}

// Sends the buffered answer, waiting for the socket up to the write timeout.
bool RequestStream::Flush() {
  // Each piece must leave within the write timeout, and a long answer at kMinBytesPerSecond
  // on average: a reader that takes a byte a second cannot hold a handler thread for ever.
  const auto overall = started_ + write_timeout_ + std::chrono::seconds(sent_ / kMinBytesPerSecond);
  const auto deadline = std::min(Clock::now() + write_timeout_, overall);
  sent_ += c_.out.size() - c_.out_off;
  while (true) {
    if (!SendSome(c_)) return false;
    if (c_.out.empty()) return true;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{c_.fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
  }
}

// A streamed body: what the loop had already read, then the socket, waiting at most the
// body timeout for each piece.
ssize_t RequestStream::ReadStreamed(char* ptr, size_t size) {
  const uint64_t remaining = c_.expected - c_.received;
  if (remaining == 0) return 0;
  if (c_.expect_continue) {  // the handler wants the body: invite it now
    c_.expect_continue = false;
    c_.out.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (!Flush()) return -1;
  }
  // A slow sender may not hold a handler thread for ever: past the body timeout, the body
  // must keep coming at kMinBytesPerSecond on average.
  const auto elapsed = Clock::now() - started_;
  if (elapsed > body_timeout_ + std::chrono::seconds(c_.received / kMinBytesPerSecond)) {
    return -1;
  }
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
    const int ready = ::poll(&p, 1, static_cast<int>(body_timeout_.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;  // no progress within the body timeout
    const ssize_t n = ::recv(c_.fd, ptr, size, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) return -1;
    c_.received += static_cast<uint64_t>(n);
    return n;
  }
}

}  // namespace somlier
