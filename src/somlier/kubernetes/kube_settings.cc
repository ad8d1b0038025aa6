#include "somlier/kubernetes/kube_settings.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <functional>
#include <regex>
#include <vector>

#include "somlier/core/strings.h"
#include "somlier/core/yaml_load.h"
#include "somlier/kubernetes/names.h"

namespace somlier::kubernetes {
namespace {

// One setting: its environment variable, its file key, and how a value is stored.
struct Field {
  const char* variable;
  const char* key;
  std::function<Status(KubernetesSettings&, const std::string&, const std::string& where)> set;
};

std::function<Status(KubernetesSettings&, const std::string&, const std::string&)> Text(
    std::string KubernetesSettings::*member) {
  return [member](KubernetesSettings& s, const std::string& v, const std::string&) {
    s.*member = v;
    return OkStatus();
  };
}

std::function<Status(KubernetesSettings&, const std::string&, const std::string&)> Quantity(
    std::string KubernetesSettings::*member) {
  return [member](KubernetesSettings& s, const std::string& v, const std::string& where) {
    if (!IsQuantity(v)) {
      return InvalidArgument(fmt::format(
          "{} '{}' is not a Kubernetes quantity (such as 500m, 2, 1.5Gi or 512Mi)", where, v));
    }
    s.*member = v;
    return OkStatus();
  };
}

std::function<Status(KubernetesSettings&, const std::string&, const std::string&)> File(
    std::string KubernetesSettings::*member) {
  return [member](KubernetesSettings& s, const std::string& v, const std::string& where) {
    if (!v.empty() && !std::filesystem::is_regular_file(v)) {
      return InvalidArgument(fmt::format("{} '{}' is not a file", where, v));
    }
    s.*member = v;
    return OkStatus();
  };
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      {"SOMLIER_K8S_CONTEXT", "context", Text(&KubernetesSettings::context)},
      {"SOMLIER_K8S_NAMESPACE", "namespace",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         SOMLIER_RETURN_IF_ERROR(CheckDnsLabel(where, v));
         s.ns = v;
         return OkStatus();
       }},
      {"SOMLIER_KUBECTL", "kubectl", Text(&KubernetesSettings::kubectl)},
      {"SOMLIER_K8S_IMAGE", "image", Text(&KubernetesSettings::image)},
      {"SOMLIER_K8S_TRACKING_URL", "tracking_url",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         if (!v.starts_with("http://") && !v.starts_with("https://")) {
           return InvalidArgument(fmt::format(
               "{} '{}' must be an http(s) URL at which pods reach the SoMLier server", where, v));
         }
         s.tracking_url = v;
         return OkStatus();
       }},
      {"SOMLIER_K8S_TOKEN_SECRET", "token_secret",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         if (!IsDnsSubdomain(v)) {
           return InvalidArgument(fmt::format("{} '{}' is not a valid Secret name", where, v));
         }
         s.token_secret = v;
         return OkStatus();
       }},
      {"SOMLIER_K8S_CONFIG_MAP", "config_map",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         if (!v.empty() && !IsDnsSubdomain(v)) {
           return InvalidArgument(fmt::format("{} '{}' is not a valid ConfigMap name", where, v));
         }
         s.config_map = v;
         return OkStatus();
       }},
      {"SOMLIER_K8S_CPU_REQUEST", "cpu_request", Quantity(&KubernetesSettings::cpu_request)},
      {"SOMLIER_K8S_CPU_LIMIT", "cpu_limit", Quantity(&KubernetesSettings::cpu_limit)},
      {"SOMLIER_K8S_MEMORY_REQUEST", "memory_request",
       Quantity(&KubernetesSettings::memory_request)},
      {"SOMLIER_K8S_MEMORY_LIMIT", "memory_limit", Quantity(&KubernetesSettings::memory_limit)},
      {"SOMLIER_K8S_GPU_RESOURCE", "gpu_resource",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         if (!IsLabelKey(v) || v.find('/') == std::string::npos) {
           return InvalidArgument(fmt::format(
               "{} '{}' is not an extended resource name (a domain, '/', a name: such as "
               "nvidia.com/gpu)",
               where, v));
         }
         s.gpu_resource = v;
         return OkStatus();
       }},
      {"SOMLIER_K8S_GPU_NODE_SELECTOR", "gpu_node_selector",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         std::map<std::string, std::string> selector;
         for (const std::string& pair : Split(v, ',')) {
           if (Trim(pair).empty()) continue;
           const size_t eq = pair.find('=');
           const std::string key(Trim(pair.substr(0, eq)));
           const std::string value(eq == std::string::npos ? "" : Trim(pair.substr(eq + 1)));
           if (eq == std::string::npos || !IsLabelKey(key) || !IsLabelValue(value)) {
             return InvalidArgument(
                 fmt::format("{} '{}' is not a list of label=value pairs (such as "
                             "cloud.google.com/gke-accelerator=nvidia-tesla-t4)",
                             where, v));
           }
           selector[key] = value;
         }
         s.gpu_node_selector = std::move(selector);
         return OkStatus();
       }},
      {"SOMLIER_K8S_GPU_TOLERATION", "gpu_toleration",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         if (!v.empty() && !IsLabelKey(v)) {
           return InvalidArgument(fmt::format("{} '{}' is not a taint key", where, v));
         }
         s.gpu_toleration = v;
         return OkStatus();
       }},
      {"SOMLIER_K8S_JOB_TTL_SECONDS", "job_ttl_seconds",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         int64_t ttl = -1;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ttl);
         if (ec != std::errc() || end != v.data() + v.size() || ttl < 0 || ttl > 2147483647) {
           return InvalidArgument(
               fmt::format("{} '{}' is not a whole number of seconds (0 to 2147483647)", where, v));
         }
         s.job_ttl_seconds = ttl;
         return OkStatus();
       }},
      {"SOMLIER_K8S_POLL_MS", "poll_ms",
       [](KubernetesSettings& s, const std::string& v, const std::string& where) {
         int64_t ms = -1;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
         if (ec != std::errc() || end != v.data() + v.size() || ms < 100 || ms > 600000) {
           return InvalidArgument(fmt::format(
               "{} '{}' is not a whole number of milliseconds (100 to 600000)", where, v));
         }
         s.poll_ms = ms;
         return OkStatus();
       }},
      {"SOMLIER_K8S_JOB_TEMPLATE", "job_template", File(&KubernetesSettings::job_template)},
      {"SOMLIER_K8S_DEPLOYMENT_TEMPLATE", "deployment_template",
       File(&KubernetesSettings::deployment_template)},
  };
  return fields;
}

}  // namespace

