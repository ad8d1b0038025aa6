// ProcessIdentity: names a process so that another process, later, can tell whether it is
// still running — used to record which SoMLier process executes a run, so that a server
// that restarts can fail the runs nobody executes any more — and finds and ends the
// processes of a run that another process started.
//
// An identity is "<host>:<pid>:<start>:<boot>": the host name, the pid, the process's start
// time in clock ticks since boot (a reused pid has another one) and the first characters of
// the kernel's boot id (a reboot restarts the tick count). Linux only (/proc). Stateless
// functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

namespace somlier {

// This process's identity (computed once).
const std::string& ThisProcessIdentity();

enum class ProcessState {
  kAlive,    // on this host, and still running
  kGone,     // on this host, and no longer running (or the host has rebooted since)
  kUnknown,  // another host, or not a valid identity: cannot tell from here
};

ProcessState CheckProcess(std::string_view identity);

// Whether process `pid` has the variable `name` set to `value` in its environment (false
// when it does not exist or its environment cannot be read) — so that a pid recorded for a
// run is only signalled while it still belongs to that run.
bool ProcessHasEnvironment(pid_t pid, std::string_view name, std::string_view value);

// Ends the processes of process group `group` that have `name`=`value` in their environment
// (a run's processes, also after its leader has exited; never another group that reuses
// the number): SIGTERM, then SIGKILL for those still there after `grace` (SIGKILL at once
// when it is 0). Returns how many processes it found.
int TerminateProcessGroup(pid_t group, std::string_view name, std::string_view value,
                          std::chrono::milliseconds grace);

}  // namespace somlier
