// KubernetesSettings: how SoMLier uses a Kubernetes cluster — where (context, namespace, the
// kubectl to run), with what (the runtime image, the in-cluster tracking URL, the Secret
// holding the tracking token), and how much (resources, GPUs, Job TTL, templates).
//
// Read from the environment and the `kubernetes:` mapping of the config file (core/settings.h
// names the file); the environment wins over the file, the file over the defaults:
//
//   variable                         file key             default
//   SOMLIER_K8S_CONTEXT              context              (kubectl's current context)
//   SOMLIER_K8S_NAMESPACE            namespace            somlier
//   SOMLIER_KUBECTL                  kubectl              kubectl
//   SOMLIER_K8S_IMAGE                image                (none)
//   SOMLIER_K8S_TRACKING_URL         tracking_url         (none)
//   SOMLIER_K8S_TOKEN_SECRET         token_secret         somlier-token (key: token)
//   SOMLIER_K8S_CONFIG_MAP           config_map           (none: no envFrom)
//   SOMLIER_K8S_CPU_REQUEST          cpu_request          1
//   SOMLIER_K8S_CPU_LIMIT            cpu_limit            2
//   SOMLIER_K8S_MEMORY_REQUEST       memory_request       2Gi
//   SOMLIER_K8S_MEMORY_LIMIT         memory_limit         4Gi
//   SOMLIER_K8S_GPU_RESOURCE         gpu_resource         nvidia.com/gpu
//   SOMLIER_K8S_GPU_NODE_SELECTOR    gpu_node_selector    (none; "key=value,key=value")
//   SOMLIER_K8S_GPU_TOLERATION       gpu_toleration       the GPU resource name (tolerated
//                                                         with operator Exists, NoSchedule)
//   SOMLIER_K8S_JOB_TTL_SECONDS      job_ttl_seconds      86400 (one day: a restarted server
//                                                         still finds finished Jobs)
//   SOMLIER_K8S_POLL_MS              poll_ms              3000 (how often Jobs, pods and logs
//                                                         are read while runs execute)
//   SOMLIER_K8S_JOB_TEMPLATE         job_template         (none; a YAML Job merged under
//                                                         what SoMLier sets)
//   SOMLIER_K8S_DEPLOYMENT_TEMPLATE  deployment_template  (none; the same for Deployments)
//
// Kubernetes is *configured* for SoMLier when the runtime image and the tracking URL are set:
// a `~/.kube/config` on the machine alone does not make it the default target.
// A plain value type; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier::kubernetes {

struct KubernetesSettings {
  std::string context;
  std::string ns = "somlier";
  std::string kubectl = "kubectl";
  std::string image;
  std::string tracking_url;
  std::string token_secret = "somlier-token";
  std::string config_map;
  std::string cpu_request = "1";
  std::string cpu_limit = "2";
  std::string memory_request = "2Gi";
  std::string memory_limit = "4Gi";
  std::string gpu_resource = "nvidia.com/gpu";
  std::map<std::string, std::string> gpu_node_selector;
  std::string gpu_toleration = "nvidia.com/gpu";
  int64_t job_ttl_seconds = 86400;
  int64_t poll_ms = 3000;
  std::string job_template;
  std::string deployment_template;

  bool configured() const { return !image.empty() && !tracking_url.empty(); }
};

// Errors: InvalidArgument naming the variable or file key and what is expected — a namespace
// or Secret that is not a Kubernetes name, a quantity Kubernetes would refuse ("2 cores"), a
// TTL that is not a whole number of seconds, a template file that does not exist, a tracking
// URL that is not http(s); and the config file's own errors.
Result<KubernetesSettings> LoadKubernetesSettings(const Environment& env,
                                                  const std::string& config_file);

// Whether `quantity` is a Kubernetes resource quantity ("500m", "2", "1.5Gi", "4e3").
bool IsQuantity(std::string_view quantity);

}  // namespace somlier::kubernetes
