// The Kubernetes objects that serve one registered model version — what `deploy
// --use_k8s_job=true` creates, as KServe does it:
//
//   Deployment  somlier-<model>-v<version>: `somlier serve-model models:/MODEL/VERSION` in the
//               runtime image (the model downloaded from the tracking server at start, with
//               the token from its Secret), readiness and liveness probes on KServe V2's
//               /v2/health/ready and /v2/health/live, resources (GPU as for Jobs), Prometheus
//               scrape annotations; `replicas` unless an autoscaler owns it; with Istio the
//               pods get the sidecar (sidecar.istio.io/inject: "true").
//   Service     somlier-<model>: one per model, port 80 to the pods' 8080, selecting every
//               version of the model (Istio splits traffic between them; without Istio only
//               one version runs at a time).
//   HorizontalPodAutoscaler (autoscaling/v2) when min and max replicas are given: CPU 70%.
//   VirtualService + DestinationRule (networking.istio.io/v1beta1) with Istio: one subset per
//               version (label somlier.io/model-version), routes weighted for canaries.
//
// Every object carries app.kubernetes.io/managed-by=somlier, somlier.io/model,
// somlier.io/model-version (where it is one version's) and somlier.io/project, so `deployments
// stop` finds all of them by label. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/kubernetes/kube_settings.h"

namespace somlier::kubernetes {

struct ModelDeployment {
  std::string project;  // any text: mapped to a label value
  std::string model;    // the registered model's name (any text: mapped to names and labels)
  int64_t version = 0;
  std::string image;  // the runtime image
  int replicas = 1;
  std::optional<int> min_replicas;  // both or neither: an autoscaler
  std::optional<int> max_replicas;
  bool istio = false;
  bool gpu = false;
};

// A version's share of a model's traffic.
struct VersionWeight {
  int64_t version = 0;
  int weight = 100;  // percent
};

std::string ServingDeploymentName(const std::string& model, int64_t version);
std::string ServingServiceName(const std::string& model);

// Errors: InvalidArgument naming what is wrong — a version below 1, replicas below 1 (or
// above 1000), only one of min/max replicas, min above max, an empty image.
Result<nlohmann::json> BuildServingDeployment(const ModelDeployment& deployment,
                                              const KubernetesSettings& settings,
                                              const nlohmann::json& base);
nlohmann::json BuildServingService(const ModelDeployment& deployment,
                                   const KubernetesSettings& settings);
// Null when the deployment has no min/max replicas.
nlohmann::json BuildAutoscaler(const ModelDeployment& deployment,
                               const KubernetesSettings& settings);
// Errors: InvalidArgument when the weights are not 0-100 summing to 100, or a version repeats.
Result<nlohmann::json> BuildVirtualService(const ModelDeployment& deployment,
                                           const std::vector<VersionWeight>& routes,
                                           const KubernetesSettings& settings);
nlohmann::json BuildDestinationRule(const ModelDeployment& deployment,
                                    const std::vector<VersionWeight>& routes,
                                    const KubernetesSettings& settings);

}  // namespace somlier::kubernetes
