#include "somlier/kubernetes/job_manifest.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "somlier/core/ids.h"
#include "somlier/kubernetes/manifest_template.h"
#include "somlier/kubernetes/names.h"
#include "somlier/kubernetes/pod_parts.h"

namespace somlier::kubernetes {
namespace {

using nlohmann::json;

// A C identifier, as Kubernetes requires of environment variable names (it allows a few
// more characters, which shells cannot use).
bool IsEnvName(const std::string& name) {
  if (name.empty() || name.size() > 255 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string JobName(const std::string& run_id) { return "somlier-run-" + run_id; }

Result<json> BuildTrainingJob(const TrainingJob& job, const KubernetesSettings& settings,
                              const json& base) {
  if (!IsValidRunId(job.run_id)) {
    return InvalidArgument(fmt::format("run id '{}' is not 32 hexadecimal digits", job.run_id));
  }
  if (job.experiment_id.empty() ||
      job.experiment_id.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(fmt::format("experiment id '{}' is not a number", job.experiment_id));
  }
  if (job.image.empty()) return InvalidArgument("the Job needs a container image");
  if (job.command.empty()) return InvalidArgument("the Job needs a command to run");
  if (job.timeout_seconds && *job.timeout_seconds <= 0) {
    return InvalidArgument(fmt::format("timeout {} s is not positive", *job.timeout_seconds));
  }
  SOMLIER_RETURN_IF_ERROR(CheckDnsLabel("namespace", settings.ns));
  if (job.source && !IsProjectArchiveName(job.source->archive)) {
    return InvalidArgument(
        fmt::format("'{}' is not the name of a project archive", job.source->archive));
  }
  if (job.max_parallel < 1) {
    return InvalidArgument(fmt::format("max_parallel {} is below 1", job.max_parallel));
  }

  json labels = {{"app.kubernetes.io/managed-by", "somlier"},
                 {"somlier.io/run-id", job.run_id},
                 {"somlier.io/experiment-id", job.experiment_id},
                 {"somlier.io/project", ToLabelValue(job.project)},
                 {"somlier.io/grid", ToLabelValue(job.grid)}};

  json env = json::array();
  for (const auto& [name, value] : job.env) {
    if (!IsEnvName(name)) {
      return InvalidArgument(fmt::format(
          "environment variable name '{}' is not valid (letters, digits and '_', not starting "
          "with a digit)",
          name));
    }
    for (const char* token : kTokenVariables) {
      if (name == token) {
        return InvalidArgument(fmt::format(
            "{} must not be set in a Job's environment: pods read the token from the Secret '{}'",
            name, settings.token_secret));
      }
    }
    env.push_back({{"name", name}, {"value", value}});
  }
  for (json& var : TokenEnv(settings)) env.push_back(std::move(var));

  json container = {{"name", "run"},
                    {"image", job.image},
                    {"command", job.command},
                    {"env", env},
                    {"resources", Resources(settings, job.gpu)},
                    {"volumeMounts", json::array({TokenMount()})}};
  if (!job.working_dir.empty()) container["workingDir"] = job.working_dir;
  json volumes = json::array({TokenVolume(settings)});
  json init_containers = json::array();
  if (job.source) {
    const json workspace = {{"name", "workspace"}, {"mountPath", kWorkspace}};
    container["volumeMounts"].push_back(workspace);
    if (job.working_dir.empty()) container["workingDir"] = kWorkspace;
    volumes.push_back({{"name", "workspace"}, {"emptyDir", json::object()}});
    json fetch_env = json::array({{{"name", "SOMLIER_SERVER"}, {"value", settings.tracking_url}}});
    for (json& var : TokenEnv(settings)) fetch_env.push_back(std::move(var));
    init_containers.push_back(
        {{"name", "fetch-source"},
         {"image", settings.image},
         {"command",
          {"somlier", "fetch-source", job.source->archive, kWorkspace, "--strip-components",
           std::to_string(job.source->strip_components)}},
         {"env", std::move(fetch_env)},
         {"resources", Resources(settings, false)},
         {"volumeMounts", json::array({workspace, TokenMount()})}});
  }
  if (!settings.config_map.empty()) {
    container["envFrom"] = json::array({{{"configMapRef", {{"name", settings.config_map}}}}});
  }
  json pod_spec = {{"restartPolicy", "Never"},
                   {"containers", json::array({container})},
                   {"volumes", std::move(volumes)}};
  if (!init_containers.empty()) pod_spec["initContainers"] = std::move(init_containers);
  if (job.gpu) ScheduleOnGpus(pod_spec, settings);

  if (job.gpu && base.is_object()) {  // the cluster's own tolerations stay, SoMLier's join them
    const json* tolerations = &base;
    for (const char* key : {"spec", "template", "spec", "tolerations"}) {
      tolerations =
          tolerations->is_object() && tolerations->contains(key) ? &(*tolerations)[key] : nullptr;
      if (!tolerations) break;
    }
    if (tolerations && tolerations->is_array() && pod_spec.contains("tolerations")) {
      json all = *tolerations;
      for (const json& t : pod_spec["tolerations"]) all.push_back(t);
      pod_spec["tolerations"] = std::move(all);
    }
  }

  // Istio's injector reads the label before the annotation: both say no sidecar.
  json pod_labels = labels;
  pod_labels["sidecar.istio.io/inject"] = "false";
  json spec = {
      {"backoffLimit", 0},
      {"parallelism", 1},
      {"completions", 1},
      {"ttlSecondsAfterFinished", settings.job_ttl_seconds},
      {"suspend", job.suspend},
      {"template",
       {{"metadata",
         {{"labels", pod_labels}, {"annotations", {{"sidecar.istio.io/inject", "false"}}}}},
        {"spec", pod_spec}}}};
  if (job.timeout_seconds) spec["activeDeadlineSeconds"] = *job.timeout_seconds;
  json manifest = {{"apiVersion", "batch/v1"},
                   {"kind", "Job"},
                   {"metadata",
                    {{"name", JobName(job.run_id)},
                     {"namespace", settings.ns},
                     {"labels", labels},
                     {"annotations",
                      {{"somlier.io/max-parallel", std::to_string(job.max_parallel)},
                       {"somlier.io/index", std::to_string(job.index)}}}}},
                   {"spec", spec}};
  if (base.is_null()) return manifest;
  // What a template must not decide: one pod per run, run once, with SoMLier's command.
  json trimmed = base;
  if (trimmed.contains("spec") && trimmed["spec"].is_object()) {
    for (const char* key : {"completionMode", "podFailurePolicy", "backoffLimitPerIndex",
                            "maxFailedIndexes", "successPolicy"}) {
      trimmed["spec"].erase(key);
    }
    json* containers = nullptr;
    if (trimmed["spec"].contains("template") && trimmed["spec"]["template"].is_object() &&
        trimmed["spec"]["template"].contains("spec") &&
        trimmed["spec"]["template"]["spec"].is_object() &&
        trimmed["spec"]["template"]["spec"].contains("containers")) {
      containers = &trimmed["spec"]["template"]["spec"]["containers"];
    }
    if (containers && containers->is_array()) {
      for (json& c : *containers) {
        if (c.is_object() && c.value("name", "") == "run") c.erase("args");
      }
    }
  }
  return MergeOver(trimmed, manifest);
}

}  // namespace somlier::kubernetes
