// Pod parts every SoMLier workload shares (training Jobs and model Deployments): the
// tracking token only as a reference to its Secret (environment and a read-only mount),
// resources from the settings, and GPU scheduling (resource limit, toleration, node
// selector). Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "somlier/kubernetes/kube_settings.h"

namespace somlier::kubernetes {

// Where pods mount the token Secret.
inline constexpr const char* kTokenMountPath = "/var/run/secrets/somlier";
// The environment variables that carry the token; they only ever come from the Secret.
inline constexpr const char* kTokenVariables[] = {"SOMLIER_TOKEN", "MLFLOW_TRACKING_TOKEN"};

// `env` entries for the token variables, each a secretKeyRef to the Secret's key `token`.
nlohmann::json TokenEnv(const KubernetesSettings& settings);
// The Secret as a pod volume ("somlier-token") and its read-only mount.
nlohmann::json TokenVolume(const KubernetesSettings& settings);
nlohmann::json TokenMount();
// Requests and limits from the settings; with `gpu`, the GPU resource limit 1.
nlohmann::json Resources(const KubernetesSettings& settings, bool gpu);
// Adds the settings' GPU toleration and node selector to a pod spec.
void ScheduleOnGpus(nlohmann::json& pod_spec, const KubernetesSettings& settings);

}  // namespace somlier::kubernetes
