// DeploymentRouter: the DeploymentTarget (serving/deployment_target.h) the use cases call — it
// sends a deploy to this machine (LocalDeployments) or to Kubernetes (KubernetesDeployments)
// and everything else about a deployment to the target that made it (the record's target).
//
// A deploy goes to Kubernetes when it asks (use_k8s_job=true) or leaves it unsaid while
// Kubernetes is configured for this process; otherwise to this machine, and options only
// Kubernetes has (istio_enabled, replicas, autoscaling, canary_percent, use_gpu, dry_run)
// are refused there, naming them. List merges both; promote and rollback are Kubernetes'.
// Thread-safe as its targets are; the targets and the store must outlive it.
#pragma once

#include <memory>
#include <string>

#include "somlier/serving/deployment_target.h"
#include "somlier/serving/local_deployments.h"
#include "somlier/store/store.h"

namespace somlier {

class DeploymentRouter final : public DeploymentTarget {
 public:
  // `cluster` may be null; `no_cluster_reason` says why a request for it is refused.
  DeploymentRouter(Store& store, LocalDeployments& local, std::unique_ptr<DeploymentTarget> cluster,
                   std::string no_cluster_reason);

  Result<DeployOutcome> Deploy(const DeployRequest& request) override;
  Result<std::vector<Deployment>> List() override;
  Result<Deployment> Stop(const std::string& name) override;
  Result<std::string> ReadLog(const std::string& name, size_t tail) override;
  std::string LogLocation(const std::string& name) const override;
  Result<Deployment> Promote(const std::string& name) override;
  Result<Deployment> Rollback(const std::string& name) override;

 private:
  // The target that made deployment `name`. NotFound for an unknown name.
  Result<DeploymentTarget*> TargetOf(const std::string& name) const;

  Store& store_;
  LocalDeployments& local_;
  std::unique_ptr<DeploymentTarget> cluster_;
  std::string no_cluster_reason_;
};

}  // namespace somlier
