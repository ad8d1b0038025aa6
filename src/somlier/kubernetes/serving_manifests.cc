#include "somlier/kubernetes/serving_manifests.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>
#include <set>

#include "somlier/kubernetes/manifest_template.h"
#include "somlier/kubernetes/names.h"
#include "somlier/kubernetes/pod_parts.h"

namespace somlier::kubernetes {
namespace {

using nlohmann::json;

constexpr int kServingPort = 8080;

json ModelLabels(const ModelDeployment& d) {
  return {{"app.kubernetes.io/managed-by", "somlier"},
          {"app.kubernetes.io/name", ServingServiceName(d.model)},
          {"somlier.io/model", ToLabelValue(d.model)},
          {"somlier.io/project", ToLabelValue(d.project)}};
}

json VersionLabels(const ModelDeployment& d, int64_t version) {
  json labels = ModelLabels(d);
  labels["somlier.io/model-version"] = std::to_string(version);
  return labels;
}

std::string Subset(int64_t version) { return fmt::format("v{}", version); }

json Metadata(const std::string& name, const KubernetesSettings& settings, json labels) {
  return {{"name", name}, {"namespace", settings.ns}, {"labels", std::move(labels)}};
}

// The probe of a KServe V2 health endpoint.
json Probe(const char* path, int initial_delay, int period) {
  return {{"httpGet", {{"path", path}, {"port", "http"}}},
          {"initialDelaySeconds", initial_delay},
          {"periodSeconds", period},
          {"timeoutSeconds", 5},
          {"failureThreshold", 3}};
}

}  // namespace

std::string ServingServiceName(const std::string& model) {
  return ToDnsLabel("somlier-" + model, 40);  // leaves room for "-v" and any version
}

std::string ServingDeploymentName(const std::string& model, int64_t version) {
  return ServingServiceName(model) + fmt::format("-v{}", version);
}

Result<json> BuildServingDeployment(const ModelDeployment& d, const KubernetesSettings& settings,
                                    const json& base) {
  if (d.version < 1) return InvalidArgument(fmt::format("version {} is not 1 or more", d.version));
  if (d.image.empty()) return InvalidArgument("the Deployment needs the runtime image");
  if (d.replicas < 1 || d.replicas > 1000) {
    return InvalidArgument(fmt::format("--replicas {} must be between 1 and 1000", d.replicas));
  }
  if (d.min_replicas.has_value() != d.max_replicas.has_value()) {
    return InvalidArgument("--min_replicas and --max_replicas go together: give both or neither");
  }
  if (d.min_replicas &&
      (*d.min_replicas < 1 || *d.min_replicas > *d.max_replicas || *d.max_replicas > 1000)) {
    return InvalidArgument(
        fmt::format("--min_replicas {} and --max_replicas {} must satisfy 1 <= min <= max <= 1000",
                    *d.min_replicas, *d.max_replicas));
  }
  SOMLIER_RETURN_IF_ERROR(CheckDnsLabel("namespace", settings.ns));
  const json labels = VersionLabels(d, d.version);
  json env = json::array({{{"name", "SOMLIER_SERVER"}, {"value", settings.tracking_url}},
                          {{"name", "MLFLOW_TRACKING_URI"}, {"value", settings.tracking_url}}});
  for (json& var : TokenEnv(settings)) env.push_back(std::move(var));
  json container = {{"name", "model"},
                    {"image", d.image},
                    {"args",
                     {"serve-model", fmt::format("models:/{}/{}", d.model, d.version), "--host",
                      "0.0.0.0", "--port", std::to_string(kServingPort)}},
                    {"ports", json::array({{{"name", "http"}, {"containerPort", kServingPort}}})},
                    {"env", env},
                    {"resources", Resources(settings, d.gpu)},
                    {"readinessProbe", Probe("/v2/health/ready", 5, 5)},
                    {"livenessProbe", Probe("/v2/health/live", 30, 10)},
                    {"volumeMounts", json::array({TokenMount()})}};
  if (!settings.config_map.empty()) {
    container["envFrom"] = json::array({{{"configMapRef", {{"name", settings.config_map}}}}});
  }
  json pod_spec = {{"containers", json::array({container})},
                   {"volumes", json::array({TokenVolume(settings)})}};
  if (d.gpu) ScheduleOnGpus(pod_spec, settings);
  json annotations = {{"prometheus.io/scrape", "true"},
                      {"prometheus.io/port", std::to_string(kServingPort)},
                      {"prometheus.io/path", "/metrics"},
                      {"sidecar.istio.io/inject", d.istio ? "true" : "false"}};
  json pod_labels = labels;  // Istio's injector reads the label before the annotation
  pod_labels["sidecar.istio.io/inject"] = d.istio ? "true" : "false";
  // The selector cannot change once created: only what names the version, not the project.
  json selector = labels;
  selector.erase("somlier.io/project");
  json spec = {
      {"selector", {{"matchLabels", selector}}},
      {"template",
       {{"metadata", {{"labels", pod_labels}, {"annotations", annotations}}}, {"spec", pod_spec}}}};
  if (!d.min_replicas) spec["replicas"] = d.replicas;  // else the autoscaler owns it
  json manifest = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", Metadata(ServingDeploymentName(d.model, d.version), settings, labels)},
      {"spec", spec}};
  return base.is_null() ? manifest : MergeOver(base, manifest);
}

