#include "somlier/projects/git_cache.h"

#include <fmt/core.h>

#include "somlier/core/file_lock.h"
#include "somlier/core/ids.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"
#include "somlier/execution/run_command.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

std::string FirstLine(std::string_view text) {
  text = Trim(text);
  std::string out;
  for (const std::string& line : Split(text, '\n')) {
    // git's fatal/error lines say why; skip its progress chatter.
    if (line.starts_with("fatal:") || line.starts_with("error:") || line.starts_with("ERROR:")) {
      if (!out.empty()) out += " ";
      out += std::string(Trim(line));
    }
  }
  return out.empty() ? std::string(text.substr(0, 300)) : out;
}

}  // namespace

Result<std::string> NormalizeProjectPath(const std::string& path) {
  std::string p(Trim(path));
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "." || p.empty()) return std::string();
  if (p.front() == '/' || p.front() == '-') {
    return InvalidArgument(
        fmt::format("project name '{}' must be a directory path inside the repository (e.g. "
                    "example-projects/sklearn)",
                    path));
  }
  for (const std::string& part : Split(p, '/')) {
    if (part == ".." || part.empty()) {
      return InvalidArgument(
          fmt::format("project name '{}' must not contain '..' or empty parts", path));
    }
  }
  return p;
}

GitCache::GitCache(fs::path root, Environment env, std::function<bool()> cancelled)
    : root_(std::move(root)), env_(std::move(env)), cancelled_(std::move(cancelled)) {}

fs::path GitCache::MirrorPath(const std::string& uri) const {
  // Readable and unique: the repository's last path part plus a hash of the whole URI.
  std::string base = uri;
  while (!base.empty() && (base.back() == '/')) base.pop_back();
  base =
      base.substr(base.find_last_of("/:") == std::string::npos ? 0 : base.find_last_of("/:") + 1);
  if (base.ends_with(".git")) base.resize(base.size() - 4);
  std::string safe;
  for (char c : base)
    safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return root_ / fmt::format("{}-{}.git", safe.empty() ? "repo" : safe, StableHash(uri));
}

CommandOptions GitCache::Options() const {
  std::map<std::string, std::string> env(env_.begin(), env_.end());
  env["GIT_TERMINAL_PROMPT"] = "0";
  env["GIT_ALLOW_PROTOCOL"] = "file:git:http:https:ssh";
  if (env.find("GIT_SSH_COMMAND") == env.end()) env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  env["LC_ALL"] = "C";  // git's messages in English, for the errors quoted to users
  CommandOptions options;
  options.env = std::move(env);
  options.cancelled = cancelled_;
  return options;
}

Result<std::string> GitCache::Git(const std::string& uri, const std::vector<std::string>& args,
                                  std::string_view what) {
  std::vector<std::string> argv = {"git", "--git-dir=" + MirrorPath(uri).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  SOMLIER_ASSIGN_OR_RETURN(CommandOutput out, RunCommand(argv, Options()));
  if (out.exit_code != 0) {
    return Internal(fmt::format("{}: {}", what, FirstLine(out.stderr_text)));
  }
  return out.stdout_text;
}

Result<std::string> GitCache::Fetch(const std::string& uri, const std::string& ref) {
  if (uri.empty()) {
    return InvalidArgument(
        "no repository given: pass --github_uri or set SOMLIER_DEFAULT_PROJECT_URI");
  }
  if (uri.front() == '-') {
    return InvalidArgument(
        fmt::format("repository URI '{}' must not start with '-'", RedactUrlCredentials(uri)));
  }
  if (ref.empty()) return InvalidArgument("the project ref must be a branch, tag or commit");
  if (ref.front() == '-') {
    return InvalidArgument(fmt::format("project ref '{}' must not start with '-'", ref));
  }
  const fs::path mirror = MirrorPath(uri);
  SOMLIER_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(fs::path(mirror.string() + ".lock")));
  const CommandOptions options = Options();
  const std::string shown = RedactUrlCredentials(uri);
  // git may quote the URI, credentials and all, in its messages.
  auto git_said = [&](const std::string& text) {
    return ReplaceAll(std::string(FirstLine(text)), uri, shown);
  };
  std::error_code ec;
  if (!fs::exists(mirror / "HEAD", ec)) {
    // Clone beside the final place and rename, so a failed clone leaves nothing behind.
    const fs::path temp = fs::path(mirror.string() + ".clone-" + NewRunId().substr(0, 8));
    auto out =
        RunCommand({"git", "clone", "--mirror", "--quiet", "--", uri, temp.string()}, options);
    if (!out.ok() || out->exit_code != 0) {
      fs::remove_all(temp, ec);
      if (!out.ok()) return out.status();
      return NotFound(fmt::format("repository '{}' could not be fetched: {}", shown,
                                  git_said(out->stderr_text)));
    }
    fs::rename(temp, mirror, ec);
    if (ec) {
      fs::remove_all(temp, ec);
      return Internal(fmt::format("cannot store the mirror of '{}': {}", shown, ec.message()));
    }
  } else {
    SOMLIER_ASSIGN_OR_RETURN(
        CommandOutput out,
        RunCommand({"git", "--git-dir=" + mirror.string(), "fetch", "--prune", "--quiet", "origin"},
                   options));
    if (out.exit_code != 0) {
      return NotFound(fmt::format("repository '{}' could not be fetched: {}", shown,
                                  git_said(out.stderr_text)));
    }
  }
  auto commit =
      Git(uri, {"rev-parse", "--verify", "--quiet", "--end-of-options", ref + "^{commit}"},
          "resolving the ref");
  if (!commit.ok() || Trim(*commit).empty()) {
    return NotFound(fmt::format(
        "the project's version does not exist: '{}' is not a branch, tag or commit of '{}'", ref,
        shown));
  }
  return std::string(Trim(*commit));
}

