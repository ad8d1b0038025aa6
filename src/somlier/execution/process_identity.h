// ProcessIdentity: names a process so that another process, later, can tell whether it is
// still running — used to record which SoMLier process executes a run, so that a server
// that restarts can fail the runs nobody executes any more.
//
// An identity is "<host>:<pid>:<start>:<boot>": the host name, the pid, the process's start
// time in clock ticks since boot (a reused pid has another one) and the first characters of
// the kernel's boot id (a reboot restarts the tick count). Linux only (/proc). Stateless
// functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace somlier {

// This process's identity (computed once).
const std::string& ThisProcessIdentity();

enum class ProcessState {
  kAlive,    // on this host and booted system, and still running
  kGone,     // on this host and booted system, and no longer running
  kUnknown,  // another host (or not a valid identity): cannot tell from here
};

ProcessState CheckProcess(std::string_view identity);

// Whether process `pid` has the variable `name` set to `value` in its environment (false
// when it does not exist or its environment cannot be read) — so that a pid recorded for a
// run is only signalled while it still belongs to that run.
bool ProcessHasEnvironment(pid_t pid, std::string_view name, std::string_view value);

}  // namespace somlier
