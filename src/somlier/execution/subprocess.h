// Subprocess: a child process started from an argv (never through a shell), with its
// stdout and stderr as pipes or inherited, optionally in its own process group.
//
// The child gets only stdin, stdout and stderr (every other descriptor is closed in it), and
// starts with default signal dispositions and an empty signal mask, in
// `working_dir`, with exactly `env` when given (else this process's environment). The
// program is looked up on PATH when argv[0] has no slash. A Subprocess object owns the
// pipe ends it returns and reaps the child in Wait(); destroying it without Wait() kills
// the child's process group (or the child) and reaps it, so no zombie is left behind.
// With `env` given, a program without a slash is looked up on that environment's PATH (the
// child's), not this process's.
// Not synchronised: use one object from one thread, except Signal(), which may be called
// from any thread or a signal handler's deferred work.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::optional<std::map<std::string, std::string>> env;  // nullopt: inherit
  std::string working_dir;                                // empty: inherit
  bool new_process_group = true;
  bool capture_stdout = true;  // else inherited
  bool capture_stderr = true;  // else inherited
  bool stdin_null = true;      // else inherited
  bool pipe_stdin = false;     // a pipe the parent writes (stdin_fd()); wins over stdin_null
  // When set, stdout and stderr both append to this file (created 0644), instead of the
  // capture_* choices.
  std::string output_file;
  // setsid(): the child leads a new session (and group), detached from the terminal, so
  // that it can outlive this process (see Detach()).
  bool new_session = false;
};

class Subprocess {
 public:
  // Errors: InvalidArgument for an empty argv; NotFound when the program does not exist
  // or is not executable ("command 'x' not found"); Internal for other spawn failures.
  static Result<std::unique_ptr<Subprocess>> Spawn(const SpawnOptions& options);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool in_own_group() const { return own_group_; }

  // Read ends of the captured streams, or -1. TakeStdout()/TakeStderr() hand over
  // ownership (the caller closes them).
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }
  int TakeStdout();
  int TakeStderr();
  // The write end of the child's stdin when pipe_stdin was set, or -1; TakeStdin() hands it
  // over. Closing it is the child's end of input.
  int stdin_fd() const { return stdin_fd_; }
  int TakeStdin();

  // Lets the child go on after this object is destroyed: it is no longer killed, and a
  // detached thread reaps it whenever it exits (so it never lingers as a zombie of a
  // long-lived parent). Call instead of Wait(); the object only keeps pid() afterwards.
  void Detach();

  // Sends `signal` to the child's process group when it has one, else to the child.
  // A no-op once the child has been reaped.
  void Signal(int signal);

  // Waits for the child to exit and returns its exit code, or 128 + N when signal N
  // ended it (the shell's convention).
  Result<int> Wait();

  // The exit code if the child has exited (reaping it), nullopt while it runs.
  std::optional<int> TryWait();

  // Whether the child has exited, without reaping it: until Wait(), its process group stays
  // valid, so Signal() can still reach processes it left behind.
  bool HasExited();

 private:
  Subprocess(pid_t pid, bool own_group, int in, int out, int err)
      : pid_(pid), own_group_(own_group), stdin_fd_(in), stdout_fd_(out), stderr_fd_(err) {}

  pid_t pid_;
  bool own_group_;
  int stdin_fd_;
  int stdout_fd_;
  int stderr_fd_;
  std::optional<int> exit_code_;
};

// The exit code of a status from waitpid: the code, or 128 + signal.
int ExitCodeFromWaitStatus(int wait_status);

}  // namespace somlier

namespace somlier {

// The path of `program` found on `path_variable` (a PATH-style list), or nullopt: an
// executable regular file. A `program` containing '/' is returned as is when it is one.
// Relative directories (and a relative `program`) are taken from `base_dir` when given
// (the directory the program will run in), else from the current directory.
std::optional<std::string> FindExecutable(const std::string& program,
                                          const std::string& path_variable,
                                          const std::string& base_dir = "");

}  // namespace somlier
