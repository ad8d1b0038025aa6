// RunCommand: runs a program to completion and collects its output — for short tools
// (git, tar, python -m venv, pip, kubectl), never through a shell. With `input`, SIGPIPE
// must be ignored by the process (a child that exits early must not kill it).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

struct CommandOutput {
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
};

struct CommandOptions {
  std::optional<std::map<std::string, std::string>> env;  // nullopt: inherit
  std::string working_dir;
  std::chrono::seconds timeout{600};
  // Written to the command's standard input, which is then closed (kubectl reads manifests
  // there, so that nothing secret reaches its argv); nullopt: /dev/null.
  std::optional<std::string> input;
  // Polled every 100 ms while the command runs; true kills it (e.g. the user pressed Ctrl-C).
  std::function<bool()> cancelled;
};

// Errors: NotFound when the program cannot be started; Unavailable when it runs past the
// timeout or is cancelled (it is killed). A non-zero exit is not an error here: see
// exit_code.
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options = {});

}  // namespace somlier
