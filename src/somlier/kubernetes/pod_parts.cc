#include "somlier/kubernetes/pod_parts.h"

namespace somlier::kubernetes {

using nlohmann::json;

json TokenEnv(const KubernetesSettings& settings) {
  json env = json::array();
  for (const char* name : kTokenVariables) {
    env.push_back(
        {{"name", name},
         {"valueFrom", {{"secretKeyRef", {{"name", settings.token_secret}, {"key", "token"}}}}}});
  }
  return env;
}

json TokenVolume(const KubernetesSettings& settings) {
  return {{"name", "somlier-token"}, {"secret", {{"secretName", settings.token_secret}}}};
}

json TokenMount() {
  return {{"name", "somlier-token"}, {"mountPath", kTokenMountPath}, {"readOnly", true}};
}

json Resources(const KubernetesSettings& settings, bool gpu) {
  json resources = {
      {"requests", {{"cpu", settings.cpu_request}, {"memory", settings.memory_request}}},
      {"limits", {{"cpu", settings.cpu_limit}, {"memory", settings.memory_limit}}}};
  if (gpu) resources["limits"][settings.gpu_resource] = "1";
  return resources;
}

void ScheduleOnGpus(json& pod_spec, const KubernetesSettings& settings) {
  if (!settings.gpu_toleration.empty()) {
    pod_spec["tolerations"] = json::array(
        {{{"key", settings.gpu_toleration}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
  }
  if (!settings.gpu_node_selector.empty()) pod_spec["nodeSelector"] = settings.gpu_node_selector;
}

}  // namespace somlier::kubernetes
