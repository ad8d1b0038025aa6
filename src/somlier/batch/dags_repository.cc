#include "somlier/batch/dags_repository.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>

#include "somlier/batch/github.h"
#include "somlier/core/base64.h"
#include "somlier/core/file_lock.h"
#include "somlier/core/ids.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"
#include "somlier/execution/run_command.h"

namespace somlier::batch {
namespace {

namespace fs = std::filesystem;

CommandOptions GitOptions(const Environment& base) {
  std::map<std::string, std::string> env(base.begin(), base.end());
  // A caller's repository (somlier run from a git hook) must not become the one git acts on.
  for (const char* name : {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                           "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                           "GIT_PREFIX", "GIT_CONFIG", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
                           "GIT_SHALLOW_FILE", "GIT_REPLACE_REF_BASE", "GIT_NO_REPLACE_OBJECTS"}) {
    env.erase(name);
  }
  env["GIT_TERMINAL_PROMPT"] = "0";
  env["GIT_ALLOW_PROTOCOL"] = "file:git:http:https:ssh";
  if (env.find("GIT_SSH_COMMAND") == env.end()) env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes";
  env["LC_ALL"] = "C";
  CommandOptions options;
  options.env = std::move(env);
  options.timeout = std::chrono::seconds(300);
  return options;
}

// git with `args` (in `dir` when given); its standard output, or an error saying `doing` and
// git's first lines, with credentials removed from any URL in them.
Result<std::string> Git(const Environment& env, const fs::path& dir,
                        const std::vector<std::string>& args, std::string_view doing,
                        StatusCode failure = StatusCode::kUnavailable) {
  std::vector<std::string> argv = {"git"};
  if (!dir.empty()) argv.insert(argv.end(), {"-C", dir.string()});
  argv.insert(argv.end(), args.begin(), args.end());
  SOMLIER_ASSIGN_OR_RETURN(CommandOutput out, RunCommand(argv, GitOptions(env)));
  if (out.exit_code != 0) {
    std::string why(Trim(out.stderr_text));
    if (why.size() > 2000) why.resize(2000);
    // Any credentials in any URL git quotes (https://TOKEN@host/...) are removed.
    static const std::regex kCredentials(R"((\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@)");
    why = std::regex_replace(why, kCredentials, "$1***@");
    return Status(failure, fmt::format("{}: git failed: {}", doing, why));
  }
  return std::move(out.stdout_text);
}

// Removes a directory when it goes out of scope.
struct RemoveDir {
  fs::path dir;
  ~RemoveDir() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

}  // namespace

std::string CommitMessage(const std::string& dag_id) {
  return fmt::format("feat(dags/{}): add {}", dag_id, dag_id);
}

std::string DagBranch(const std::string& dag_id) {
  std::string branch = dag_id;
  std::replace(branch.begin(), branch.end(), '_', '-');
  return "somlier/" + branch;
}

struct DagsRepository::Clone {
  std::unique_ptr<RemoveDir> remove;
  fs::path dir;
  std::string branch;  // the default branch
};

DagsRepository::DagsRepository(DagsRepositoryConfig config) : config_(std::move(config)) {}

Result<std::string> DagsRepository::Url() {
  if (!config_.url.empty()) return config_.url;
  const fs::path bare = config_.home / "dags.git";
  std::error_code ec;
  if (fs::exists(bare / "HEAD", ec)) return bare.string();
  fs::create_directories(config_.home, ec);
  SOMLIER_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(config_.home / "dags.git.lock"));
  if (fs::exists(bare / "HEAD", ec)) return bare.string();
  // Made aside and renamed into place, with a first commit so that it has a default branch.
  const fs::path temp = config_.home / ("dags.git.part-" + NewRunId().substr(0, 8));
  RemoveDir remove_temp{temp};
  RemoveDir remove_seed{config_.home / "work" / ("dags-seed-" + NewRunId().substr(0, 8))};
  const std::string doing = "making the DAGs repository " + bare.string();
  SOMLIER_RETURN_IF_ERROR(Git(config_.env, {},
                              {"init", "--quiet", "--bare", "--initial-branch=main", temp.string()},
                              doing)
                              .status());
  const fs::path& seed = remove_seed.dir;
  SOMLIER_RETURN_IF_ERROR(
      Git(config_.env, {}, {"init", "--quiet", "--initial-branch=main", seed.string()}, doing)
          .status());
  fs::create_directories(seed / "dags", ec);
  std::ofstream(seed / "dags" / ".gitkeep").flush();
  std::ofstream(seed / "README.md")
      << "# DAGs\n\nAirflow DAGs written by SoMLier (`somlier batch create`, `somlier offline "
         "create_v2`); Airflow reads `dags/`.\n";
  SOMLIER_RETURN_IF_ERROR(Git(config_.env, seed, {"add", "-A"}, doing).status());
  SOMLIER_RETURN_IF_ERROR(Git(config_.env, seed,
                              {"-c", "user.name=SoMLier", "-c", "user.email=somlier@localhost",
                               "commit", "--quiet", "-m", "Start the DAGs repository"},
                              doing)
                              .status());
  SOMLIER_RETURN_IF_ERROR(
      Git(config_.env, seed, {"push", "--quiet", temp.string(), "HEAD:main"}, doing).status());
  fs::rename(temp, bare, ec);
  if (ec) return Internal(fmt::format("{}: {}", doing, ec.message()));
  remove_temp.dir.clear();
  return bare.string();
}

Result<DagsRepository::Clone> DagsRepository::CloneFresh(const Environment& env) {
  SOMLIER_ASSIGN_OR_RETURN(std::string url, Url());
  if (url.starts_with("-")) {
    return InvalidArgument(fmt::format("SOMLIER_DAGS_REPO '{}' must not start with '-'", url));
  }
  Clone clone;
  clone.dir = config_.home / "work" / ("dags-" + NewRunId().substr(0, 12));
  clone.remove = std::make_unique<RemoveDir>(RemoveDir{clone.dir});
  std::error_code ec;
  fs::create_directories(clone.dir.parent_path(), ec);
  SOMLIER_RETURN_IF_ERROR(
      Git(env, {}, {"clone", "--quiet", "--no-tags", "--depth=1", "--", url, clone.dir.string()},
          fmt::format("cloning the DAGs repository {}", RedactUrlCredentials(url)),
          StatusCode::kNotFound)
          .status());
  auto branch = Git(env, clone.dir, {"symbolic-ref", "--short", "HEAD"},
                    "finding the DAGs repository's default branch");
  if (!branch.ok() || !Git(env, clone.dir, {"rev-parse", "--verify", "--quiet", "HEAD"}, "").ok()) {
    return FailedPrecondition(fmt::format(
        "the DAGs repository {} has no commit on its default branch yet: push a first commit",
        RedactUrlCredentials(url)));
  }
  clone.branch = std::string(Trim(*branch));
  return clone;
}

Result<std::vector<DagEntry>> DagsRepository::List(const std::string& token) {
  SOMLIER_ASSIGN_OR_RETURN(std::string url, Url());
  SOMLIER_ASSIGN_OR_RETURN(Environment env, GitEnv(url, token));
  SOMLIER_ASSIGN_OR_RETURN(Clone clone, CloneFresh(env));
  std::vector<DagEntry> dags;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(clone.dir / "dags", ec)) {
    const fs::path& file = entry.path();
    if (file.extension() != ".py" || !entry.is_regular_file(ec)) continue;
    // SoMLier's own DAGs say so in their docstring's first lines: "(somlier batch create)".
    std::ifstream in(file);
    std::string head(1024, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    const size_t mark = head.find("Generated by SoMLier ");
    if (mark == std::string::npos) continue;
    std::string made_by;
    const size_t open = head.find("(somlier ", mark);
    const size_t close = head.find(')', open);
    if (open != std::string::npos && close != std::string::npos && close - open < 64) {
      made_by = head.substr(open + 1, close - open - 1);
    }
    dags.push_back({file.stem().string(), "dags/" + file.filename().string(), made_by});
  }
  std::sort(dags.begin(), dags.end(),
            [](const DagEntry& a, const DagEntry& b) { return a.dag_id < b.dag_id; });
  return dags;
}

Result<Environment> DagsRepository::GitEnv(const std::string& url, const std::string& token) {
  Environment env = config_.env;
  if (token.empty()) return env;
  if (url.starts_with("http://")) {
    return InvalidArgument(fmt::format(
        "SOMLIER_DAGS_REPO {} is plain http: the GitHub token would cross the network in "
        "clear; use https",
        RedactUrlCredentials(url)));
  }
  // The token as git's http.extraHeader for GitHub's host only (a mirror elsewhere never
  // sees it), through the environment only.
  const auto origin = SplitUrl(url);
  const auto api = SplitUrl(config_.github_api_url);
  std::string api_host = api ? api->origin.substr(api->origin.find("://") + 3) : "";
  if (api_host == "api.github.com") api_host = "github.com";
  if (origin && url.starts_with("https://") &&
      origin->origin.substr(origin->origin.find("://") + 3) == api_host) {
    const int count = std::atoi(Lookup(env, "GIT_CONFIG_COUNT").c_str());
    env["GIT_CONFIG_COUNT"] = std::to_string(count + 1);
    env[fmt::format("GIT_CONFIG_KEY_{}", count)] =
        fmt::format("http.https://{}/.extraHeader", api_host);
    env[fmt::format("GIT_CONFIG_VALUE_{}", count)] =
        "Authorization: Basic " + Base64Encode("x-access-token:" + token);
  }
  return env;
}

Result<Delivery> DagsRepository::Deliver(const std::string& dag_id, const std::string& source,
                                         const std::string& token) {
  SOMLIER_ASSIGN_OR_RETURN(std::string url, Url());
  std::optional<GitHubRepo> github;
  if (!token.empty()) {
    // Known before anything is pushed: where the pull request will go.
    SOMLIER_ASSIGN_OR_RETURN(github, GitHubRepoOf(url, config_.github_repo));
  }
  SOMLIER_ASSIGN_OR_RETURN(Environment env, GitEnv(url, token));
  SOMLIER_ASSIGN_OR_RETURN(Clone clone, CloneFresh(env));
  Delivery delivery;
  delivery.repository = RedactUrlCredentials(url);
  delivery.branch = token.empty() ? clone.branch : DagBranch(dag_id);
  delivery.path = "dags/" + dag_id + ".py";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(clone.dir / "dags", ec)) {
    const fs::path& file = entry.path();
    if (file.extension() != ".py") continue;
    const std::string other = file.stem().string();
    if (other == dag_id) {
      return AlreadyExists(
          fmt::format("DAG '{}' already exists in {} ({} on {}): choose another "
                      "DAG_ID",
                      dag_id, delivery.repository, delivery.path, clone.branch));
    }
    if (DagBranch(other) == DagBranch(dag_id)) {
      return AlreadyExists(fmt::format(
          "DAG '{}' would share the branch {} with DAG '{}' in {}: choose another DAG_ID", dag_id,
          DagBranch(dag_id), other, delivery.repository));
    }
  }

