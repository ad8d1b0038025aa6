// ArtifactStore: run artifacts and models as files under one root directory
// (SOMLIER_ARTIFACT_ROOT), addressed by relative paths and by `mlflow-artifacts:/<path>`
// URIs (what experiments and runs record, as an MLflow server that serves artifacts does).
//
// Every path is checked before use: absolute paths, '..', '.' or empty segments,
// backslashes, '#' and NUL are InvalidArgument, and a path that symlinks lead outside the root is
// refused too. Writes are atomic (artifacts/atomic_file.h): readers never see a
// partial file. Thread-safe: no shared mutable state beyond the filesystem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/core/result.h"

namespace somlier {

struct ArtifactFile {
  std::string path;  // relative to the store's root
  bool is_dir = false;
  int64_t size = 0;  // files only
};

class ArtifactStore {
 public:
  // Creates `root` when missing.
  static Result<std::unique_ptr<ArtifactStore>> Open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }

  // The URI under which `relative` is recorded: "mlflow-artifacts:/<relative>".
  static std::string UriFor(std::string_view relative);

  // The relative path a URI names: mlflow-artifacts:/x, mlflow-artifacts://host/x,
  // file:///<root>/x or <root>/x. Errors: InvalidArgument for URIs outside this store.
  Result<std::string> RelativePathOf(std::string_view uri) const;

  // The checked absolute path of `relative` ("" is the root).
  Result<std::filesystem::path> Resolve(std::string_view relative) const;

  // Starts writing the file `relative` atomically (see artifacts/atomic_file.h).
  Result<std::unique_ptr<AtomicFile>> StartWrite(std::string_view relative) const;
  Status WriteString(std::string_view relative, std::string_view content) const;

  // Copies a local file or directory tree into the store under `relative`.
  Status Import(const std::filesystem::path& source, std::string_view relative) const;

  // The entries of a directory, one level, named by their path relative to the root,
  // sorted. A missing path or a file lists as empty, as MLflow's artifact repositories do.
  Result<std::vector<ArtifactFile>> List(std::string_view relative_dir) const;

  // NotFound when missing.
  Result<ArtifactFile> Stat(std::string_view relative) const;

  // Removes a file or a directory tree strictly inside an experiment's directory (at least
  // two segments: never the root, never a whole experiment). NotFound when missing.
  Status Delete(std::string_view relative) const;

 private:
  explicit ArtifactStore(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;  // canonical
};

}  // namespace somlier
