#include "somlier/artifacts/artifact_store.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

Status CheckRelative(std::string_view relative) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("invalid artifact path '{}': {}", relative, why));
  };
  if (relative.find('\0') != std::string_view::npos) return bad("it contains a NUL byte");
  if (relative.find('\\') != std::string_view::npos) return bad("it contains a backslash");
  if (relative.find('#') != std::string_view::npos) return bad("it contains '#'");
  if (!relative.empty() && relative[0] == '/') return bad("it is absolute");
  if (relative.empty()) return OkStatus();  // the root
  for (const std::string& part : Split(relative, '/')) {
    if (part == "..") return bad("it contains '..'");
    if (part == ".") return bad("it contains '.'");
    if (part.empty()) return bad("it contains an empty segment ('//' or a trailing '/')");
  }
  return OkStatus();
}

bool IsWithin(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return Unavailable(
        fmt::format("cannot create the artifact root '{}': {}", root.string(), ec.message()));
  }
  fs::path canonical = fs::canonical(root, ec);
  if (ec) {
    return Unavailable(
        fmt::format("cannot open the artifact root '{}': {}", root.string(), ec.message()));
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(canonical));
}

std::string ArtifactStore::UriFor(std::string_view relative) {
  return "mlflow-artifacts:/" + std::string(relative);
}

Result<std::string> ArtifactStore::RelativePathOf(std::string_view uri) const {
  std::string_view rest;
  if (uri.starts_with("mlflow-artifacts://")) {
    rest = uri.substr(strlen("mlflow-artifacts://"));
    const size_t slash = rest.find('/');  // skip the host part
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  } else if (uri.starts_with("mlflow-artifacts:")) {
    rest = uri.substr(strlen("mlflow-artifacts:"));
  } else {
    std::string_view path = uri.starts_with("file://") ? uri.substr(7) : uri;
    if (uri.find("://") != std::string_view::npos && !uri.starts_with("file://")) {
      return InvalidArgument(fmt::format(
          "artifact URI '{}' is not stored by this server (expected mlflow-artifacts:/...)", uri));
    }
    const fs::path p = fs::path(std::string(path)).lexically_normal();
    if (!IsWithin(p, root_)) {
      // Names the caller's value only: the root is this server's business.
      return InvalidArgument(
          fmt::format("artifact location '{}' is not in this server's artifact store (expected "
                      "mlflow-artifacts:/...)",
                      uri));
    }
    return p.lexically_relative(root_).string() == "." ? std::string()
                                                       : p.lexically_relative(root_).string();
  }
  while (rest.starts_with("/")) rest.remove_prefix(1);
  while (rest.ends_with("/")) rest.remove_suffix(1);
  SOMLIER_RETURN_IF_ERROR(CheckRelative(rest));
  return std::string(rest);
}

Result<fs::path> ArtifactStore::Resolve(std::string_view relative) const {
  SOMLIER_RETURN_IF_ERROR(CheckRelative(relative));
  fs::path path = relative.empty() ? root_ : (root_ / std::string(relative)).lexically_normal();
  // Symlinks (in the existing part of the path) must not lead outside the root.
  std::error_code ec;
  fs::path real = fs::weakly_canonical(path, ec);
  if (ec || !IsWithin(real, root_)) {
    return InvalidArgument(
        fmt::format("invalid artifact path '{}': it leads outside the artifact root", relative));
  }
  return path;
}

Result<std::unique_ptr<AtomicFile>> ArtifactStore::StartWrite(std::string_view relative) const {
  if (relative.empty()) return InvalidArgument("an artifact to write needs a file path");
  SOMLIER_ASSIGN_OR_RETURN(fs::path path, Resolve(relative));
  // What the caller can fix is said with the caller's path (AtomicFile's messages hold the
  // absolute one): a directory where the file goes, or a file where a directory must be.
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return InvalidArgument(
        fmt::format("artifact '{}' is a directory; a file cannot be written there", relative));
  }
  for (size_t slash = relative.find('/'); slash != std::string_view::npos;
       slash = relative.find('/', slash + 1)) {
    const std::string_view parent = relative.substr(0, slash);
    if (fs::exists(root_ / std::string(parent), ec) &&
        !fs::is_directory(root_ / std::string(parent), ec)) {
      return InvalidArgument(fmt::format(
          "artifact '{}' cannot be written: '{}' is a file, not a directory", relative, parent));
    }
  }
  return AtomicFile::Create(path);
}

