// TrainRequest: what the seed's `train` asks for — a project at a git ref, run once per
// combination of a parameter grid. A value type; checked by CheckTrainRequest
// (training/grid_plan.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/param_grid.h"
#include "somlier/projects/python_env.h"

namespace somlier {

struct TrainRequest {
  std::string project_name;  // a directory inside the repository; also the experiment name
  std::string project_ref;   // branch, tag or commit
  std::string github_uri;    // empty: the configured default repository
  std::string entrypoint = "main";
  std::vector<ParamSpec> params;          // NAME -> SPEC, in the order given
  std::optional<EnvManager> env_manager;  // empty: virtualenv when the project has requirements
  int max_parallel = 0;                   // 0: the number of cores
  std::chrono::seconds timeout{0};        // per run; 0: none
  // Kubernetes Jobs (true) or this machine (false); unset: Kubernetes when it is configured
  // for the service executing the grid.
  std::optional<bool> use_k8s_job;
  bool use_gpu = false;
  bool dry_run = false;  // say what would run; create and start nothing
  std::string user;      // who asked (recorded on the runs), or empty
};

}  // namespace somlier
