// AtomicFile: writes a file so that readers see either nothing or the whole file.
//
// Data goes to a temporary file beside the target (".<name>.part-<random>"); Commit()
// flushes it to disk and renames it over the target. Destroyed without Commit(), the
// temporary file is removed: an interrupted or failed write leaves nothing behind. The
// target's directory is created when missing. One thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier {

class AtomicFile {
 public:
  static Result<std::unique_ptr<AtomicFile>> Create(const std::filesystem::path& target);

  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Append(const char* data, size_t size);
  Status Append(std::string_view data) { return Append(data.data(), data.size()); }
  Status Commit();

  // Whether `name` is the temporary file of a write in progress.
  static bool IsTemporaryName(std::string_view name);

 private:
  AtomicFile(int fd, std::filesystem::path temp, std::filesystem::path target)
      : fd_(fd), temp_(std::move(temp)), target_(std::move(target)) {}
  int fd_;
  std::filesystem::path temp_;
  std::filesystem::path target_;
};

// Writes `text` to `target` through an AtomicFile. Errors: Internal naming the file.
Status WriteFileAtomically(const std::filesystem::path& target, std::string_view text);

}  // namespace somlier
