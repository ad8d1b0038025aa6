// FileLock: an exclusive advisory lock (flock) on a file, held for the object's lifetime,
// for work that several processes may start at once (a repository mirror, a virtualenv).
// The lock file is created when missing and left in place. Blocks until acquired.
#pragma once

#include <filesystem>
#include <memory>

#include "somlier/core/result.h"

namespace somlier {

class FileLock {
 public:
  // Errors: Internal when the lock file cannot be opened.
  static Result<std::unique_ptr<FileLock>> Acquire(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// A short stable hash of `text` as 16 hex digits (FNV-1a, 64 bits), for cache file names.
std::string StableHash(std::string_view text);

}  // namespace somlier
