#include "somlier/serving/kubernetes_deployments.h"

#include <fmt/core.h>

#include <algorithm>
#include <thread>

#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/kubernetes/manifest_template.h"
#include "somlier/kubernetes/names.h"
#include "somlier/kubernetes/serving_manifests.h"
#include "somlier/projects/git_cache.h"

namespace somlier {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;
namespace k8s = somlier::kubernetes;

constexpr const char* kManagedBy = "app.kubernetes.io/managed-by=somlier";
// The Istio kinds, deleted separately: a cluster without Istio does not know them.
constexpr const char* kIstioKinds =
    "virtualservices.networking.istio.io,"
    "destinationrules.networking.istio.io";

int64_t VersionOf(const Deployment& d) { return std::stoll(d.model_version); }

std::string ModelSelector(const std::string& model) {
  return fmt::format("{},somlier.io/model={}", kManagedBy, k8s::ToLabelValue(model));
}

std::string VersionSelector(const std::string& model, int64_t version) {
  return fmt::format("{},somlier.io/model-version={}", ModelSelector(model), version);
}

const json& Field(const json& object, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* at = &object;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return kNull;
    at = &(*at)[key];
  }
  return *at;
}

// What a Deployment's rollout says: ready, failed (why), or still going (how far).
struct Rollout {
  bool ready = false;
  bool failed = false;
  std::string text;
};

Rollout ReadRollout(const json& deployment) {
  Rollout r;
  const json& status = Field(deployment, {"status"});
  const json& wanted_json = Field(deployment, {"spec", "replicas"});
  const int64_t wanted = wanted_json.is_number_integer() ? wanted_json.get<int64_t>() : 1;
  auto count = [&](const char* key) {
    const json& v = Field(status, {key});
    return v.is_number_integer() ? v.get<int64_t>() : 0;
  };
  const int64_t available = count("availableReplicas");
  const int64_t updated = count("updatedReplicas");
  const int64_t total = count("replicas");
  const json& generation = Field(deployment, {"metadata", "generation"});
  const json& observed = Field(status, {"observedGeneration"});
  // As `kubectl rollout status`: the controller has seen this spec (a stale condition of an
  // earlier one does not count), and no pod of an older one is left.
  const bool current =
      !generation.is_number_integer() ||
      (observed.is_number_integer() && observed.get<int64_t>() >= generation.get<int64_t>());
  r.text = fmt::format("{}/{} replicas available", available, wanted);
  const json& conditions = Field(status, {"conditions"});
  if (conditions.is_array() && current) {
    for (const json& c : conditions) {
      if (c.value("type", "") == "Progressing" && c.value("status", "") == "False") {
        r.failed = true;
        r.text += fmt::format("; {}: {}", c.value("reason", ""), c.value("message", ""));
      }
    }
  }
  r.ready = current && !r.failed && available >= wanted && updated >= wanted &&
            (total == 0 || total <= updated) && wanted > 0;
  return r;
}

std::string RoutesText(const std::vector<std::pair<int64_t, int>>& routes) {
  std::vector<std::string> parts;
  for (const auto& [version, weight] : routes) {
    parts.push_back(fmt::format("version {} {}%", version, weight));
  }
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? ", " : "") + parts[i];
  return text;
}

}  // namespace

Result<std::unique_ptr<KubernetesDeployments>> KubernetesDeployments::Create(
    Store& store, RegistryService& registry, KubernetesDeploymentsConfig config) {
  if (!config.settings.configured()) {
    return FailedPrecondition(
        "Kubernetes is not configured for SoMLier: set SOMLIER_K8S_IMAGE and "
        "SOMLIER_K8S_TRACKING_URL");
  }
  json base;
  if (!config.settings.deployment_template.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(base,
                             k8s::LoadTemplate(config.settings.deployment_template, "Deployment"));
  }
  return std::unique_ptr<KubernetesDeployments>(
      new KubernetesDeployments(store, registry, std::move(config), std::move(base)));
}

