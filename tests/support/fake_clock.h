// FakeClock: a Clock (core/clock.h) for unit tests, whose time moves only when the test
// calls Advance(). A waiter whose deadline is passed is woken by Advance. To never hang on
// a wake-up lost between a waiter's check and its wait (the clock cannot hold the waiter's
// mutex), a waiter also re-checks every few real milliseconds; tests stay fast and never
// depend on real time passing. Thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "somlier/core/clock.h"

namespace somlier::testing {

class FakeClock final : public Clock {
 public:
  time_point Now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }

  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 time_point deadline) const override {
    {
      std::lock_guard own(mutex_);
      if (now_ >= deadline) return;
      waiters_.push_back(&cv);
    }
    cv.wait_for(lock, std::chrono::milliseconds(5));
    std::lock_guard own(mutex_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &cv));
  }

  void Advance(duration by) {
    std::vector<std::condition_variable*> waiting;
    {
      std::lock_guard lock(mutex_);
      now_ += by;
      waiting = waiters_;
    }
    for (auto* cv : waiting) cv->notify_all();
  }

 private:
  mutable std::mutex mutex_;
  time_point now_{std::chrono::hours(1)};
  mutable std::vector<std::condition_variable*> waiters_;
};

}  // namespace somlier::testing
