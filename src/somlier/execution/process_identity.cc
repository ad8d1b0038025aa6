#include "somlier/execution/process_identity.h"

#include <fmt/core.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::string BootId() {
  std::string id = ReadFile("/proc/sys/kernel/random/boot_id");
  return id.substr(0, 8);
}

// Field 22 of /proc/<pid>/stat (the start time), or nullopt when the process is gone.
std::optional<std::string> StartTicks(pid_t pid) {
  const std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  return field;
}

}  // namespace

const std::string& ThisProcessIdentity() {
  static const std::string identity = fmt::format(
      "{}:{}:{}:{}", HostName(), getpid(), StartTicks(getpid()).value_or("0"), BootId());
  return identity;
}

ProcessState CheckProcess(std::string_view identity) {
  // The host name may itself hold ':' only in odd setups; split from the right.
  std::vector<std::string> parts = Split(identity, ':');
  if (parts.size() < 4) return ProcessState::kUnknown;
  const std::string boot = parts.back();
  const std::string start = parts[parts.size() - 2];
  const std::string pid_text = parts[parts.size() - 3];
  std::string host;
  for (size_t i = 0; i + 3 < parts.size(); ++i) host += (i ? ":" : "") + parts[i];
  if (host != HostName() || boot != BootId()) return ProcessState::kUnknown;
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(pid_text));
  } catch (...) {
    return ProcessState::kUnknown;
  }
  if (pid <= 0) return ProcessState::kUnknown;
  const auto now = StartTicks(pid);
  return now && *now == start ? ProcessState::kAlive : ProcessState::kGone;
}

bool ProcessHasEnvironment(pid_t pid, std::string_view name, std::string_view value) {
  if (pid <= 0) return false;
  const std::string environ = ReadFile(fmt::format("/proc/{}/environ", pid));
  const std::string wanted = std::string(name) + "=" + std::string(value);
  size_t start = 0;
  while (start < environ.size()) {
    size_t end = environ.find('\0', start);
    if (end == std::string::npos) end = environ.size();
    if (std::string_view(environ).substr(start, end - start) == wanted) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace somlier
