// LocalRunExecutor: the RunExecutor (training/run_executor.h) that runs a grid's runs as
// process groups on this machine, at most max_parallel at once (execution/local_executor.h).
//
// Each run gets, right before it starts: the project's Python environment (one for the
// grid, prepared once by projects/python_env.h: a virtualenv from its requirements, or the
// configured interpreter), its own fresh copy of the project directory (exported from the
// git cache, assets fetched), and MLFLOW_TRACKING_URI / MLFLOW_RUN_ID /
// MLFLOW_EXPERIMENT_ID / MLFLOW_TRACKING_TOKEN with their SOMLIER_* twins and the somlier
// Python package on PYTHONPATH, so that `mlflow` and `somlier` clients log into the
// tracking server. Its output goes to its log file; its copy is removed when it ends.
//
// Its handle is this process's identity (execution/process_identity.h: host, pid and start
// time), so a later process on this host tells a live executor from a dead one, and a pid
// reused by another program from ours. Thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "somlier/core/settings.h"
#include "somlier/training/run_executor.h"

namespace somlier {

struct LocalRunExecutorConfig {
  std::filesystem::path home;  // git mirrors in repos/, virtualenvs in envs/, copies in work/
  Environment env;             // what runs inherit; also where git and Python are looked up
  std::chrono::milliseconds kill_grace{3000};  // SIGTERM to SIGKILL
};

class LocalRunExecutor final : public RunExecutor {
 public:
  explicit LocalRunExecutor(LocalRunExecutorConfig config);

  std::string_view name() const override { return "local"; }
  std::string Handle() const override;
  Result<std::unique_ptr<Execution>> Submit(GridJob job, ExecutionObserver& observer) override;
  // {"run_id", "command"} per run: the entrypoint's argv (the interpreter is chosen when the
  // grid's environment is prepared).
  Result<std::vector<nlohmann::json>> Preview(const GridJob& job) override;
  // By process identity: alive, gone, or unknown for another host's (or kind's) handle.
  ExecutorLiveness Check(const RunInfo& run) override;
  // Signals the run's process group (found by its pid and checked to be the run's by its
  // MLFLOW_RUN_ID), SIGKILL after `grace`. A run without a pid has nothing left to stop.
  Status StopOrphan(const RunInfo& run, std::chrono::milliseconds grace) override;

 private:
  LocalRunExecutorConfig config_;
};

}  // namespace somlier
