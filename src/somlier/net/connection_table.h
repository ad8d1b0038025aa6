// ConnectionTable: the HTTP listener's open connections, the epoll set that watches them,
// the caps on how many there may be, and which thread may touch each one. Internal to
// src/somlier/net.
//
// Ownership: the table owns every Connection and its sockets. A connection is touched only
// by the thread that claimed it — Claim hands it to the one thread that received its event
// — until that thread gives it back (Rearm) or closes it (Close). An unclaimed connection
// is touched only by the table, under its mutex: to expire it, evict it for a newcomer, or
// close it at Stop. Watching is one-shot: after an event a connection is not watched again
// until Rearm, so no two threads ever serve it at once. Events carry the connection's
// serial, never its descriptor or address: an event that arrives after its connection was
// closed (and the descriptor reused) finds nothing and is dropped.
//
// Thread safety: every method may be called from any thread, Rearm and Close only by the
// thread that claimed the connection. The mutex is held for bookkeeping only: sockets and
// spool files are closed after it is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "somlier/core/status.h"
#include "somlier/net/connection.h"

namespace somlier {

class BodyStore;

class ConnectionTable {
 public:
  // The tag of events that are not a connection's (the listener's wake-up descriptor).
  static constexpr uint64_t kWakeTag = 0;

  ConnectionTable(BodyStore& bodies, size_t max_connections, size_t max_per_address);
  ~ConnectionTable();  // closes every connection left
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // Creates the epoll set and watches `wake_fd` (level-triggered, tagged kWakeTag) in it.
  Status Open(int wake_fd);
  int epoll_fd() const { return epoll_fd_; }

  // Takes an accepted connection, unclaimed and watched for input. When the table is full
  // the connection least worth keeping makes room (see Evict). False, with the socket
  // closed, when its address has its cap, nothing could make room, or epoll refused it.
  bool Add(std::unique_ptr<Connection> c);

  // The connection an event tagged `serial` belongs to, now claimed by the caller; null
  // when it was closed meanwhile.
  Connection* Claim(uint64_t serial);

  // Gives a claimed connection back, watched (one-shot) for `events` (EPOLLIN, EPOLLOUT).
  void Rearm(Connection& c, uint32_t events);

  // Closes a claimed connection: its socket, its body, its place in the caps.
  void Close(Connection& c);

  // Closes the unclaimed connection least worth keeping: the longest-idle keep-alive one
  // (with no request waiting in its input), else the oldest incomplete request head. False
  // when every one is doing real work.
  bool Evict();

  // Closes every unclaimed connection for which `doomed` is true.
  void CloseUnclaimedIf(const std::function<bool(const Connection&)>& doomed);

  // Shuts down every socket, claimed ones too (their threads' reads and writes then fail).
  void ShutdownAll();

  size_t size();

 private:
  using Dead = std::vector<std::unique_ptr<Connection>>;  // closed, descriptors still open
  bool EvictLocked(Dead& dead);
  void CloseLocked(Connection& c, Dead& dead);
  void Bury(Dead& dead);  // closes their descriptors and frees their bodies; no lock held

  BodyStore& bodies_;
  const size_t max_connections_;
  const size_t max_per_address_;
  int epoll_fd_ = -1;

  std::mutex mutex_;
  uint64_t next_serial_ = ConnectionTable::kWakeTag;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;  // by serial
  std::unordered_map<std::string, size_t> per_address_;
};

}  // namespace somlier
