#include "somlier/execution/process_identity.h"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>
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
  static const std::string identity = fmt::format("{}:{}:{}:{}", HostName(), getpid(),
                                                  StartTicks(getpid()).value_or("0"), BootId());
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
  if (host != HostName()) return ProcessState::kUnknown;
  if (start == "0") return ProcessState::kUnknown;   // /proc was unreadable when it was made
  if (boot != BootId()) return ProcessState::kGone;  // nothing survives a reboot
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

int TerminateProcessGroup(pid_t group, std::string_view name, std::string_view value,
                          std::chrono::milliseconds grace) {
  if (group <= 1) return 0;
  auto members = [&] {
    std::vector<pid_t> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string pid_text = entry.path().filename().string();
      if (pid_text.empty() || !std::isdigit(static_cast<unsigned char>(pid_text[0]))) continue;
      const pid_t pid = static_cast<pid_t>(std::atol(pid_text.c_str()));
      const std::string stat = ReadFile("/proc/" + pid_text + "/stat");
      const auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(stat.substr(close + 1));
      std::string state, ppid, pgrp;
      if (!(fields >> state >> ppid >> pgrp) || state == "Z") continue;
      if (std::atol(pgrp.c_str()) != group) continue;
      if (ProcessHasEnvironment(pid, name, value)) found.push_back(pid);
    }
    return found;
  };
  std::vector<pid_t> found = members();
  const int count = static_cast<int>(found.size());
  if (grace.count() > 0) {
    for (pid_t pid : found) kill(pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!found.empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      found = members();
    }
  }
  for (pid_t pid : found) kill(pid, SIGKILL);
  return count;
}

}  // namespace somlier
