#include "somlier/net/connection_table.h"

#include <fmt/core.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "somlier/net/body_store.h"

namespace somlier {

ConnectionTable::ConnectionTable(BodyStore& bodies, size_t max_connections, size_t max_per_address)
    : bodies_(bodies), max_connections_(max_connections), max_per_address_(max_per_address) {}

ConnectionTable::~ConnectionTable() {
  Dead dead;
  for (auto& [serial, c] : connections_) dead.push_back(std::move(c));
  Bury(dead);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status ConnectionTable::Open(int wake_fd) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = kWakeTag;
  if (epoll_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd, &e) != 0) {
    return Unavailable(fmt::format("cannot set up the HTTP event loop: {}", std::strerror(errno)));
  }
  return OkStatus();
}

bool ConnectionTable::Add(std::unique_ptr<Connection> c) {
  Dead dead;
  bool added = false;
  {
    std::lock_guard lock(mutex_);
    const auto known = per_address_.find(c->peer);
    if ((known == per_address_.end() || known->second < max_per_address_) &&
        (connections_.size() < max_connections_ || EvictLocked(dead))) {
      ++per_address_[c->peer];  // looked up again: eviction may have erased the entry
      c->serial = ++next_serial_;
      c->claimed = false;
      epoll_event e{};
      e.events = EPOLLIN | EPOLLONESHOT;
      e.data.u64 = c->serial;
      Connection& ref = *c;
      connections_.emplace(c->serial, std::move(c));
      added = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ref.fd, &e) == 0;
      if (!added) CloseLocked(ref, dead);
    } else {
      dead.push_back(std::move(c));
    }
  }
  Bury(dead);
  return added;
}

Connection* ConnectionTable::Claim(uint64_t serial) {
  std::lock_guard lock(mutex_);
  const auto it = connections_.find(serial);
  if (it == connections_.end() || it->second->claimed) return nullptr;
  it->second->claimed = true;
  return it->second.get();
}

void ConnectionTable::Rearm(Connection& c, uint32_t events) {
  Dead dead;
  {
    std::lock_guard lock(mutex_);
    c.claimed = false;
    epoll_event e{};
    e.events = events | EPOLLONESHOT;
    e.data.u64 = c.serial;
    // Under the mutex: a thread that receives the event claims it only after this returns,
    // and the descriptor cannot have been closed and reused meanwhile.
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &e) != 0) CloseLocked(c, dead);
  }
  Bury(dead);
}

void ConnectionTable::Close(Connection& c) {
  Dead dead;
  {
    std::lock_guard lock(mutex_);
    CloseLocked(c, dead);
  }
  Bury(dead);
}

bool ConnectionTable::Evict() {
  Dead dead;
  bool evicted;
  {
    std::lock_guard lock(mutex_);
    evicted = EvictLocked(dead);
  }
  Bury(dead);
  return evicted;
}

bool ConnectionTable::EvictLocked(Dead& dead) {
  using TimePoint = std::chrono::steady_clock::time_point;
  auto older = [](TimePoint a, const Connection& ca, TimePoint b, const Connection& cb) {
    return a < b || (a == b && ca.serial < cb.serial);
  };
  Connection* idle = nullptr;
  Connection* head = nullptr;
  for (auto& [serial, cp] : connections_) {
    const Connection& c = *cp;
    if (c.claimed) continue;
    if (c.state == ConnState::kIdle && c.in.empty() &&
        (idle == nullptr || older(c.last_active, c, idle->last_active, *idle))) {
      idle = cp.get();
    } else if (c.state == ConnState::kHead &&
               (head == nullptr || older(c.head_started, c, head->head_started, *head))) {
      head = cp.get();
    }
  }
  Connection* victim = idle != nullptr ? idle : head;
  if (victim == nullptr) return false;
  CloseLocked(*victim, dead);
  return true;
}

void ConnectionTable::CloseUnclaimedIf(const std::function<bool(const Connection&)>& doomed) {
  Dead dead;
  {
    std::lock_guard lock(mutex_);
    std::vector<Connection*> closing;
    for (auto& [serial, c] : connections_) {
      if (!c->claimed && doomed(*c)) closing.push_back(c.get());
    }
    for (Connection* c : closing) CloseLocked(*c, dead);
  }
  Bury(dead);
}

void ConnectionTable::ShutdownAll() {
  std::lock_guard lock(mutex_);
  for (auto& [serial, c] : connections_) ::shutdown(c->fd, SHUT_RDWR);
}

size_t ConnectionTable::size() {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

void ConnectionTable::CloseLocked(Connection& c, Dead& dead) {
  // Out of the epoll set now; the descriptor itself is closed by Bury, after the mutex is
  // released (closing a large spool file can take a while), and cannot be reused before.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  if (auto it = per_address_.find(c.peer); it != per_address_.end() && --it->second == 0) {
    per_address_.erase(it);
  }
  auto node = connections_.extract(c.serial);
  dead.push_back(std::move(node.mapped()));
}

void ConnectionTable::Bury(Dead& dead) {
  for (auto& c : dead) {
    bodies_.Release(*c);
    ::close(c->fd);
  }
  dead.clear();
}

}  // namespace somlier
