// `somlier deploy PROJECT_NAME MODEL_NAME MODEL_VERSION [--use_k8s_job=bool]
// [--istio_enabled=bool] [--workers N] [--use_gpu] [--replicas N] [--min_replicas N
// --max_replicas M] [--canary_percent P] [--dry_run]` (also under `online`), and `somlier
// deployments list|stop|logs|promote|rollback` — in-process or on SOMLIER_SERVER
// (serving/deployment_router.h) — plus the hidden `deployments supervise`, the background
// process a local deployment runs as.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/cli/stop_signals.h"
#include "somlier/cli/use_cases.h"
#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/serving/local_deployments.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

struct DeployOptions {
  std::string project;
  std::string model;
  std::string version;
  std::optional<bool> use_k8s_job;
  bool istio_enabled = false;
  int workers = 1;
  bool use_gpu = false;
  int replicas = 1;
  std::optional<int> min_replicas;
  std::optional<int> max_replicas;
  std::optional<int> canary_percent;
  bool dry_run = false;
  std::string output = "text";
};

Result<int> Deploy(const Context& ctx, const DeployOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  json request = {{"project_name", o.project},
                  {"model_name", o.model},
                  {"model_version", o.version},
                  {"istio_enabled", o.istio_enabled},
                  {"workers", o.workers}};
  if (o.use_k8s_job) request["use_k8s_job"] = *o.use_k8s_job;
  if (o.use_gpu) request["use_gpu"] = true;
  if (o.replicas != 1) request["replicas"] = o.replicas;
  if (o.min_replicas) request["min_replicas"] = *o.min_replicas;
  if (o.max_replicas) request["max_replicas"] = *o.max_replicas;
  if (o.canary_percent) request["canary_percent"] = *o.canary_percent;
  if (o.dry_run) request["dry_run"] = true;
  if (o.output != "json" && !o.dry_run) {
    fmt::print(stderr, "deploying {} version {} ...\n", o.model, o.version);
    std::fflush(stderr);
  }
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/deploy", request));
  if (o.dry_run && o.output != "json") {
    for (const json& manifest : answer.value("manifests", json::array())) {
      fmt::print("---\n{}", ToYaml(manifest));
    }
    fmt::print(stderr, "dry run: {}; nothing was changed\n", answer["message"].get<std::string>());
  } else if (o.output == "json") {
    PrintJson(answer);
  } else {
    fmt::print("{}\n", answer["message"].get<std::string>());
  }
  return 0;
}

struct DeploymentsOptions {
  std::string name;
  int tail = 0;
  std::string output = "text";
  // supervise
  std::string model_uri;
  int workers = 1;
  int port = 0;
};

Result<int> List(const Context& ctx, const DeploymentsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/deployments/list", json::object()));
  if (o.output == "json") {
    PrintJson(answer);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "MODEL", "VERSION", "STATUS", "URL", "PID", "UPDATED", "MESSAGE"}};
  for (const json& d : answer["deployments"]) {
    rows.push_back(
        {d["name"], d["model_name"], d["model_version"], d["status"], d["url"],
         d.contains("pid") ? std::to_string(d["pid"].get<int64_t>()) : "",
         FormatLocalIsoMicros(d["last_updated_time"].get<int64_t>() * 1000).substr(0, 19),
         d["message"]});
  }
  PrintTable(rows);
  return 0;
}

Result<int> StopDeployment(const Context& ctx, const DeploymentsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  if (o.output != "json") {
    fmt::print(stderr, "stopping {} (requests in flight are answered first) ...\n", o.name);
    std::fflush(stderr);
  }
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/deployments/stop", {{"name", o.name}}));
  if (o.output == "json") {
    PrintJson(answer);
  } else {
    fmt::print("{} stopped\n", o.name);
  }
  return 0;
}

// promote | rollback: the canary takes all traffic, or gives it back.
Result<int> MoveTraffic(const Context& ctx, const DeploymentsOptions& o, const std::string& path) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call(path, {{"name", o.name}}));
  if (o.output == "json") {
    PrintJson(answer);
  } else {
    fmt::print("{}: {} ({})\n", answer["name"].get<std::string>(),
               answer["status"].get<std::string>(), answer["message"].get<std::string>());
  }
  return 0;
}

Result<int> Logs(const Context& ctx, const DeploymentsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  json request = {{"name", o.name}};
  if (o.tail > 0) request["tail"] = o.tail;
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/deployments/logs", request));
  if (o.output == "json") {
    PrintJson(answer);
  } else {
    std::fputs(answer["log"].get<std::string>().c_str(), stdout);
  }
  return 0;
}

