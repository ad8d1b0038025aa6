#include "somlier/serving/deployment_router.h"

#include <fmt/core.h>

#include <algorithm>

namespace somlier {

DeploymentRouter::DeploymentRouter(Store& store, LocalDeployments& local,
                                   std::unique_ptr<DeploymentTarget> cluster,
                                   std::string no_cluster_reason)
    : store_(store),
      local_(local),
      cluster_(std::move(cluster)),
      no_cluster_reason_(std::move(no_cluster_reason)) {}

Result<DeploymentTarget*> DeploymentRouter::TargetOf(const std::string& name) const {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, store_.GetDeployment(name));
  if (d.target == DeploymentTargetKind::kLocal) return static_cast<DeploymentTarget*>(&local_);
  if (!cluster_) {
    return FailedPrecondition(
        fmt::format("deployment '{}' is on Kubernetes, and {}", name, no_cluster_reason_));
  }
  return cluster_.get();
}

Result<DeployOutcome> DeploymentRouter::Deploy(const DeployRequest& request) {
  if (request.use_k8s_job.value_or(cluster_ != nullptr)) {
    if (!cluster_) {
      return FailedPrecondition("use_k8s_job=true: " + no_cluster_reason_ +
                                "; or deploy on this machine with use_k8s_job=false");
    }
    return cluster_->Deploy(request);
  }
  const bool cluster_only = request.istio_enabled || request.replicas != 1 ||
                            request.min_replicas || request.max_replicas ||
                            request.canary_percent || request.use_gpu || request.dry_run;
  if (cluster_only && !request.use_k8s_job && !cluster_) {
    return FailedPrecondition(
        "istio_enabled, replicas, min/max_replicas, canary_percent, use_gpu and dry_run deploy "
        "on Kubernetes, and " +
        no_cluster_reason_);
  }
  return local_.Deploy(request);
}

Result<std::vector<Deployment>> DeploymentRouter::List() {
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> all, local_.List());
  if (cluster_) {
    SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> remote, cluster_->List());
    all.insert(all.end(), remote.begin(), remote.end());
  } else {
    SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> stored, store_.ListDeployments());
    for (Deployment& d : stored) {  // shown as recorded: nothing here can check them
      if (d.target == DeploymentTargetKind::kKubernetes) all.push_back(std::move(d));
    }
  }
  std::sort(all.begin(), all.end(),
            [](const Deployment& a, const Deployment& b) { return a.name < b.name; });
  return all;
}

Result<Deployment> DeploymentRouter::Stop(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(DeploymentTarget * target, TargetOf(name));
  return target->Stop(name);
}

Result<std::string> DeploymentRouter::ReadLog(const std::string& name, size_t tail) {
  SOMLIER_ASSIGN_OR_RETURN(DeploymentTarget * target, TargetOf(name));
  return target->ReadLog(name, tail);
}

std::string DeploymentRouter::LogLocation(const std::string& name) const {
  auto target = TargetOf(name);
  return target.ok() ? (*target)->LogLocation(name) : local_.LogLocation(name);
}

Result<Deployment> DeploymentRouter::Promote(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(DeploymentTarget * target, TargetOf(name));
  return target->Promote(name);
}

Result<Deployment> DeploymentRouter::Rollback(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(DeploymentTarget * target, TargetOf(name));
  return target->Rollback(name);
}

}  // namespace somlier