json BuildServingService(const ModelDeployment& d, const KubernetesSettings& settings) {
  const json labels = ModelLabels(d);
  json selector = {{"app.kubernetes.io/name", ServingServiceName(d.model)},
                   {"app.kubernetes.io/managed-by", "somlier"}};
  return {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", Metadata(ServingServiceName(d.model), settings, labels)},
      {"spec",
       {{"selector", selector},
        {"ports",
         json::array(
             {{{"name", "http"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}}})}}}};
}

json BuildAutoscaler(const ModelDeployment& d, const KubernetesSettings& settings) {
  if (!d.min_replicas || !d.max_replicas) return nullptr;
  const std::string name = ServingDeploymentName(d.model, d.version);
  return {
      {"apiVersion", "autoscaling/v2"},
      {"kind", "HorizontalPodAutoscaler"},
      {"metadata", Metadata(name, settings, VersionLabels(d, d.version))},
      {"spec",
       {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", name}}},
        {"minReplicas", *d.min_replicas},
        {"maxReplicas", *d.max_replicas},
        {"metrics",
         json::array({{{"type", "Resource"},
                       {"resource",
                        {{"name", "cpu"},
                         {"target", {{"type", "Utilization"}, {"averageUtilization", 70}}}}}}})}}}};
}

Result<json> BuildVirtualService(const ModelDeployment& d, const std::vector<VersionWeight>& routes,
                                 const KubernetesSettings& settings) {
  int total = 0;
  std::set<int64_t> seen;
  for (const VersionWeight& r : routes) {
    if (r.weight < 0 || r.weight > 100) {
      return InvalidArgument(
          fmt::format("version {} has weight {}; weights are 0 to 100", r.version, r.weight));
    }
    if (!seen.insert(r.version).second) {
      return InvalidArgument(fmt::format("version {} is routed twice", r.version));
    }
    total += r.weight;
  }
  if (routes.empty() || total != 100) {
    return InvalidArgument(fmt::format("the route weights add up to {}, not 100", total));
  }
  const std::string host = ServingServiceName(d.model);
  json destinations = json::array();
  for (const VersionWeight& r : routes) {
    destinations.push_back(
        {{"destination",
          {{"host", host}, {"subset", Subset(r.version)}, {"port", {{"number", 80}}}}},
         {"weight", r.weight}});
  }
  return json{{"apiVersion", "networking.istio.io/v1beta1"},
              {"kind", "VirtualService"},
              {"metadata", Metadata(host, settings, ModelLabels(d))},
              {"spec", {{"hosts", {host}}, {"http", json::array({{{"route", destinations}}})}}}};
}

json BuildDestinationRule(const ModelDeployment& d, const std::vector<VersionWeight>& routes,
                          const KubernetesSettings& settings) {
  const std::string host = ServingServiceName(d.model);
  json subsets = json::array();
  for (const VersionWeight& r : routes) {
    subsets.push_back({{"name", Subset(r.version)},
                       {"labels", {{"somlier.io/model-version", std::to_string(r.version)}}}});
  }
  return {{"apiVersion", "networking.istio.io/v1beta1"},
          {"kind", "DestinationRule"},
          {"metadata", Metadata(host, settings, ModelLabels(d))},
          {"spec", {{"host", host}, {"subsets", subsets}}}};
}

}  // namespace somlier::kubernetes