  bool pushed = false;
  if (github) {
    // Its branch from an earlier attempt whose pull request failed: only the pull request.
    SOMLIER_ASSIGN_OR_RETURN(
        std::string heads,
        Git(env, clone.dir, {"ls-remote", "--heads", "origin", "refs/heads/" + delivery.branch},
            "looking for the DAG's branch"));
    if (!Trim(heads).empty()) {
      SOMLIER_RETURN_IF_ERROR(
          Git(env, clone.dir,
              {"fetch", "--quiet", "--depth=2", "origin", "refs/heads/" + delivery.branch},
              "fetching the DAG's branch")
              .status());
      // Only a branch holding exactly this DAG, as one commit on top, is taken as ours.
      auto there = Git(env, clone.dir, {"rev-parse", "FETCH_HEAD:" + delivery.path}, "");
      CommandOptions hash = GitOptions(env);
      hash.input = source;
      auto ours = RunCommand({"git", "-C", clone.dir.string(), "hash-object", "--stdin"}, hash);
      auto changed =
          Git(env, clone.dir, {"diff-tree", "-r", "--name-only", "FETCH_HEAD^", "FETCH_HEAD"}, "");
      const bool same = there.ok() && ours.ok() && ours->exit_code == 0 &&
                        Trim(*there) == Trim(ours->stdout_text);
      if (!same || !changed.ok() || Trim(*changed) != delivery.path) {
        return AlreadyExists(fmt::format(
            "the branch {} of {} exists and does not hold exactly this {} (an earlier attempt "
            "with other values, another DAG whose id differs only by '_' and '-', or other "
            "changes): delete the branch or choose another DAG_ID",
            delivery.branch, delivery.repository, delivery.path));
      }
      SOMLIER_ASSIGN_OR_RETURN(std::string head,
                               Git(env, clone.dir, {"rev-parse", "FETCH_HEAD"}, "reading it"));
      delivery.commit = std::string(Trim(head));
      delivery.resumed = pushed = true;
    }
  }
  if (!pushed) {
    if (github) {
      SOMLIER_RETURN_IF_ERROR(
          Git(env, clone.dir, {"checkout", "--quiet", "-b", delivery.branch}, "branching")
              .status());
    }
    fs::create_directories(clone.dir / "dags", ec);
    {
      std::ofstream out(clone.dir / delivery.path, std::ios::binary);
      out << source;
      if (!out.flush()) return Internal(fmt::format("cannot write {}", delivery.path));
    }
    const std::string doing = fmt::format("committing {}", delivery.path);
    SOMLIER_RETURN_IF_ERROR(Git(env, clone.dir, {"add", "--", delivery.path}, doing).status());
    std::vector<std::string> commit = {"commit", "--quiet", "-m", CommitMessage(dag_id)};
    auto email = Git(env, clone.dir, {"config", "user.email"}, "");
    if (!email.ok() || Trim(*email).empty()) {
      commit.insert(commit.begin(),
                    {"-c", "user.name=SoMLier", "-c", "user.email=somlier@localhost"});
    }
    SOMLIER_RETURN_IF_ERROR(Git(env, clone.dir, commit, doing).status());
    SOMLIER_ASSIGN_OR_RETURN(std::string head, Git(env, clone.dir, {"rev-parse", "HEAD"}, doing));
    delivery.commit = std::string(Trim(head));
    SOMLIER_RETURN_IF_ERROR(Git(env, clone.dir,
                                {"push", "--quiet", "origin", "HEAD:refs/heads/" + delivery.branch},
                                fmt::format("pushing {} to {} of {}", delivery.path,
                                            delivery.branch, delivery.repository))
                                .status());
  }
  if (github) {
    auto pull = OpenPullRequest(
        config_.github_api_url, *github, token, delivery.branch, clone.branch,
        CommitMessage(dag_id),
        fmt::format("Adds the Airflow DAG `{}` ({}), written by SoMLier.", dag_id, delivery.path));
    if (!pull.ok()) {
      return Status(pull.status().code(),
                    fmt::format("{} is on the branch {} of {}, but {}; run the same command again "
                                "to open the pull request",
                                delivery.path, delivery.branch, delivery.repository,
                                pull.status().message()));
    }
    delivery.pull_request_url = pull->url;
  }
  return delivery;
}

}  // namespace somlier::batch
