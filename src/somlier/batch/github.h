// GitHub: the one GitHub REST call SoMLier makes — opening a pull request for a DAG
// (POST /repos/{owner}/{repo}/pulls), against SOMLIER_GITHUB_API_URL (default
// https://api.github.com; GitHub Enterprise: https://HOST/api/v3) — and finding the
// repository a DAGs repository URL names. The token goes in the Authorization header only;
// GitHub's own message comes back in errors. Answers are read up to 1 MiB. Thread-safe.
#pragma once

#include <string>

#include "somlier/core/result.h"

namespace somlier::batch {

struct GitHubRepo {
  std::string owner;
  std::string name;
};

// OWNER/REPO from https://HOST/OWNER/REPO(.git), ssh://git@HOST/OWNER/REPO(.git) or
// git@HOST:OWNER/REPO.git; `override` ("OWNER/REPO", SOMLIER_DAGS_GITHUB_REPO) wins.
// Errors: InvalidArgument when neither says (a local path, a mirror), naming the variable.
Result<GitHubRepo> GitHubRepoOf(const std::string& url, const std::string& override_repo);

struct PullRequest {
  std::string url;       // its html_url
  bool existed = false;  // one was open for the branch already
};

// Opens a pull request of `branch` into `base`; when GitHub says one is open for the branch
// already, answers that one. Errors: FailedPrecondition for a token GitHub refuses (401,
// 403) or a repository it does not show (404), InvalidArgument for its 422 (the branch or
// base it cannot use), Unavailable when it cannot be reached or fails — each with GitHub's
// message.
Result<PullRequest> OpenPullRequest(const std::string& api_url, const GitHubRepo& repo,
                                    const std::string& token, const std::string& branch,
                                    const std::string& base, const std::string& title,
                                    const std::string& body);

}  // namespace somlier::batch
