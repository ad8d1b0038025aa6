// KubernetesDeployments: the DeploymentTarget (serving/deployment_target.h) of a Kubernetes
// cluster — a registered model version served by `somlier serve-model` in the runtime image
// (kubernetes/serving_manifests.h: Deployment, Service, autoscaler; with Istio a
// VirtualService and DestinationRule), driven through kubectl (kubernetes/kubectl.h).
//
// Deploy applies (server-side apply, field manager "somlier") the version's Deployment (and
// autoscaler) and the model's Service, waits for the rollout (available replicas, or the
// Deployment's ProgressDeadlineExceeded), and only then moves traffic: with Istio the
// DestinationRule and VirtualService are applied after the new pods are ready, so a version
// that cannot start never receives a request. Without a canary the versions it replaces are
// removed; with `canary_percent` P the serving version keeps 100-P percent (Istio is required:
// a Service alone cannot split by percent). Promote gives the canary everything and removes
// the others; Rollback removes the canary and gives the serving version everything back.
//
// Each version is a deployment record named `somlier-<model>-v<version>` (target
// kubernetes), with the in-cluster URL of the model's Service. The cluster is the truth:
// List reads the Deployments' rollout status (available/wanted replicas, a Deployment gone
// is FAILED); Stop deletes every object SoMLier created for the version, found by label (the
// model's Service and Istio objects too when no other version serves); the version's project
// is kept as an annotation on its Deployment. Thread-safe (each call is its own kubectl).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "somlier/kubernetes/kube_settings.h"
#include "somlier/kubernetes/kubectl.h"
#include "somlier/registry/registry_service.h"
#include "somlier/serving/deployment_target.h"
#include "somlier/store/store.h"

namespace somlier {

struct KubernetesDeploymentsConfig {
  kubernetes::KubernetesSettings settings;
  std::chrono::seconds rollout_timeout{600};
};

class KubernetesDeployments final : public DeploymentTarget {
 public:
  // Errors: those of loading the settings' Deployment template; FailedPrecondition when
  // Kubernetes is not configured.
  static Result<std::unique_ptr<KubernetesDeployments>> Create(Store& store,
                                                               RegistryService& registry,
                                                               KubernetesDeploymentsConfig config);

  // As DeploymentTarget. Also: InvalidArgument for replicas, autoscaler bounds or a canary
  // percent out of range, or a canary without Istio; FailedPrecondition for a canary with no
  // version serving to share with, or a rollout that failed or timed out (its pods' state
  // named); kubectl's errors as Kubectl::Run returns them. A dry run answers the manifests.
  Result<DeployOutcome> Deploy(const DeployRequest& request) override;
  Result<std::vector<Deployment>> List() override;
  Result<Deployment> Stop(const std::string& name) override;
  Result<std::string> ReadLog(const std::string& name, size_t tail) override;
  std::string LogLocation(const std::string& name) const override;
  Result<Deployment> Promote(const std::string& name) override;
  Result<Deployment> Rollback(const std::string& name) override;

 private:
  KubernetesDeployments(Store& store, RegistryService& registry, KubernetesDeploymentsConfig config,
                        nlohmann::json deployment_template);
  // The record `name` of this target. NotFound otherwise.
  Result<Deployment> Get(const std::string& name);
  // The other versions of `d`'s model serving on the cluster (RUNNING records), newest first.
  Result<std::vector<Deployment>> Others(const Deployment& d);
  // Points the model's traffic (Istio) at `routes`; without Istio objects, nothing to do.
  Status Route(const Deployment& d, const std::vector<std::pair<int64_t, int>>& routes);
  // Deletes a version's Deployment and autoscaler.
  Status DeleteVersion(const Deployment& d);
  // Records `d` STOPPED with `why`.
  Status Retire(Deployment d, const std::string& why);
  // Changes to one model's objects take turns (List only skips a model being changed).
  std::unique_lock<std::mutex> LockModel(const std::string& model, bool wait = true);
  // Whether the cluster serves Istio's VirtualService kind.
  Result<bool> HasIstio();

  Store& store_;
  RegistryService& registry_;
  KubernetesDeploymentsConfig config_;
  kubernetes::Kubectl kubectl_;
  nlohmann::json deployment_template_;  // null: none
  std::mutex locks_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> model_locks_;  // guarded by locks_mutex_
};

}  // namespace somlier
