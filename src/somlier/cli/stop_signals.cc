#include "somlier/cli/stop_signals.h"

#include <pthread.h>

#include <utility>

namespace somlier::cli {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  watcher_ = std::thread([this] {
    const timespec tick{0, 100'000'000};
    while (!stopping_) {
      const int signal = sigtimedwait(&set_, nullptr, &tick);
      if (signal <= 0) continue;
      int expected = 0;
      first_.compare_exchange_strong(expected, signal);
      {
        std::lock_guard lock(mutex_);
        pending_ = signal;
      }
      arrived_.notify_all();
    }
  });
}

StopSignals::~StopSignals() {
  stopping_ = true;
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

int StopSignals::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, timeout, [this] { return pending_ != 0; });
  return std::exchange(pending_, 0);
}

const char* StopSignals::Name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

}  // namespace somlier::cli
