#include "somlier/batch/github.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "somlier/batch/json_http.h"
#include "somlier/core/url.h"

namespace somlier::batch {
namespace {

using nlohmann::json;

// GitHub answers small JSON documents; 1 MiB is plenty.
Result<JsonAnswer> Call(const std::string& api_url, const std::string& token,
                        std::string_view method, const std::string& path, const std::string& body) {
  return CallJson("GitHub", "SOMLIER_GITHUB_API_URL", api_url, method, path,
                  {{"Authorization", "Bearer " + token},
                   {"Accept", "application/vnd.github+json"},
                   {"X-GitHub-Api-Version", "2022-11-28"},
                   {"User-Agent", "somlier"}},
                  body, 1 << 20);
}

// GitHub's message, with the details of a 422 ("A pull request already exists for ...").
std::string Message(const JsonAnswer& answer) {
  std::string message = answer.body.is_object() && answer.body.contains("message") &&
                                answer.body["message"].is_string()
                            ? answer.body["message"].get<std::string>()
                            : fmt::format("HTTP {}", answer.status);
  if (answer.body.is_object() && answer.body.contains("errors") &&
      answer.body["errors"].is_array()) {
    for (const json& e : answer.body["errors"]) {
      if (e.is_object() && e.contains("message") && e["message"].is_string()) {
        message += ": " + e["message"].get<std::string>();
      }
    }
  }
  return message;
}

}  // namespace

Result<GitHubRepo> GitHubRepoOf(const std::string& url, const std::string& override_repo) {
  static const std::regex kOwnerRepo(
      R"(^([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})$)");
  std::smatch m;
  if (!override_repo.empty()) {
    if (!std::regex_match(override_repo, m, kOwnerRepo)) {
      return InvalidArgument(
          fmt::format("SOMLIER_DAGS_GITHUB_REPO '{}' is not OWNER/REPO", override_repo));
    }
    return GitHubRepo{m[1], m[2]};
  }
  static const std::regex kUrl(
      R"(^(?:https?://(?:[^@/]+@)?[^/]+/|ssh://(?:[^@/]+@)?[^/]+/|[A-Za-z0-9._-]+@[^:/]+:))"
      R"(([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$)");
  if (!std::regex_match(url, m, kUrl)) {
    return InvalidArgument(
        fmt::format("the DAGs repository {} does not name a GitHub repository: set "
                    "SOMLIER_DAGS_GITHUB_REPO=OWNER/REPO for its pull requests",
                    RedactUrlCredentials(url)));
  }
  return GitHubRepo{m[1], m[2]};
}

Result<PullRequest> OpenPullRequest(const std::string& api_url, const GitHubRepo& repo,
                                    const std::string& token, const std::string& branch,
                                    const std::string& base, const std::string& title,
                                    const std::string& body) {
  const std::string pulls = fmt::format("/repos/{}/{}/pulls", repo.owner, repo.name);
  const json request = {{"title", title}, {"head", branch}, {"base", base}, {"body", body}};
  const std::string doing = fmt::format("opening a pull request of {} into {} on {}/{}", branch,
                                        base, repo.owner, repo.name);
  auto posted = Call(api_url, token, "POST", pulls, request.dump());
  if (!posted.ok()) return Status(posted.status().code(), doing + ": " + posted.status().message());
  const JsonAnswer& answer = *posted;
  if (answer.status == 201 && answer.body.is_object() && answer.body.contains("html_url") &&
      answer.body["html_url"].is_string()) {
    return PullRequest{answer.body["html_url"].get<std::string>(), false};
  }
  const std::string message = Message(answer);
  if (answer.status == 422 && message.find("already exists") != std::string::npos) {
    auto open = Call(api_url, token, "GET",
                     fmt::format("{}?state=open&head={}:{}", pulls, repo.owner, branch), "");
    if (open.ok() && open->status == 200 && open->body.is_array() && !open->body.empty() &&
        open->body[0].is_object() && open->body[0].contains("html_url") &&
        open->body[0]["html_url"].is_string()) {
      return PullRequest{open->body[0]["html_url"].get<std::string>(), true};
    }
  }
  const std::string text = fmt::format("{}: GitHub answered {}: {}", doing, answer.status, message);
  if (answer.status == 401 || answer.status == 403 || answer.status == 404) {
    return FailedPrecondition(text);
  }
  if (answer.status == 422) return InvalidArgument(text);
  return Unavailable(text);
}

}  // namespace somlier::batch
