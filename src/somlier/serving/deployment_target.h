// DeploymentTarget: where the seed's `deploy` serves a registered model version, and the
// list, stop and logs of what it deployed — the seam between the use cases (api/, cli/) and
// the machinery. LocalDeployments (serving/local_deployments.h) serves on this machine under
// a supervisor process; KubernetesDeployments (serving/kubernetes_deployments.h) serves with
// Deployments, Services and Istio, with canaries; DeploymentRouter
// (serving/deployment_router.h) sends each request to the target it is for.
//
// A deployment's states (DeploymentStatus, store/entities.h) and the only transitions
// (DeploymentTransitionAllowed; MoveDeployment applies them):
//
//   (new), STARTING, STOPPED, FAILED -> STARTING   Deploy: recorded before anything starts
//   STARTING -> RUNNING                            its server answered ready
//   STARTING, RUNNING -> FAILED                    it could not start or become ready in
//                                                  time, its supervisor gave up (5 crashes
//                                                  within a minute), or is gone (seen by List)
//   STARTING, RUNNING, STOPPED, FAILED -> STOPPED  Stop; also the version a canary's promotion
//                                                  or rollback retires
//
// A Deploy of a version that is RUNNING changes nothing (its answer is already_deployed).
// Implementations are thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/entities.h"

namespace somlier {

struct DeployRequest {
  static constexpr int kMaxWorkers = 64;  // model worker processes per deployment

  std::string project_name;
  std::string model_name;
  std::string model_version;
  std::optional<bool> use_k8s_job;  // unset: the default target
  bool istio_enabled = false;
  int workers = 1;
  int port = 0;  // 0: any free port
  // Kubernetes only:
  bool use_gpu = false;
  int replicas = 1;
  std::optional<int> min_replicas;  // with max_replicas: an autoscaler owns the replicas
  std::optional<int> max_replicas;
  std::optional<int> canary_percent;  // 1-99: the serving version keeps the rest (Istio)
  bool dry_run = false;               // answer the manifests; change nothing
};

// The checks every target makes first. Errors: InvalidArgument naming the field — an empty
// or climbing project, a model name the registry would refuse, a version that is not a
// number from 1, workers out of range.
Status CheckDeployRequest(const DeployRequest& request);

// The seed's deploy response, and what a script needs besides.
struct DeployOutcome {
  std::string status;  // "deployed" | "already_deployed" | "dry_run"
  std::string message;
  std::string name;
  std::string url;
  std::string target;                     // "local" | "kubernetes": where it is served
  std::vector<nlohmann::json> manifests;  // a dry run's (Kubernetes)
};

bool DeploymentTransitionAllowed(std::optional<DeploymentStatus> from, DeploymentStatus to);

// Moves `deployment` to `to` with `message`, stamping the time; the caller records it.
// Errors: Internal for a transition the table above does not allow (a bug, not input).
Status MoveDeployment(Deployment& deployment, DeploymentStatus to, std::string message);

class DeploymentTarget {
 public:
  virtual ~DeploymentTarget() = default;

  // Serves the version and waits until it answers. Errors: InvalidArgument for bad names
  // or versions; NotFound for an unknown model version; AlreadyExists when its name is
  // taken by another model; Unimplemented for what the target cannot do;
  // FailedPrecondition, with the server's last log lines, when it cannot start.
  virtual Result<DeployOutcome> Deploy(const DeployRequest& request) = 0;

  // Every deployment it made, with its state checked now (a RUNNING one whose server is
  // gone is reported, and recorded, FAILED).
  virtual Result<std::vector<Deployment>> List() = 0;

  // Stops it and records STOPPED. NotFound for an unknown name.
  virtual Result<Deployment> Stop(const std::string& name) = 0;

  // The deployment's log (its last `tail` lines; 0: all). NotFound for an unknown name.
  virtual Result<std::string> ReadLog(const std::string& name, size_t tail) = 0;

  // Where its whole log is, for people (a file, or a command that shows it).
  virtual std::string LogLocation(const std::string& name) const = 0;

  // A canary (deployed with canary_percent) takes all the traffic; the versions it shared
  // with are retired (STOPPED). FailedPrecondition when it shares with none.
  virtual Result<Deployment> Promote(const std::string& name);
  // The reverse: the canary is retired (STOPPED) and the version it shared with takes all
  // the traffic again.
  virtual Result<Deployment> Rollback(const std::string& name);
};

}  // namespace somlier
