// DagsRepository: where the DAGs SoMLier writes go — a git repository (SOMLIER_DAGS_REPO: any
// URL git understands; by default $SOMLIER_HOME/dags.git, a bare repository made on first
// use with a `main` branch, so that everything works offline) whose `dags/` folder Airflow
// reads.
//
// Deliver() clones it into a fresh directory under $SOMLIER_HOME/work, refuses a DAG id whose
// file already exists on the default branch — or whose branch name (`somlier/<id with '_'
// as '-'>`) is another DAG's (`a_b` and `a-b`) — writes `dags/<id>.py` and commits it as
// `feat(dags/<id>): add <id>`. Without a GitHub token the commit is pushed to the default
// branch (for DAG folders that Airflow syncs from it). With one, it goes to the DAG's branch
// and a pull request into the default branch is opened (batch/github.h) on the repository
// the URL names (or SOMLIER_DAGS_GITHUB_REPO); when the push worked and the pull request did
// not, the error says so, and delivering the same DAG again finds its branch and only opens
// the pull request. The token reaches git only through its environment (an http.extraHeader
// given as GIT_CONFIG_* variables): never an argv, a URL, .git/config or a message.
// The clone is removed whatever happens; a failure before the push changes nothing in the
// repository. git runs with an argv (never a shell), without prompts, limited to the file,
// git, http(s) and ssh transports.
// Thread-compatible (one delivery at a time per object).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier::batch {

struct DagsRepositoryConfig {
  std::string url;             // empty: home/dags.git
  std::filesystem::path home;  // $SOMLIER_HOME
  Environment env;             // git's
  std::string github_api_url = "https://api.github.com";
  std::string github_repo;  // OWNER/REPO when the URL does not say (SOMLIER_DAGS_GITHUB_REPO)
};

struct Delivery {
  std::string repository;  // as users know it (credentials removed)
  std::string branch;      // where the commit went
  std::string commit;
  std::string path;              // dags/<id>.py
  std::string pull_request_url;  // with a token
  bool resumed = false;          // its branch was pushed before: only the pull request now
};

// A DAG in the repository.
struct DagEntry {
  std::string dag_id;
  std::string path;
};

class DagsRepository {
 public:
  explicit DagsRepository(DagsRepositoryConfig config);

  // The URL in use (the default one made when missing). Errors: git's, when the default
  // repository cannot be made.
  Result<std::string> Url();

  // Errors: AlreadyExists (409) for a DAG id that exists or collides; NotFound when the
  // repository cannot be cloned (git's reason); Unavailable when the push fails; all naming
  // what failed.
  // `github_token`: empty for a direct push.
  Result<Delivery> Deliver(const std::string& dag_id, const std::string& source,
                           const std::string& github_token = "");

  // The DAGs on the default branch (dags/*.py), by id.
  Result<std::vector<DagEntry>> List();

 private:
  struct Clone;
  Result<Clone> CloneFresh(const Environment& env);

  DagsRepositoryConfig config_;
};

// The branch a DAG's pull request uses: somlier/<id with '_' replaced by '-'>.
std::string DagBranch(const std::string& dag_id);
// Its commit message (and pull request title): feat(dags/<id>): add <id>.
std::string CommitMessage(const std::string& dag_id);

}  // namespace somlier::batch
