// GridPlan: a train request planned into the runs of its grid — pure functions over the
// request and the project's spec: no processes, no git, no database.
//
// Planning has two steps around fetching the project. CheckTrainRequest refuses a bad
// request before anything is fetched (its fields, limits and parameter grid). PlanGridRuns
// then gives each combination the entrypoint's command (which may still refuse a value)
// and the run to create: its params, its source and MLflow's project tags. TrainService
// (training/train_service.h) does the fetching, creates the runs and hands them to an
// executor.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "somlier/core/param_grid.h"
#include "somlier/core/result.h"
#include "somlier/projects/project_spec.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/training/train_request.h"

namespace somlier {

inline constexpr int kMaxParallelRuns = 256;
inline constexpr std::chrono::seconds kMaxRunTimeout{30 * 24 * 3600};

// A request that passed CheckTrainRequest.
struct CheckedTrainRequest {
  std::string project_path;  // normalised ("" for the repository's root)
  std::string uri;           // the repository (the request's, or the default), as given
  int max_parallel = 1;      // resolved: the request's, or the number of cores
  std::vector<ParamCombination> grid;
};

// Errors: InvalidArgument naming the bad field (project_name, project_ref, a missing
// repository, entrypoint, max_parallel, timeout, a parameter name or spec).
Result<CheckedTrainRequest> CheckTrainRequest(const TrainRequest& request,
                                              const std::string& default_uri, int cores);

// What the runs of one grid share, known once the project is fetched.
struct GridRunsContext {
  std::string commit;
  std::string backend;   // the executor's name ("local"): the mlflow.project.backend tag
  std::string env_name;  // "virtualenv" or "local": the mlflow.project.env tag
  std::string train_id;  // groups the grid's runs (the somlier.train_id tag)
  std::string executor;  // the handle of the executor that will hold them
};

// One run of the grid, planned.
struct PlannedRun {
  ParamCombination params;
  std::vector<std::string> argv;  // the entrypoint's command for these params
  CreateRunRequest create;        // to Schedule (experiment_id left for the caller)
};

// Errors: InvalidArgument when the entrypoint refuses a combination (BuildEntrypointArgv).
Result<std::vector<PlannedRun>> PlanGridRuns(const TrainRequest& request,
                                             const CheckedTrainRequest& checked,
                                             const EntrypointSpec& entrypoint,
                                             const GridRunsContext& context);

// The experiment a project's runs go to: its path in the repository, or for a project at
// the root, the repository's name ("models" for https://host/team/models.git).
std::string ExperimentNameFor(const CheckedTrainRequest& checked);

}  // namespace somlier
