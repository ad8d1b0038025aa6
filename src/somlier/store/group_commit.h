// GroupCommit: runs small write transactions from many threads as fewer, larger ones.
//
// Run(work) queues `work` and blocks until it has been committed (or has failed). Whichever
// caller finds no transaction in progress becomes the leader: it takes every queued piece
// of work, runs each inside its own SAVEPOINT of one transaction — so one piece's failure
// rolls back only that piece — commits, and wakes the others. Pieces that arrive meanwhile
// form the next group. Each caller learns its own Status, and only after the commit that
// made its work durable: "acknowledged" still means "committed".
//
// This turns N concurrent log-batch requests into one commit (one fsync, each touched page
// written once), which is where metric ingest spends its time. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "somlier/store/database.h"

namespace somlier {

class GroupCommit {
 public:
  explicit GroupCommit(Database& db, size_t max_group = 256) : db_(db), max_group_(max_group) {}

  Status Run(const std::function<Status(Connection&)>& work);

 private:
  struct Pending {
    const std::function<Status(Connection&)>* work;
    Status result;
    bool done = false;
    std::condition_variable cv;  // woken when done, or when it is to lead the next group
  };

  void Lead(std::unique_lock<std::mutex>& lock);

  Database& db_;
  const size_t max_group_;
  std::mutex mu_;
  std::deque<Pending*> queue_;
  bool leading_ = false;
};

}  // namespace somlier
