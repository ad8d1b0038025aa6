// StopSignals: SIGINT, SIGTERM and SIGHUP as events a command polls instead of its death —
// for commands that must clean up first (kill their runs, stop a server).
//
// Create it first thing in a command, before any thread starts: the signals are blocked in
// this thread (and so in the threads it starts afterwards) and a watcher thread takes them.
// Destruction stops the watcher and unblocks them. Thread-safe.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace somlier::cli {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first signal received, or 0.
  int received() const { return first_.load(); }
  // Waits up to `timeout` for a signal not yet returned by WaitFor; returns it, or 0.
  int WaitFor(std::chrono::milliseconds timeout);

  static const char* Name(int signal);

 private:
  sigset_t set_;
  sigset_t previous_;
  std::atomic<int> first_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable arrived_;
  int pending_ = 0;  // guarded by mutex_
  std::thread watcher_;
};

}  // namespace somlier::cli
