#include "somlier/serving/dynamic_batcher.h"

#include <fmt/core.h>

namespace somlier::serving {

Result<std::future<Result<Prediction>>> DynamicBatcher::Submit(ModelInput input) {
  auto request = std::make_unique<PendingRequest>();
  request->input = std::move(input);
  auto future = request->done.get_future();
  {
    std::lock_guard lock(mutex_);
    if (shutdown_) return Unavailable("the server is shutting down");
    if (ready_ == 0) return Unavailable("no model worker is ready (starting or restarting)");
    if (queue_.size() >= options_.max_queue) {
      return Unavailable(
          fmt::format("the request queue is full ({} requests waiting)", queue_.size()));
    }
    const bool was_empty = queue_.empty();
    request->enqueued = clock_.Now();
    queued_rows_ += request->input.rows;
    queue_.push_back(std::move(request));
    // A waiting worker only needs waking when the queue starts (its deadline is new) or a
    // full batch is ready; otherwise it is already waiting for the oldest's deadline.
    if (was_empty || queued_rows_ >= options_.max_batch_size) changed_.notify_one();
  }
  return future;
}

bool DynamicBatcher::DueLocked(Clock::time_point* deadline) const {
  if (queue_.empty()) return false;
  if (shutdown_ || queued_rows_ >= options_.max_batch_size) return true;
  *deadline = queue_.front()->enqueued + options_.max_delay;
  return clock_.Now() >= *deadline;
}

std::vector<std::unique_ptr<PendingRequest>> DynamicBatcher::NextBatch() {
  std::unique_lock lock(mutex_);
  while (true) {
    Clock::time_point deadline;
    if (DueLocked(&deadline)) return TakeLocked();
    if (queue_.empty()) {
      if (shutdown_) return {};
      changed_.wait(lock);
    } else {
      clock_.WaitUntil(changed_, lock, deadline);
    }
  }
}

std::vector<std::unique_ptr<PendingRequest>> DynamicBatcher::TryNextBatch() {
  std::lock_guard lock(mutex_);
  Clock::time_point deadline;
  if (!DueLocked(&deadline)) return {};
  return TakeLocked();
}

std::vector<std::unique_ptr<PendingRequest>> DynamicBatcher::TakeLocked() {
  std::vector<std::unique_ptr<PendingRequest>> batch;
  size_t rows = 0;
  while (!queue_.empty()) {
    PendingRequest& next = *queue_.front();
    if (!batch.empty()) {
      if (rows + next.input.rows > options_.max_batch_size ||
          !batch.front()->input.SameLayout(next.input)) {
        break;
      }
    }
    rows += next.input.rows;
    queued_rows_ -= next.input.rows;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (!queue_.empty()) changed_.notify_one();  // another worker may take the rest
  return batch;
}

void DynamicBatcher::WorkerReady() {
  std::lock_guard lock(mutex_);
  ++ready_;
}

void DynamicBatcher::WorkerLost(const Status& why) {
  std::deque<std::unique_ptr<PendingRequest>> failed;
  {
    std::lock_guard lock(mutex_);
    if (ready_ > 0) --ready_;
    if (ready_ == 0) {
      failed.swap(queue_);
      queued_rows_ = 0;
    }
  }
  for (auto& request : failed) request->done.set_value(why);
}

int DynamicBatcher::ready_workers() const {
  std::lock_guard lock(mutex_);
  return ready_;
}

void DynamicBatcher::Shutdown() {
  std::lock_guard lock(mutex_);
  shutdown_ = true;
  changed_.notify_all();
}

size_t DynamicBatcher::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace somlier::serving
