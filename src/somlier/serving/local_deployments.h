// LocalDeployments: the seed's `deploy` without Kubernetes — a registered model version served
// by a model server (`somlier serve-model`) on this machine, as a supervised background
// process that outlives whoever deployed it — and the list, stop and logs of deployments.
//
// Each deployment is named `<model>-v<version>` (lowercase, DNS-label safe) and lives in
// $SOMLIER_HOME/deployments/<name>/: `server.log` (the supervisor's and server's output),
// `ready.json` (the server's URL once it is ready) and `deployment.json` (what was asked).
// The supervisor is `somlier deployments supervise NAME ...` in its own session, marked
// with SOMLIER_DEPLOYMENT=<name> in its environment (and its children's), which is how it is
// recognised later and never confused with a process that reuses its pid. It restarts a
// server that dies, and gives up (status FAILED) after 5 crashes within a minute.
// The store's `deployments` table records name, model, version, URL, status and pid.
// Deploy is serialised by a file lock, so two concurrent deploys of one version start one
// server. Thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/registry/registry_service.h"
#include "somlier/store/store.h"

namespace somlier {

struct DeployRequest {
  static constexpr int kMaxWorkers = 64;  // model worker processes per deployment

  std::string project_name;
  std::string model_name;
  std::string model_version;
  std::optional<bool> use_k8s_job;  // unset: local (Kubernetes is not configured here)
  bool istio_enabled = false;
  int workers = 1;
  int port = 0;  // 0: any free port
};

// The seed's deploy response, and what a script needs besides.
struct DeployOutcome {
  std::string status;  // "deployed" | "already_deployed"
  std::string message;
  std::string name;
  std::string url;
};

struct LocalDeploymentsConfig {
  std::filesystem::path home;  // $SOMLIER_HOME
  std::filesystem::path somlier_binary;
  Environment env;  // the supervisor's environment (SOMLIER_* settings included)
  // Longer than a model server's own limit for loading a model (5 minutes).
  std::chrono::seconds ready_timeout{330};
};

class LocalDeployments {
 public:
  LocalDeployments(Store& store, RegistryService& registry, LocalDeploymentsConfig config)
      : store_(store), registry_(registry), config_(std::move(config)) {}

  // Starts a model server for the version and waits until it answers. Errors:
  // Unimplemented for Kubernetes (use_k8s_job or istio_enabled true); InvalidArgument for
  // bad names or versions; NotFound for an unknown model version; AlreadyExists when the
  // name is taken by another model whose name differs only in case or punctuation;
  // FailedPrecondition with the server's last log lines when it cannot start.
  Result<DeployOutcome> Deploy(const DeployRequest& request);

  // Every recorded deployment, with a status checked against its process now: a RUNNING
  // deployment whose supervisor is gone is reported (and recorded) FAILED.
  Result<std::vector<Deployment>> List();

  // Stops the server (draining it) and its supervisor; records STOPPED. NotFound for an
  // unknown name.
  Result<Deployment> Stop(const std::string& name);

  // The deployment's log (its last `tail` lines; 0: all). NotFound for an unknown name.
  Result<std::string> ReadLog(const std::string& name, size_t tail);

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
// serve-model command that writes `ready_file`) until `stop_requested` says so, restarting it
// when it dies. Returns the status to record when it gives up, or OK when asked to stop.
struct SupervisorOptions {
  std::vector<std::string> server_argv;  // without --port / --ready_file
  std::filesystem::path ready_file;
  int port = 0;
  std::function<int(std::chrono::milliseconds)> wait_for_stop;  // a signal number, or 0
};
Status RunSupervisor(const SupervisorOptions& options);

}  // namespace somlier
