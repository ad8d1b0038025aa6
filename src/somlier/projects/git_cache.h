// GitCache: projects from git — one cached mirror per repository under a root directory
// ($SOMLIER_HOME/repos), fetched with the `git` program (so users' ssh keys, ssh config and
// credential helpers apply), and a project directory at a commit exported as plain files.
//
// Any URL git understands works (git@host:org/repo.git, https://, file://, a local path),
// except transports that run commands (ext::, fd::): GIT_ALLOW_PROTOCOL limits git to
// file, git, http, https and ssh. URIs and refs starting with '-' are refused (they would be
// read as options), as are project paths that are absolute or climb out with '..'. git
// never prompts (GIT_TERMINAL_PROMPT=0, ssh in batch mode unless GIT_SSH_COMMAND is set).
// Credentials in a URI (https://TOKEN@host/...) never appear in messages. Concurrent fetches
// of one repository, from any process, take turns on a file lock. `cancelled`, when given,
// is polled while git runs; true stops it (Unavailable).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/execution/run_command.h"

namespace somlier {

class GitCache {
 public:
  GitCache(std::filesystem::path root, Environment env, std::function<bool()> cancelled = nullptr);

  // Clones (first time) or fetches the mirror of `uri`, then resolves `ref` (a branch, tag or
  // commit, abbreviated or not) to a full commit id. Errors: InvalidArgument for a URI or
  // ref starting with '-'; NotFound when the repository cannot be fetched (git's reason
  // quoted) or "the project's version does not exist" for an unknown ref.
  Result<std::string> Fetch(const std::string& uri, const std::string& ref);

  // NotFound ("the project does not exist") unless `project_path` is a directory at
  // `commit`; InvalidArgument for a path that is absolute or contains '..'.
  Status CheckProject(const std::string& uri, const std::string& commit,
                      const std::string& project_path);

  // Writes the files of `project_path` at `commit` into `destination` (created; it must
  // not exist), so that destination/<file> is project_path/<file>. The archive of a
  // (commit, path) is made once and kept, so exporting for many runs is cheap.
  Status Export(const std::string& uri, const std::string& commit, const std::string& project_path,
                const std::filesystem::path& destination);

  // The archive Export unpacks: a tar of the repository at `commit` holding only
  // `project_path` (made once, kept under archives/ by `name`: the commit, '-', a hash of
  // the path). Unpacked with `strip_components` leading directories removed, it is the
  // project directory. What a Kubernetes pod downloads from the server instead of cloning.
  struct Archive {
    std::string name;
    std::filesystem::path file;
    int strip_components = 0;
  };
  Result<Archive> MakeArchive(const std::string& uri, const std::string& commit,
                              const std::string& project_path);
  // The archive's name, file and depth, without making it.
  Result<Archive> ArchiveOf(const std::string& commit, const std::string& project_path) const;
  // The archive called `name`, if it was made. Errors: InvalidArgument for a name that is
  // not an archive's; NotFound.
  Result<std::filesystem::path> FindArchive(const std::string& name) const;

 private:
  std::filesystem::path MirrorPath(const std::string& uri) const;
  Result<std::string> Git(const std::string& uri, const std::vector<std::string>& args,
                          std::string_view what);

  CommandOptions Options() const;

  std::filesystem::path root_;
  Environment env_;
  std::function<bool()> cancelled_;
};

// Checks a project path from the command line: relative, no '..' component, no leading
// '-'; "." and "" mean the repository root. Returns it normalised (no trailing '/').
Result<std::string> NormalizeProjectPath(const std::string& path);

}  // namespace somlier
