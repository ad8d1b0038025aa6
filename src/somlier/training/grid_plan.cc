#include "somlier/training/grid_plan.h"

#include <fmt/core.h>

#include "somlier/core/url.h"
#include "somlier/projects/git_cache.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace {

std::string RepositoryName(const std::string& uri) {
  std::string name = uri;
  while (name.ends_with("/")) name.pop_back();
  const auto cut = name.find_last_of("/:");
  if (cut != std::string::npos) name = name.substr(cut + 1);
  if (name.ends_with(".git")) name.resize(name.size() - 4);
  return name.empty() ? uri : name;
}

}  // namespace

Result<CheckedTrainRequest> CheckTrainRequest(const TrainRequest& r, const std::string& default_uri,
                                              int cores) {
  if (r.project_name.empty()) {
    return InvalidArgument(
        "project_name is required: the project's directory in the repository (e.g. "
        "example-projects/sklearn)");
  }
  CheckedTrainRequest checked;
  SOMLIER_ASSIGN_OR_RETURN(checked.project_path, NormalizeProjectPath(r.project_name));
  if (r.project_ref.empty()) {
    return InvalidArgument("project_ref is required: a branch, tag or commit of the repository");
  }
  checked.uri = r.github_uri.empty() ? default_uri : r.github_uri;
  if (checked.uri.empty()) {
    return InvalidArgument(
        "no repository to train from: pass --github_uri URI (\"github_uri\" in the request) or "
        "set SOMLIER_DEFAULT_PROJECT_URI");
  }
  if (r.entrypoint.empty()) return InvalidArgument("entrypoint must not be empty");
  checked.max_parallel = r.max_parallel == 0 ? std::max(1, cores) : r.max_parallel;
  if (checked.max_parallel < 1 || checked.max_parallel > kMaxParallelRuns) {
    return InvalidArgument(
        fmt::format("max_parallel {} is not between 1 and {}", r.max_parallel, kMaxParallelRuns));
  }
  if (r.timeout.count() < 0 || r.timeout > kMaxRunTimeout) {
    return InvalidArgument(
        fmt::format("timeout {} must be 0 (none) or a number of seconds up to {} (30 days)",
                    r.timeout.count(), kMaxRunTimeout.count()));
  }
  for (const ParamSpec& p : r.params) SOMLIER_RETURN_IF_ERROR(ValidateKey("parameter", p.name));
  SOMLIER_ASSIGN_OR_RETURN(checked.grid, ExpandParamGrid(r.params));
  return checked;
}

Result<std::vector<PlannedRun>> PlanGridRuns(const TrainRequest& r,
                                             const CheckedTrainRequest& checked,
                                             const EntrypointSpec& entrypoint,
                                             const GridRunsContext& context) {
  // Credentials in the repository URI are never stored.
  const std::string stored_uri = RedactUrlCredentials(checked.uri);
  std::vector<PlannedRun> runs;
  runs.reserve(checked.grid.size());
  for (const ParamCombination& combination : checked.grid) {
    PlannedRun run;
    run.params = combination;
    SOMLIER_ASSIGN_OR_RETURN(run.argv, BuildEntrypointArgv(entrypoint, combination));
    CreateRunRequest& create = run.create;
    create.user_id = r.user;
    create.source = {stored_uri, r.project_ref, context.commit, checked.project_path, r.entrypoint};
    create.executor = context.executor;
    for (const auto& [name, value] : combination) create.params.push_back({name, value});
    create.tags = {{"mlflow.source.type", "PROJECT"},
                   {"mlflow.source.name", stored_uri},
                   {"mlflow.source.git.commit", context.commit},
                   {"mlflow.source.git.repoURL", stored_uri},
                   {"mlflow.gitRepoURL", stored_uri},
                   {"mlflow.project.entryPoint", r.entrypoint},
                   {"mlflow.project.env", context.env_name},
                   {"mlflow.project.backend", context.backend},
                   {"somlier.project_ref", r.project_ref},
                   {"somlier.train_id", context.train_id}};
    if (!r.user.empty()) create.tags.push_back({"mlflow.user", r.user});
    runs.push_back(std::move(run));
  }
  return runs;
}

std::string ExperimentNameFor(const CheckedTrainRequest& checked) {
  return checked.project_path.empty() ? RepositoryName(RedactUrlCredentials(checked.uri))
                                      : checked.project_path;
}

}  // namespace somlier
