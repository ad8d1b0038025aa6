#include "somlier/artifacts/atomic_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "somlier/core/ids.h"

namespace somlier {

namespace fs = std::filesystem;

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const fs::path& target) {
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
      return Internal(
          fmt::format("cannot create '{}': {}", target.parent_path().string(), ec.message()));
    }
  }
  if (fs::is_directory(target, ec)) {
    return InvalidArgument(fmt::format("'{}' is a directory", target.string()));
  }
  fs::path temp = target.parent_path() /
                  ("." + target.filename().string() + ".part-" + NewRunId().substr(0, 12));
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Internal(fmt::format("cannot write '{}': {}", temp.string(), std::strerror(errno)));
  }
  return std::unique_ptr<AtomicFile>(new AtomicFile(fd, std::move(temp), target));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  std::error_code ec;
  if (!temp_.empty()) fs::remove(temp_, ec);
}

bool AtomicFile::IsTemporaryName(std::string_view name) {
  return name.starts_with(".") && name.find(".part-") != std::string_view::npos;
}

Status AtomicFile::Append(const char* data, size_t size) {
  if (fd_ < 0) return FailedPrecondition("the file was already committed");
  size_t written = 0;
  while (written < size) {
    ssize_t w = ::write(fd_, data + written, size - written);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Internal(fmt::format("cannot write '{}': {}", target_.string(), std::strerror(errno)));
    }
    written += static_cast<size_t>(w);
  }
  return OkStatus();
}

Status AtomicFile::Commit() {
  if (fd_ < 0) return FailedPrecondition("the file was already committed");
  const bool synced = fsync(fd_) == 0;
  const bool closed = close(fd_) == 0;
  fd_ = -1;
  if (!synced || !closed) {
    return Internal(fmt::format("cannot write '{}': {}", target_.string(), std::strerror(errno)));
  }
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec) {
    return Internal(
        fmt::format("cannot move the file into '{}': {}", target_.string(), ec.message()));
  }
  temp_.clear();
  return OkStatus();
}

Status WriteFileAtomically(const std::filesystem::path& target, std::string_view text) {
  SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(target));
  SOMLIER_RETURN_IF_ERROR(file->Append(text));
  return file->Commit();
}

}  // namespace somlier
