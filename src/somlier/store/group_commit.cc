#include "somlier/store/group_commit.h"

#include <vector>

namespace somlier {

Status GroupCommit::Run(const std::function<Status(Connection&)>& work) {
  Pending pending;
  pending.work = &work;
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&pending);
  while (!pending.done) {
    if (!leading_) {
      Lead(lock);
    } else {
      pending.cv.wait(lock);
    }
  }
  return pending.result;
}

void GroupCommit::Lead(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  std::vector<Pending*> group;
  while (!queue_.empty() && group.size() < max_group_) {
    group.push_back(queue_.front());
    queue_.pop_front();
  }
  lock.unlock();

  Status committed = db_.Transaction(true, [&](Connection& c) -> Status {
    for (Pending* p : group) {
      SOMLIER_RETURN_IF_ERROR(c.ExecuteScript("SAVEPOINT piece"));
      p->result = (*p->work)(c);
      SOMLIER_RETURN_IF_ERROR(
          c.ExecuteScript(p->result.ok() ? "RELEASE piece" : "ROLLBACK TO piece; RELEASE piece"));
    }
    return OkStatus();
  });
  if (!committed.ok()) {
    // The transaction as a whole failed (commit, or a savepoint command): nothing of it was
    // written, so every piece reports that failure unless it had its own.
    for (Pending* p : group) {
      if (p->result.ok()) p->result = committed;
    }
  }

  lock.lock();
  leading_ = false;
  // Wake exactly the members of this group, and the first waiter of the next one to lead.
  for (Pending* p : group) {
    p->done = true;
    p->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
}

}  // namespace somlier