Status GitCache::CheckProject(const std::string& uri, const std::string& commit,
                              const std::string& project_path) {
  SOMLIER_ASSIGN_OR_RETURN(std::string path, NormalizeProjectPath(project_path));
  auto type = Git(uri, {"cat-file", "-t", commit + ":" + path}, "checking the project");
  if (!type.ok() || Trim(*type) != "tree") {
    return NotFound(fmt::format("the project does not exist: '{}' is not a directory of '{}' at {}",
                                project_path, RedactUrlCredentials(uri), commit.substr(0, 12)));
  }
  return OkStatus();
}

Result<GitCache::Archive> GitCache::ArchiveOf(const std::string& commit,
                                              const std::string& project_path) const {
  SOMLIER_ASSIGN_OR_RETURN(std::string path, NormalizeProjectPath(project_path));
  Archive archive;
  archive.name = fmt::format("{}-{}", commit, StableHash(path));
  archive.file = root_ / "archives" / (archive.name + ".tar");
  archive.strip_components = path.empty() ? 0 : static_cast<int>(Split(path, '/').size());
  return archive;
}

Result<GitCache::Archive> GitCache::MakeArchive(const std::string& uri, const std::string& commit,
                                                const std::string& project_path) {
  SOMLIER_ASSIGN_OR_RETURN(std::string path, NormalizeProjectPath(project_path));
  SOMLIER_ASSIGN_OR_RETURN(Archive made, ArchiveOf(commit, project_path));
  const fs::path archives = root_ / "archives";
  const fs::path& archive = made.file;
  std::error_code ec;
  fs::create_directories(archives, ec);
  if (!fs::exists(archive, ec)) {
    SOMLIER_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(fs::path(archive.string() + ".lock")));
    if (!fs::exists(archive, ec)) {
      const fs::path temp = fs::path(archive.string() + ".part-" + NewRunId().substr(0, 8));
      std::vector<std::string> args = {"archive", "--format=tar", "-o", temp.string(), commit};
      if (!path.empty()) args.insert(args.end(), {"--", path});
      Result<std::string> out = Git(uri, args, fmt::format("archiving '{}'", project_path));
      if (!out.ok()) {
        fs::remove(temp, ec);
        return out.status();
      }
      fs::rename(temp, archive, ec);
      if (ec) return Internal(fmt::format("cannot store '{}': {}", archive.string(), ec.message()));
    }
  }
  return made;
}

Result<fs::path> GitCache::FindArchive(const std::string& name) const {
  if (!IsProjectArchiveName(name)) {
    return InvalidArgument(fmt::format("'{}' is not a project archive's name (COMMIT-HASH)", name));
  }
  fs::path file = root_ / "archives" / (name + ".tar");
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return NotFound(fmt::format("there is no project archive '{}'", name));
  }
  return file;
}

Status GitCache::Export(const std::string& uri, const std::string& commit,
                        const std::string& project_path, const fs::path& destination) {
  SOMLIER_ASSIGN_OR_RETURN(Archive archive, MakeArchive(uri, commit, project_path));
  std::error_code ec;
  fs::create_directories(destination, ec);
  if (ec) {
    return Internal(fmt::format("cannot create '{}': {}", destination.string(), ec.message()));
  }
  CommandOptions options;
  SOMLIER_ASSIGN_OR_RETURN(
      CommandOutput out,
      RunCommand({"tar", "-x", "-f", archive.file.string(), "-C", destination.string(),
                  fmt::format("--strip-components={}", archive.strip_components)},
                 options));
  if (out.exit_code != 0) {
    return Internal(fmt::format("unpacking the project into '{}': {}", destination.string(),
                                FirstLine(out.stderr_text)));
  }
  return OkStatus();
}

}  // namespace somlier
