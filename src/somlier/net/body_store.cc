#include "somlier/net/body_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace somlier {

namespace {

// Takes `n` bytes of a budget shared by threads; false (taking nothing) when they do not fit.
bool Reserve(std::atomic<size_t>& used, size_t n, size_t budget) {
  if (used.fetch_add(n) + n <= budget) return true;
  used.fetch_sub(n);
  return false;
}

}  // namespace

std::optional<HttpRefusal> BodyStore::Append(Connection& c, std::string_view data) {
  const size_t n = data.size();
  if (c.received + n > c.limit) {
    return HttpRefusal{413, fmt::format("request bodies of {} {} are limited to {} bytes", c.method,
                                        c.path, c.limit)};
  }
  if (c.spool_fd < 0) {
    if (c.body.size() + n <= memory_body_bytes_ && Reserve(memory_used_, n, memory_budget_bytes_)) {
      c.received += n;
      c.body.append(data);
      c.memory_accounted += n;
      return std::nullopt;
    }
    if (auto refused = Spool(c)) return refused;
  }
  if (!Reserve(spool_used_, n, spool_budget_bytes_)) {
    return HttpRefusal{503, "the server is buffering too many request bodies; try again shortly"};
  }
  for (size_t done = 0; done < n;) {
    const ssize_t w =
        ::pwrite(c.spool_fd, data.data() + done, n - done, static_cast<off_t>(c.spool_size + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      spool_used_ -= n;
      return HttpRefusal{503, "the server cannot buffer the request body (disk full?)"};
    }
    done += static_cast<size_t>(w);
  }
  c.received += n;
  c.spool_size += n;
  return std::nullopt;
}

std::optional<HttpRefusal> BodyStore::Spool(Connection& c) {
  if (c.spool_fd >= 0) return std::nullopt;
  std::error_code ec;
  std::string dir = std::filesystem::temp_directory_path(ec).string();
  if (ec) dir = "/tmp";
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {  // a filesystem without O_TMPFILE
    std::string name = dir + "/somlier-body-XXXXXX";
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(name.c_str());
  }
  if (fd < 0) return HttpRefusal{503, "the server cannot buffer the request body"};
  const std::string held = std::move(c.body);
  Release(c);  // the memory it held
  c.spool_fd = fd;
  c.spool_size = 0;
  c.received -= held.size();
  return held.empty() ? std::nullopt : Append(c, held);
}

void BodyStore::Release(Connection& c) {
  memory_used_ -= c.memory_accounted;
  c.memory_accounted = 0;
  c.body.clear();
  c.body.shrink_to_fit();
  if (c.spool_fd >= 0) {
    ::close(c.spool_fd);
    spool_used_ -= c.spool_size;
    c.spool_fd = -1;
    c.spool_size = 0;
  }
}

}  // namespace somlier
