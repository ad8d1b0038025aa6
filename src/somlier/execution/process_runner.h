// ProcessRunner: starts child processes — the seam that lets unit tests of supervision
// logic (a supervisor restarting a server that keeps dying, say) use fake children that
// exit on cue instead of real processes. RealProcessRunner() spawns real ones
// (execution/subprocess.h); the same logic is tested end to end with them. Thread-safe.
#pragma once

#include <sys/types.h>

#include <memory>

#include "somlier/core/result.h"
#include "somlier/execution/subprocess.h"

namespace somlier {

// A started child, as Subprocess describes its operations.
class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  virtual pid_t pid() const = 0;
  // Whether it has exited, without reaping it.
  virtual bool HasExited() = 0;
  virtual void Signal(int signal) = 0;
  // Its exit code (128 + N for signal N), once it has exited.
  virtual Result<int> Wait() = 0;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Errors: as Subprocess::Spawn.
  virtual Result<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options) = 0;
};

ProcessRunner& RealProcessRunner();

}  // namespace somlier
