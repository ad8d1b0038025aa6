// LocalDeployments: the DeploymentTarget (serving/deployment_target.h) of this machine — a
// registered model version served by a model server (`somlier serve-model`) as a supervised
// background process that outlives whoever deployed it — and the list, stop and logs of
// deployments.
//
// Each deployment is named `<model>-v<version>` (lowercase, DNS-label safe) and lives in
// $SOMLIER_HOME/deployments/<name>/: `server.log` (the supervisor's and server's output),
// `ready.json` (the server's URL once it is ready) and `deployment.json` (what was asked).
// The supervisor is `somlier deployments supervise NAME ...` in its own session, marked
// with SOMLIER_DEPLOYMENT=<name> in its environment (and its children's), which is how it is
// recognised later and never confused with a process that reuses its pid. It restarts a
// server that dies, and gives up after 5 crashes within a minute (it then calls MarkFailed).
// The store's `deployments` table records name, model, version, URL, status and pid.
// Deploy is serialised by a file lock, so two concurrent deploys of one version start one
// server. Thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/clock.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/execution/process_runner.h"
#include "somlier/registry/registry_service.h"
#include "somlier/serving/deployment_target.h"
#include "somlier/store/store.h"

namespace somlier {

struct LocalDeploymentsConfig {
  std::filesystem::path home;  // $SOMLIER_HOME
  std::filesystem::path somlier_binary;
  Environment env;  // the supervisor's environment (SOMLIER_* settings included)
  // Longer than a model server's own limit for loading a model (5 minutes).
  std::chrono::seconds ready_timeout{330};
};

class LocalDeployments final : public DeploymentTarget {
 public:
  LocalDeployments(Store& store, RegistryService& registry, LocalDeploymentsConfig config)
      : store_(store), registry_(registry), config_(std::move(config)) {}

  // As DeploymentTarget; InvalidArgument for what only Kubernetes does (use_k8s_job, istio,
  // replicas, autoscaling, canaries, GPUs, dry runs). A name taken
  // by another model differs from this one only in case or punctuation.
  Result<DeployOutcome> Deploy(const DeployRequest& request) override;
  // A RUNNING deployment whose supervisor is gone is reported (and recorded) FAILED.
  Result<std::vector<Deployment>> List() override;
  // Stops the server (draining it) and its supervisor.
  Result<Deployment> Stop(const std::string& name) override;
  Result<std::string> ReadLog(const std::string& name, size_t tail) override;
  std::string LogLocation(const std::string& name) const override {
    return LogFileOf(name).string();
  }

  // The supervisor gave up on it (`somlier deployments supervise`): FAILED, with why.
  Status MarkFailed(const std::string& name, const std::string& why);

  std::filesystem::path LogFileOf(const std::string& name) const {
    return DirectoryOf(name) / "server.log";
  }

  // The name a version is deployed under.
  static std::string NameFor(const std::string& model_name, const std::string& model_version);

  std::filesystem::path DirectoryOf(const std::string& name) const {
    return config_.home / "deployments" / name;
  }

 private:
  Result<Deployment> Refresh(Deployment deployment);

  Store& store_;
  RegistryService& registry_;
  LocalDeploymentsConfig config_;
};

// The supervisor's loop (`somlier deployments supervise`): runs `server_argv` (a
// serve-model command that writes `ready_file`) until `wait_for_stop` reports a signal,
// restarting it when it dies — on the port it first got, after a backoff that doubles from
// 0.5 s up to 10 s. It gives up (FailedPrecondition, to record) when the server exits
// before it was ever ready, or 5 times within a minute; OK when asked to stop (the server
// is drained with SIGTERM first). Processes and time come through `runner` and `clock`,
// so the restart policy is unit-tested with fakes.
struct SupervisorOptions {
  std::vector<std::string> server_argv;  // without --port / --ready_file
  std::filesystem::path ready_file;
  int port = 0;
  // Waits up to the given time; a signal number when the supervisor is to stop, else 0.
  std::function<int(std::chrono::milliseconds)> wait_for_stop;
  ProcessRunner* runner = nullptr;  // null: RealProcessRunner()
  const Clock* clock = nullptr;     // null: SteadyClock()
};
Status RunSupervisor(const SupervisorOptions& options);

}  // namespace somlier