// The deployment's background process: runs `somlier serve-model` and restarts it when it
// dies; records FAILED when it gives up.
Result<int> Supervise(const Context& ctx, const DeploymentsOptions& o) {
  StopSignals stop;
  SupervisorOptions options;
  std::error_code ec;
  options.server_argv = {std::filesystem::read_symlink("/proc/self/exe", ec).string(),
                         "serve-model", o.model_uri, "--workers", std::to_string(o.workers)};
  options.ready_file =
      std::filesystem::path(ctx.settings.home) / "deployments" / o.name / "ready.json";
  options.port = o.port;
  options.wait_for_stop = [&stop](std::chrono::milliseconds timeout) {
    return stop.WaitFor(timeout);
  };
  Status outcome = RunSupervisor(options);
  if (outcome.ok()) return 0;
  LogError("supervisor: {}", outcome.message());
  if (auto services = LocalServices::Open(ctx.settings, ctx.env); services.ok()) {
    if (Status marked = (*services)->local_deployments->MarkFailed(o.name, outcome.message());
        !marked.ok()) {
      LogError("supervisor: recording the failure: {}", marked.message());
    }
  }
  return ReportError(outcome);
}

void AddDeploy(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<DeployOptions>();
  CLI::App* deploy = parent.add_subcommand(
      "deploy",
      "Serve a registered model version: a supervised local model server, or on Kubernetes");
  deploy->add_option("PROJECT_NAME", o->project, "The project (experiment) the model is from")
      ->required();
  deploy->add_option("MODEL_NAME", o->model, "The registered model")->required();
  deploy->add_option("MODEL_VERSION", o->version, "Its version (1, 2, ...)")->required();
  deploy->add_option("--use_k8s_job", o->use_k8s_job,
                     "Deploy on Kubernetes (=true) or here (=false); default: Kubernetes when the "
                     "server is configured for it (SOMLIER_K8S_*)");
  deploy->add_option("--istio_enabled", o->istio_enabled,
                     "Route with Istio: sidecars, a VirtualService and a DestinationRule "
                     "(Kubernetes)");
  deploy->add_flag("--use_gpu", o->use_gpu, "A GPU per replica (Kubernetes)");
  deploy->add_option("--replicas", o->replicas, "Replicas (Kubernetes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  deploy
      ->add_option("--min_replicas", o->min_replicas,
                   "With --max_replicas: an autoscaler at 70% CPU owns the replicas (Kubernetes)")
      ->check(CLI::Range(1, 1000));
  deploy->add_option("--max_replicas", o->max_replicas, "See --min_replicas")
      ->check(CLI::Range(1, 1000));
  deploy
      ->add_option("--canary_percent", o->canary_percent,
                   "Give this version P% of the traffic; the serving version keeps the rest "
                   "(Kubernetes with Istio; then `deployments promote|rollback NAME`)")
      ->check(CLI::Range(1, 99));
  deploy->add_flag("--dry_run", o->dry_run,
                   "Print the manifests (YAML; JSON with --output json) and change nothing");
  deploy->add_option("--workers", o->workers, "Python worker processes of the model server")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  deploy->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(deploy, [&ctx, o] { return Deploy(ctx, *o); });
}

}  // namespace

void AddDeployCommands(CLI::App& parent, Context& ctx) { AddDeploy(parent, ctx); }

void AddDeploymentsCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DeploymentsOptions>();
  CLI::App* group = app.add_subcommand(
      "deployments", "List, stop, read the logs of, promote and roll back deployments");
  group->require_subcommand(1);
  CLI::App* list = group->add_subcommand("list", "Deployments and their status");
  list->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(list, [&ctx, o] { return List(ctx, *o); });

  CLI::App* stop = group->add_subcommand("stop", "Stop a deployment's model server (draining it)");
  stop->add_option("NAME", o->name, "The deployment (see `deployments list`)")->required();
  stop->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(stop, [&ctx, o] { return StopDeployment(ctx, *o); });

  CLI::App* logs = group->add_subcommand("logs", "Print a deployment's log");
  logs->add_option("NAME", o->name, "The deployment")->required();
  logs->add_option("--tail", o->tail, "Only the last N lines")->check(CLI::NonNegativeNumber);
  logs->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(logs, [&ctx, o] { return Logs(ctx, *o); });

  CLI::App* promote = group->add_subcommand(
      "promote", "Give a canary all of its model's traffic and remove the version it replaces");
  promote->add_option("NAME", o->name, "The canary's deployment")->required();
  promote->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(promote,
                            [&ctx, o] { return MoveTraffic(ctx, *o, "/deployments/promote"); });
  CLI::App* rollback = group->add_subcommand(
      "rollback", "Remove a canary and give its model's traffic back to the serving version");
  rollback->add_option("NAME", o->name, "The canary's deployment")->required();
  rollback->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(rollback,
                            [&ctx, o] { return MoveTraffic(ctx, *o, "/deployments/rollback"); });

  CLI::App* supervise = group->add_subcommand("supervise", "");
  supervise->group("");  // internal: what `deploy` starts
  supervise->add_option("NAME", o->name)->required();
  supervise->add_option("--model_uri", o->model_uri)->required();
  supervise->add_option("--workers", o->workers);
  supervise->add_option("--port", o->port);
  ctx.handlers.emplace_back(supervise, [&ctx, o] { return Supervise(ctx, *o); });
}

}  // namespace somlier::cli
