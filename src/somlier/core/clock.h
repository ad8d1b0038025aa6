// Clock: the time that code which waits reads — the seam that lets unit tests of waiting
// logic (the batcher's delays, a supervisor's crash window) move time themselves instead of
// sleeping. SteadyClock() is the real one; a test's fake (tests/support/fake_clock.h)
// advances only when told. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace somlier {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual time_point Now() const = 0;
  // Waits on `cv` (its mutex held by `lock`) until notified or until `deadline` by this
  // clock. Like condition_variable::wait_until, it may return early (spuriously): callers
  // re-check their condition.
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         time_point deadline) const = 0;
};

// std::chrono::steady_clock.
const Clock& SteadyClock();

}  // namespace somlier
