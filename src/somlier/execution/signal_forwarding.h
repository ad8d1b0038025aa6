// SignalForwarding: while an object of this class lives, SIGINT and SIGTERM sent to this
// process are passed on to a child's process group instead of ending this process.
//
// Used when a CLI command runs a child in its own process group: Ctrl-C at the terminal
// reaches only the CLI (the terminal's foreground group), which forwards it, keeps
// draining the child's output and then exits with the child's exit code. The handler only
// calls kill(2), which is async-signal-safe. One instance at a time per process; the
// previous handlers are restored on destruction.
#pragma once

#include <signal.h>
#include <sys/types.h>

namespace somlier {

class SignalForwarding {
 public:
  explicit SignalForwarding(pid_t process_group);
  ~SignalForwarding();
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;

  // The last signal forwarded, or 0.
  static int last_forwarded();

 private:
  struct sigaction old_int_;
  struct sigaction old_term_;
};

}  // namespace somlier