KubernetesDeployments::KubernetesDeployments(Store& store, RegistryService& registry,
                                             KubernetesDeploymentsConfig config,
                                             json deployment_template)
    : store_(store),
      registry_(registry),
      config_(std::move(config)),
      kubectl_(config_.settings),
      deployment_template_(std::move(deployment_template)) {}

Result<Deployment> KubernetesDeployments::Get(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, store_.GetDeployment(name));
  if (d.target != DeploymentTargetKind::kKubernetes) {
    return NotFound(fmt::format("deployment '{}' is not on Kubernetes", name));
  }
  return d;
}

Result<std::vector<Deployment>> KubernetesDeployments::Others(const Deployment& d) {
  SOMLIER_ASSIGN_OR_RETURN(auto all, store_.ListDeployments());
  std::vector<Deployment> others;
  for (Deployment& other : all) {
    if (other.target == DeploymentTargetKind::kKubernetes && other.model_name == d.model_name &&
        other.name != d.name && other.status == DeploymentStatus::kRunning) {
      others.push_back(std::move(other));
    }
  }
  std::sort(others.begin(), others.end(),
            [](const Deployment& a, const Deployment& b) { return VersionOf(a) > VersionOf(b); });
  return others;
}

Result<DeployOutcome> KubernetesDeployments::Deploy(const DeployRequest& request) {
  SOMLIER_RETURN_IF_ERROR(CheckDeployRequest(request));
  const k8s::KubernetesSettings& settings = config_.settings;
  const int64_t version = std::stoll(request.model_version);
  if (request.canary_percent) {
    if (*request.canary_percent < 1 || *request.canary_percent > 99) {
      return InvalidArgument(fmt::format(
          "canary_percent {} must be between 1 and 99 (the share of traffic the new version gets)",
          *request.canary_percent));
    }
    if (!request.istio_enabled) {
      return InvalidArgument(
          "canary_percent needs istio_enabled=true: a Service alone cannot split traffic by "
          "percent");
    }
  }
  SOMLIER_RETURN_IF_ERROR(
      registry_.LocateModel(fmt::format("models:/{}/{}", request.model_name, request.model_version))
          .status());

  k8s::ModelDeployment spec;
  spec.project = request.project_name;
  spec.model = request.model_name;
  spec.version = version;
  spec.image = settings.image;
  spec.replicas = request.replicas;
  spec.min_replicas = request.min_replicas;
  spec.max_replicas = request.max_replicas;
  spec.istio = request.istio_enabled;
  spec.gpu = request.use_gpu;

  Deployment d;
  d.name = k8s::ServingDeploymentName(request.model_name, version);
  d.model_name = request.model_name;
  d.model_version = request.model_version;
  d.target = DeploymentTargetKind::kKubernetes;
  d.url = fmt::format("http://{}.{}.svc.cluster.local", k8s::ServingServiceName(request.model_name),
                      settings.ns);
  // Decided on what the records say while no other change of this model runs (a dry run
  // changes nothing: it does not wait).
  std::unique_lock<std::mutex> model_lock;
  if (!request.dry_run) model_lock = LockModel(d.model_name);
  auto existing = store_.GetDeployment(d.name);
  if (existing.ok() && existing->target != DeploymentTargetKind::kKubernetes) {
    return AlreadyExists(fmt::format("deployment '{}' exists and is not on Kubernetes", d.name));
  }
  if (existing.ok() && existing->model_name != request.model_name) {
    return AlreadyExists(fmt::format(
        "deployment '{}' belongs to {} version {}; {} version {} would have the same name", d.name,
        existing->model_name, existing->model_version, request.model_name, request.model_version));
  }
  if (existing.ok() && existing->status == DeploymentStatus::kRunning && !request.dry_run) {
    return DeployOutcome{"already_deployed",
                         fmt::format("{} version {} is already deployed as '{}' ({})",
                                     request.model_name, version, d.name, existing->message),
                         d.name,
                         existing->url,
                         "kubernetes",
                         {}};
  }
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> others, Others(d));
  std::vector<std::pair<int64_t, int>> routes = {{version, 100}};
  if (request.canary_percent) {
    if (others.size() > 1) {
      return FailedPrecondition(fmt::format(
          "{} and {} of {} already share its traffic: promote or roll back that canary before "
          "starting another",
          others[1].name, others[0].name, request.model_name));
    }
    if (others.empty()) {
      return FailedPrecondition(fmt::format(
          "no other version of {} serves on Kubernetes to share traffic with: deploy version {} "
          "without canary_percent",
          request.model_name, version));
    }
    routes = {{VersionOf(others.front()), 100 - *request.canary_percent},
              {version, *request.canary_percent}};
  }
  std::vector<k8s::VersionWeight> weights;
  for (const auto& [v, w] : routes) weights.push_back({v, w});

  // ---- The manifests, in the order they are applied ----
  SOMLIER_ASSIGN_OR_RETURN(json deployment,
                           k8s::BuildServingDeployment(spec, settings, deployment_template_));
  SOMLIER_ASSIGN_OR_RETURN(std::string project, NormalizeProjectPath(request.project_name));
  deployment["metadata"]["annotations"]["somlier.io/project"] = project;
  std::vector<json> workload = {deployment};
  if (json hpa = k8s::BuildAutoscaler(spec, settings); !hpa.is_null()) workload.push_back(hpa);
  workload.push_back(k8s::BuildServingService(spec, settings));
  std::vector<json> traffic;
  if (spec.istio) {
    traffic.push_back(k8s::BuildDestinationRule(spec, weights, settings));
    SOMLIER_ASSIGN_OR_RETURN(json routes_manifest,
                             k8s::BuildVirtualService(spec, weights, settings));
    traffic.push_back(std::move(routes_manifest));
  }
  if (request.dry_run) {
    DeployOutcome outcome{"dry_run",
                          fmt::format("would deploy {} version {} as '{}' ({})", d.model_name,
                                      version, d.name, RoutesText(routes)),
                          d.name,
                          d.url,
                          "kubernetes",
                          workload};
    outcome.manifests.insert(outcome.manifests.end(), traffic.begin(), traffic.end());
    return outcome;
  }

  if (spec.istio) {
    SOMLIER_ASSIGN_OR_RETURN(bool istio, HasIstio());
    if (!istio) {
      return FailedPrecondition(
          "istio_enabled=true, but the cluster does not serve Istio's VirtualService "
          "(networking.istio.io): install Istio, or deploy with istio_enabled=false");
    }
  }

  // ---- Recorded, applied, rolled out, then the traffic ----
  if (existing.ok()) {
    d = std::move(*existing);
    // What a failed or stopped attempt left: its pods must not serve by the Service meanwhile.
    SOMLIER_RETURN_IF_ERROR(DeleteVersion(d));
  }
  SOMLIER_RETURN_IF_ERROR(MoveDeployment(
      d, DeploymentStatus::kStarting,
      fmt::format("project {}; rolling out in namespace {}", request.project_name, settings.ns)));
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  auto fail = [&](const Status& why) -> Status {
    if (MoveDeployment(d, DeploymentStatus::kFailed, why.message()).ok()) {
      (void)store_.PutDeployment(d);
    }
    return why;
  };
  auto apply = [&](const std::vector<json>& manifests, const std::string& doing) -> Status {
    std::string documents;
    for (const json& m : manifests) documents += m.dump() + "\n";
    return kubectl_
        .Run(doing,
             {"apply", "--server-side", "--field-manager=somlier", "--force-conflicts", "-f", "-",
              "-o", "name"},
             documents)
        .status();
  };
  if (Status applied = apply(workload, fmt::format("applying the Deployment of {}", d.name));
      !applied.ok()) {
    (void)DeleteVersion(d);
    return fail(applied);
  }
  const auto deadline = Steady::now() + config_.rollout_timeout;
  Rollout rollout;
  std::string last_error;
  while (true) {
    auto got = kubectl_.Run(fmt::format("reading the rollout of {}", d.name),
                            {"get", "deployment", d.name, "-o", "json"});
    if (got.ok()) {
      rollout = ReadRollout(ParseJsonOrNull(*got));
      if (rollout.ready) break;
    } else {
      last_error = got.status().message();  // tried again until the deadline
    }
    if (rollout.failed || Steady::now() > deadline) {
      // Its pods must not serve: the Service selects every version's.
      auto log = kubectl_.Run("reading its log",
                              {"logs", "deployment/" + d.name, "-c", "model", "--tail=20"});
      (void)DeleteVersion(d);
      return fail(FailedPrecondition(fmt::format(
          "{} version {} did not roll out{}: {}{}; its Deployment was removed and no traffic "
          "moved{}",
          d.model_name, version, rollout.failed ? "" : " in time", rollout.text,
          last_error.empty() ? "" : " (" + last_error + ")",
          log.ok() && !log->empty() ? "; its last log lines:\n" + *log : "")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(settings.poll_ms));
  }
  if (!traffic.empty()) {
    if (Status routed = apply(traffic, fmt::format("routing the traffic of {}", d.model_name));
        !routed.ok()) {
      (void)DeleteVersion(d);
      return fail(routed);
    }
  } else if (Status routed = Route(d, routes); !routed.ok()) {  // Istio routes of before
    (void)DeleteVersion(d);
    return fail(routed);
  }
  // Serving now: recorded so before the versions it replaces are retired.
  std::string message = fmt::format("{}; {}", rollout.text, RoutesText(routes));
  if (request.canary_percent) {
    message +=
        fmt::format(" (canary: `somlier deployments promote {}` or `rollback {}`)", d.name, d.name);
  }
  SOMLIER_RETURN_IF_ERROR(MoveDeployment(d, DeploymentStatus::kRunning, message));
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  if (!request.canary_percent) {
    for (const Deployment& other : others) {
      if (Status retired =
              Retire(other, fmt::format("replaced by version {} ({})", version, d.name));
          !retired.ok()) {
        message += fmt::format("; {} could not be removed: {}", other.name, retired.message());
      }
    }
  }
  return DeployOutcome{
      "deployed",
      fmt::format("deployed {} version {} as '{}' on Kubernetes (namespace {}): {}; in the "
                  "cluster at {}",
                  d.model_name, version, d.name, settings.ns, message, d.url),
      d.name,
      d.url,
      "kubernetes",
      {}};
}

std::unique_lock<std::mutex> KubernetesDeployments::LockModel(const std::string& model, bool wait) {
  std::shared_ptr<std::mutex> mutex;
  {
    std::lock_guard lock(locks_mutex_);
    auto& slot = model_locks_[model];
    if (!slot) slot = std::make_shared<std::mutex>();
    mutex = slot;
  }
  // The map keeps every model's mutex alive for the target's lifetime.
  return wait ? std::unique_lock(*mutex) : std::unique_lock(*mutex, std::try_to_lock);
}

Result<bool> KubernetesDeployments::HasIstio() {
  auto listed =
      kubectl_.Run("finding Istio's routes", {"get", "virtualservices.networking.istio.io", "-o",
                                              "name", "--ignore-not-found", "-l", kManagedBy});
  if (listed.ok()) return true;
  if (listed.status().message().find("doesn't have a resource type") != std::string::npos) {
    return false;
  }
  return listed.status();
}

Status KubernetesDeployments::DeleteVersion(const Deployment& d) {
  return kubectl_
      .Run(fmt::format("deleting the Deployment of {}", d.name),
           {"delete", "deployments.apps,horizontalpodautoscalers.autoscaling", "-l",
            VersionSelector(d.model_name, VersionOf(d)), "--ignore-not-found", "--wait=false"})
      .status();
}

Status KubernetesDeployments::Retire(Deployment d, const std::string& why) {
  SOMLIER_RETURN_IF_ERROR(DeleteVersion(d));
  SOMLIER_RETURN_IF_ERROR(MoveDeployment(d, DeploymentStatus::kStopped, why));
  return store_.PutDeployment(d);
}

Status KubernetesDeployments::Route(const Deployment& d,
                                    const std::vector<std::pair<int64_t, int>>& routes) {
  const std::string host = k8s::ServingServiceName(d.model_name);
  auto read = kubectl_.Run(
      fmt::format("reading the routes of {}", d.model_name),
      {"get", "virtualservices.networking.istio.io", host, "-o", "json", "--ignore-not-found"});
  if (!read.ok()) {
    if (read.status().message().find("doesn't have a resource type") != std::string::npos) {
      return OkStatus();  // no Istio in the cluster
    }
    return read.status();
  }
  if (read->find_first_not_of(" \n") == std::string::npos) return OkStatus();  // no routes
  const json routes_now = ParseJsonOrNull(*read);
  const json& project = Field(routes_now, {"metadata", "labels", "somlier.io/project"});
  k8s::ModelDeployment spec;
  spec.model = d.model_name;
  spec.project = project.is_string() ? project.get<std::string>() : "";
  spec.istio = true;
  std::vector<k8s::VersionWeight> weights;
  for (const auto& [v, w] : routes) weights.push_back({v, w});
  SOMLIER_ASSIGN_OR_RETURN(json service, k8s::BuildVirtualService(spec, weights, config_.settings));
  const json rule = k8s::BuildDestinationRule(spec, weights, config_.settings);
  return kubectl_
      .Run(fmt::format("routing the traffic of {}", d.model_name),
           {"apply", "--server-side", "--field-manager=somlier", "--force-conflicts", "-f", "-",
            "-o", "name"},
           rule.dump() + "\n" + service.dump() + "\n")
      .status();
}

Result<Deployment> KubernetesDeployments::Promote(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, Get(name));
  auto model_lock = LockModel(d.model_name);
  SOMLIER_ASSIGN_OR_RETURN(d, Get(name));
  if (d.status != DeploymentStatus::kRunning) {
    return FailedPrecondition(
        fmt::format("deployment '{}' is {}, not serving", name, ToString(d.status)));
  }
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> others, Others(d));
  if (others.empty()) {
    return FailedPrecondition(fmt::format(
        "deployment '{}' already takes all of {}'s traffic: no other version to replace", name,
        d.model_name));
  }
  SOMLIER_RETURN_IF_ERROR(Route(d, {{VersionOf(d), 100}}));
  for (const Deployment& other : others) {
    SOMLIER_RETURN_IF_ERROR(Retire(
        other, fmt::format("replaced by version {} ({}), promoted", d.model_version, d.name)));
  }
  // Still RUNNING: only what it says changes.
  d.message = fmt::format("promoted: version {} 100%", d.model_version);
  d.last_updated_time = NowMillis();
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  return d;
}