Status ArtifactStore::WriteString(std::string_view relative, std::string_view content) const {
  SOMLIER_ASSIGN_OR_RETURN(auto file, StartWrite(relative));
  SOMLIER_RETURN_IF_ERROR(file->Append(content.data(), content.size()));
  return file->Commit();
}

Status ArtifactStore::Import(const fs::path& source, std::string_view relative) const {
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(source, ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string sub = entry.path().lexically_relative(source).string();
      SOMLIER_RETURN_IF_ERROR(
          Import(entry.path(), relative.empty() ? sub : std::string(relative) + "/" + sub));
    }
    if (ec) return Internal(fmt::format("cannot read '{}': {}", source.string(), ec.message()));
    return OkStatus();
  }
  FILE* in = std::fopen(source.c_str(), "rb");
  if (in == nullptr) {
    // Named by where it was to go: `source` is a path on this machine (a server's scratch
    // directory), not the caller's business.
    return NotFound(fmt::format("cannot read the file to store as artifact '{}': {}", relative,
                                std::strerror(errno)));
  }
  struct Closer {
    FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{in};
  SOMLIER_ASSIGN_OR_RETURN(auto file, StartWrite(relative));
  char buffer[1 << 16];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, in)) {
    SOMLIER_RETURN_IF_ERROR(file->Append(buffer, n));
  }
  if (std::ferror(in)) return Internal(fmt::format("cannot read '{}'", source.string()));
  return file->Commit();
}

Result<std::vector<ArtifactFile>> ArtifactStore::List(std::string_view relative_dir) const {
  SOMLIER_ASSIGN_OR_RETURN(fs::path dir, Resolve(relative_dir));
  std::vector<ArtifactFile> out;
  std::error_code ec;
  // A missing path, or a file, lists as empty — as MLflow's server answers, whose client
  // tells files from directories that way (download_artifacts, load_dict, load_text).
  if (!fs::exists(dir, ec) || !fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (AtomicFile::IsTemporaryName(name)) continue;  // a write in progress
    ArtifactFile f;
    f.path = relative_dir.empty() ? name : std::string(relative_dir) + "/" + name;
    f.is_dir = entry.is_directory(ec);
    if (!f.is_dir) f.size = static_cast<int64_t>(entry.file_size(ec));
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(),
            [](const ArtifactFile& a, const ArtifactFile& b) { return a.path < b.path; });
  return out;
}

Result<ArtifactFile> ArtifactStore::Stat(std::string_view relative) const {
  SOMLIER_ASSIGN_OR_RETURN(fs::path path, Resolve(relative));
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return NotFound(fmt::format("artifact '{}' does not exist", relative));
  }
  ArtifactFile f{std::string(relative), fs::is_directory(status), 0};
  if (!f.is_dir) f.size = static_cast<int64_t>(fs::file_size(path, ec));
  return f;
}

Status ArtifactStore::Delete(std::string_view relative) const {
  SOMLIER_ASSIGN_OR_RETURN(fs::path path, Resolve(relative));
  // The root holds one directory per experiment: only what lies strictly inside one may go
  // (a run's directory, or its artifacts/ as MLflow's garbage collection deletes).
  if (relative.find('/') == std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "refusing to delete '{}': only paths inside an experiment's directory "
        "(EXPERIMENT_ID/...) can be deleted, never the artifact root or a whole experiment",
        relative));
  }
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    return NotFound(fmt::format("artifact '{}' does not exist", relative));
  }
  fs::remove_all(path, ec);
  if (ec) return Internal(fmt::format("cannot delete '{}': {}", path.string(), ec.message()));
  return OkStatus();
}

}  // namespace somlier
