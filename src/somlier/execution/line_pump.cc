#include "somlier/execution/line_pump.h"

#include <fmt/core.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace somlier {

Status PumpLines(int stdout_fd, int stderr_fd, const LineCallback& on_line, size_t max_line,
                 const std::function<bool()>& tick) {
  struct Source {
    int fd;
    OutputStream stream;
    std::string pending;
  };
  Source sources[2] = {{stdout_fd, OutputStream::kStdout, {}},
                       {stderr_fd, OutputStream::kStderr, {}}};
  char buffer[16384];
  while (true) {
    pollfd fds[2];
    int count = 0;
    Source* polled[2];
    for (Source& s : sources) {
      if (s.fd < 0) continue;
      fds[count] = {s.fd, POLLIN, 0};
      polled[count++] = &s;
    }
    if (count == 0) return OkStatus();
    if (tick && !tick()) return OkStatus();
    if (poll(fds, static_cast<nfds_t>(count), tick ? 100 : -1) < 0) {
      if (errno == EINTR) continue;  // e.g. a forwarded Ctrl-C; keep draining
      return Internal(fmt::format("poll: {}", std::strerror(errno)));
    }
    for (int i = 0; i < count; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Source& s = *polled[i];
      ssize_t n = read(s.fd, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {  // end of file (or a broken pipe): flush what is left
        if (!s.pending.empty()) on_line(s.stream, s.pending);
        s.pending.clear();
        s.fd = -1;
        continue;
      }
      s.pending.append(buffer, static_cast<size_t>(n));
      size_t start = 0;
      while (true) {
        size_t nl = s.pending.find('\n', start);
        if (nl == std::string::npos) break;
        on_line(s.stream, std::string_view(s.pending).substr(start, nl + 1 - start));
        start = nl + 1;
      }
      s.pending.erase(0, start);
      while (s.pending.size() >= max_line) {
        on_line(s.stream, std::string_view(s.pending).substr(0, max_line));
        s.pending.erase(0, max_line);
      }
    }
  }
}

}  // namespace somlier