bool IsQuantity(std::string_view quantity) {
  // Kubernetes' quantity grammar: a decimal number, then a binary (Ki..Ei), decimal
  // (n, u, m, k, M, G, T, P, E) or exponent (e3, E-2) suffix; resources cannot be negative.
  static const std::regex kQuantity(
      R"(^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$)");
  return quantity.size() <= 64 && std::regex_match(quantity.begin(), quantity.end(), kQuantity);
}

Result<KubernetesSettings> LoadKubernetesSettings(const Environment& env,
                                                  const std::string& config_file) {
  KubernetesSettings settings;
  if (!config_file.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFileBounded(config_file));
    const YAML::Node section = root.IsMap() ? root["kubernetes"] : YAML::Node();
    if (section && !section.IsNull()) {
      if (!section.IsMap()) {
        return InvalidArgument(config_file + ": 'kubernetes' must be a mapping of settings");
      }
      for (const auto& item : section) {
        const std::string key = item.first.IsScalar() ? item.first.Scalar() : "";
        const auto field = std::find_if(Fields().begin(), Fields().end(),
                                        [&](const Field& f) { return key == f.key; });
        if (field == Fields().end()) {
          std::vector<std::string> keys;
          for (const Field& f : Fields()) keys.emplace_back(f.key);
          return InvalidArgument(fmt::format("{}: unknown kubernetes setting '{}' (expected {})",
                                             config_file, key, Join(keys, ", ")));
        }
        if (!item.second.IsScalar()) {
          return InvalidArgument(
              fmt::format("{}: kubernetes.{} must be a single value", config_file, key));
        }
        SOMLIER_RETURN_IF_ERROR(field->set(settings, item.second.Scalar(),
                                           fmt::format("{}: kubernetes.{}", config_file, key)));
      }
    }
  }
  for (const Field& field : Fields()) {
    if (auto v = Lookup(env, field.variable); !v.empty()) {
      SOMLIER_RETURN_IF_ERROR(field.set(settings, v, field.variable));
    }
  }
  return settings;
}

}  // namespace somlier::kubernetes
