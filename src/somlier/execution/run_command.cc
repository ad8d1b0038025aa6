#include "somlier/execution/run_command.h"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "somlier/execution/line_pump.h"
#include "somlier/execution/subprocess.h"

namespace somlier {

Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options) {
  SpawnOptions spawn;
  spawn.argv = argv;
  spawn.env = options.env;
  spawn.working_dir = options.working_dir;
  spawn.new_process_group = true;
  spawn.pipe_stdin = options.input.has_value();
  SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::Spawn(spawn));
  // The input is written beside the output pump: a child that writes while it reads must
  // not block us both. A child that exits without reading it all is not an error here.
  std::thread writer;
  if (options.input) {
    writer = std::thread([fd = child->TakeStdin(), &input = *options.input] {
      std::string_view left = input;
      while (!left.empty()) {
        const ssize_t n = write(fd, left.data(), left.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EPIPE: the child closed its stdin
        left.remove_prefix(static_cast<size_t>(n));
      }
      close(fd);
    });
  }
  CommandOutput out;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  bool cancelled = false;
  // However the pump ends (also by an exception), the writer is joined before it goes.
  struct JoinWriter {
    std::thread& writer;
    Subprocess& child;
    ~JoinWriter() {
      if (writer.joinable()) {
        child.Signal(SIGKILL);  // a stuck child would keep the writer waiting
        writer.join();
      }
    }
  } join_writer{writer, *child};
  Status pumped = PumpLines(
      child->stdout_fd(), child->stderr_fd(),
      [&](OutputStream stream, std::string_view line) {
        (stream == OutputStream::kStdout ? out.stdout_text : out.stderr_text).append(line);
      },
      64 * 1024,
      [&] {
        if (!timed_out && !cancelled) {
          timed_out = std::chrono::steady_clock::now() > deadline;
          cancelled = options.cancelled && options.cancelled();
          if (timed_out || cancelled) child->Signal(SIGKILL);
        }
        return true;
      });
  if (!pumped.ok()) child->Signal(SIGKILL);  // the writer must not wait on a stuck child
  if (writer.joinable()) writer.join();
  SOMLIER_RETURN_IF_ERROR(pumped);
  SOMLIER_ASSIGN_OR_RETURN(out.exit_code, child->Wait());
  if (cancelled) return Unavailable(fmt::format("'{}' was interrupted", argv[0]));
  if (timed_out) {
    return Unavailable(fmt::format("'{}' did not finish within {} s and was stopped", argv[0],
                                   options.timeout.count()));
  }
  return out;
}

}  // namespace somlier