Result<Deployment> KubernetesDeployments::Rollback(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, Get(name));
  auto model_lock = LockModel(d.model_name);
  SOMLIER_ASSIGN_OR_RETURN(d, Get(name));
  if (d.status != DeploymentStatus::kRunning) {
    return FailedPrecondition(fmt::format(
        "deployment '{}' is {}, not serving: nothing to roll back", name, ToString(d.status)));
  }
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> others, Others(d));
  if (others.empty()) {
    return FailedPrecondition(
        fmt::format("no other version of {} serves to roll back to: stop '{}' to remove it",
                    d.model_name, name));
  }
  const Deployment& stable = others.front();
  SOMLIER_RETURN_IF_ERROR(Route(d, {{VersionOf(stable), 100}}));
  SOMLIER_RETURN_IF_ERROR(Retire(d, fmt::format("rolled back: version {} ({}) serves all traffic",
                                                stable.model_version, stable.name)));
  return Get(name);
}

Result<std::vector<Deployment>> KubernetesDeployments::List() {
  SOMLIER_ASSIGN_OR_RETURN(auto all, store_.ListDeployments());
  std::erase_if(all,
                [](const Deployment& d) { return d.target != DeploymentTargetKind::kKubernetes; });
  const bool live = std::any_of(all.begin(), all.end(), [](const Deployment& d) {
    return d.status == DeploymentStatus::kRunning || d.status == DeploymentStatus::kStarting;
  });
  if (!live) return all;
  auto got = kubectl_.Run("reading the Deployments' rollouts",
                          {"get", "deployments.apps", "-l", kManagedBy, "-o", "json"});
  if (!got.ok()) {
    LogWarning("deployments list: {}", got.status().message());
    return all;  // as recorded: the cluster cannot say more now
  }
  const json list = ParseJsonOrNull(*got);
  if (!Field(list, {"items"}).is_array()) {
    LogWarning("deployments list: kubectl answered something that is not a list");
    return all;
  }
  for (Deployment& d : all) {
    if (d.status != DeploymentStatus::kRunning) continue;  // a deploy in progress owns STARTING
    auto model_lock = LockModel(d.model_name, /*wait=*/false);
    if (!model_lock.owns_lock()) continue;  // being changed now: as recorded
    const json* found = nullptr;
    if (list.contains("items") && list["items"].is_array()) {
      for (const json& item : list["items"]) {
        if (Field(item, {"metadata", "name"}) == d.name) found = &item;
      }
    }
    if (found == nullptr) {
      SOMLIER_RETURN_IF_ERROR(
          MoveDeployment(d, DeploymentStatus::kFailed, "its Deployment is gone from the cluster"));
      SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
      continue;
    }
    const Rollout rollout = ReadRollout(*found);
    const auto cut = d.message.find(';');
    d.message = rollout.text + (cut == std::string::npos ? "" : d.message.substr(cut));
  }
  return all;
}

Result<Deployment> KubernetesDeployments::Stop(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, Get(name));
  auto model_lock = LockModel(d.model_name);
  SOMLIER_ASSIGN_OR_RETURN(d, Get(name));
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Deployment> others, Others(d));
  if (!others.empty() && d.status == DeploymentStatus::kRunning) {
    // Its share of the traffic moves first, then it goes.
    SOMLIER_RETURN_IF_ERROR(Route(others.front(), {{VersionOf(others.front()), 100}}));
  }
  SOMLIER_RETURN_IF_ERROR(DeleteVersion(d));
  if (others.empty()) {
    // The model's own objects go with its last version.
    SOMLIER_RETURN_IF_ERROR(kubectl_
                                .Run(fmt::format("deleting the Service of {}", d.model_name),
                                     {"delete", "services", "-l", ModelSelector(d.model_name),
                                      "--ignore-not-found", "--wait=false"})
                                .status());
    auto istio = kubectl_.Run(fmt::format("deleting the Istio routes of {}", d.model_name),
                              {"delete", kIstioKinds, "-l", ModelSelector(d.model_name),
                               "--ignore-not-found", "--wait=false"});
    if (!istio.ok() &&
        istio.status().message().find("doesn't have a resource type") == std::string::npos) {
      return istio.status();
    }
  }
  SOMLIER_RETURN_IF_ERROR(MoveDeployment(d, DeploymentStatus::kStopped, "stopped"));
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  return d;
}

Result<std::string> KubernetesDeployments::ReadLog(const std::string& name, size_t tail) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, Get(name));
  std::vector<std::string> args = {"logs", "deployment/" + d.name, "-c", "model"};
  if (tail > 0) args.push_back(fmt::format("--tail={}", tail));
  return kubectl_.Run(fmt::format("reading the log of {}", name), args);
}

std::string KubernetesDeployments::LogLocation(const std::string& name) const {
  return fmt::format("kubectl --namespace {} logs deployment/{} -c model", config_.settings.ns,
                     name);
}

}  // namespace somlier
