#include "somlier/serving/local_deployments.h"

#include <fmt/core.h>
#include <signal.h>

#include <cctype>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/core/file_lock.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/execution/process_identity.h"
#include "somlier/execution/subprocess.h"
#include "somlier/projects/git_cache.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace {

constexpr std::string_view kMarker = "SOMLIER_DEPLOYMENT";
constexpr auto kStopGrace = std::chrono::seconds(40);

bool SupervisorAlive(const Deployment& d) {
  return d.pid && ProcessHasEnvironment(static_cast<pid_t>(*d.pid), kMarker, d.name);
}

// The last `count` lines of a file (0: all), each ending with a newline.
std::string LastLines(const fs::path& file, size_t count) {
  std::ifstream in(file);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (count > 0 && lines.size() > count) lines.pop_front();
  }
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::optional<json> ReadJsonFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  json doc = ParseJsonOrNull(text.str());
  if (doc.is_null()) return std::nullopt;
  return doc;
}

}  // namespace

std::string LocalDeployments::NameFor(const std::string& model_name,
                                      const std::string& model_version) {
  std::string name;
  for (char c : ToLower(model_name)) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c));
    if (keep || (!name.empty() && name.back() != '-')) name += keep ? c : '-';
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  std::string suffix = "-v" + model_version;
  if (name.size() + suffix.size() > 63) name.resize(63 - suffix.size());
  return (name.empty() ? "model" : name) + suffix;
}

Result<DeployOutcome> LocalDeployments::Deploy(const DeployRequest& request) {
  if (request.use_k8s_job.value_or(false) || request.istio_enabled || request.dry_run ||
      request.canary_percent || request.min_replicas || request.replicas != 1 || request.use_gpu) {
    return InvalidArgument(
        "istio_enabled, replicas, min_replicas, max_replicas, canary_percent, use_gpu and dry_run "
        "are for Kubernetes deployments (use_k8s_job=true); a local deployment is one model "
        "server");
  }
  SOMLIER_RETURN_IF_ERROR(CheckDeployRequest(request));
  const std::string& version = request.model_version;
  const std::string model_uri = fmt::format("models:/{}/{}", request.model_name, version);
  SOMLIER_RETURN_IF_ERROR(registry_.LocateModel(model_uri).status());

  const std::string name = NameFor(request.model_name, version);
  const fs::path dir = DirectoryOf(name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  SOMLIER_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(dir / ".lock"));

  if (auto existing = store_.GetDeployment(name); existing.ok()) {
    if (existing->model_name != request.model_name || existing->model_version != version) {
      return AlreadyExists(fmt::format(
          "deployment '{}' belongs to {} version {}; {} version {} would have the same name", name,
          existing->model_name, existing->model_version, request.model_name, version));
    }
    SOMLIER_ASSIGN_OR_RETURN(Deployment current, Refresh(*existing));
    if (current.status == DeploymentStatus::kRunning) {
      return DeployOutcome{"already_deployed",
                           fmt::format("{} version {} is already deployed as '{}' at {}",
                                       request.model_name, version, name, current.url),
                           name,
                           current.url,
                           "local",
                           {}};
    }
  }

  const fs::path ready_file = dir / "ready.json";
  fs::remove(ready_file, ec);
  json asked = {{"project_name", request.project_name},
                {"model_name", request.model_name},
                {"model_version", version},
                {"model_uri", model_uri},
                {"workers", request.workers},
                {"port", request.port}};
  SOMLIER_RETURN_IF_ERROR(WriteFileAtomically(dir / "deployment.json", asked.dump(2) + "\n"));

  SpawnOptions spawn;
  spawn.argv = {config_.somlier_binary.string(),
                "deployments",
                "supervise",
                name,
                "--model_uri",
                model_uri,
                "--workers",
                std::to_string(request.workers),
                "--port",
                std::to_string(request.port)};
  spawn.env = config_.env;
  EraseIntegrationSecrets(*spawn.env);  // the model server has no use for them
  (*spawn.env)[std::string(kMarker)] = name;
  spawn.output_file = LogFileOf(name).string();
  spawn.new_session = true;
  std::ofstream log(LogFileOf(name), std::ios::app);
  log << fmt::format("--- {} deploying {} (project {})\n", FormatUtcIsoMillis(NowMillis()),
                     model_uri, request.project_name);
  log.close();
  if (!log) return Internal(fmt::format("cannot write to {}", LogFileOf(name).string()));
  Deployment d;
  if (auto existing = store_.GetDeployment(name); existing.ok()) d = std::move(*existing);
  d.name = name;
  d.model_name = request.model_name;
  d.model_version = version;
  d.target = DeploymentTargetKind::kLocal;
  d.url.clear();
  d.pid.reset();
  SOMLIER_RETURN_IF_ERROR(
      MoveDeployment(d, DeploymentStatus::kStarting, "project " + request.project_name));
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));  // recorded before anything runs
  auto supervisor = Subprocess::Spawn(spawn);
  if (!supervisor.ok()) {
    SOMLIER_RETURN_IF_ERROR(
        MoveDeployment(d, DeploymentStatus::kFailed, supervisor.status().message()));
    (void)store_.PutDeployment(d);
    return supervisor.status();
  }
  const pid_t pid = (*supervisor)->pid();
  (*supervisor)->Detach();
  d.pid = pid;
  if (Status recorded = store_.PutDeployment(d); !recorded.ok()) {
    TerminateProcessGroup(pid, kMarker, name, std::chrono::seconds(5));
    return recorded;
  }

  const auto deadline = Steady::now() + config_.ready_timeout;
  while (true) {
    if (auto ready = ReadJsonFile(ready_file); ready && ready->contains("url")) {
      d.url = (*ready)["url"].get<std::string>();
      break;
    }
    const bool alive = ProcessHasEnvironment(pid, kMarker, name);
    if (!alive || Steady::now() > deadline) {
      if (alive) TerminateProcessGroup(pid, kMarker, name, std::chrono::seconds(5));
      d.pid.reset();
      std::string log = LastLines(LogFileOf(name), 12);
      SOMLIER_RETURN_IF_ERROR(MoveDeployment(d, DeploymentStatus::kFailed,
                                             alive ? "the model server did not become ready in time"
                                                   : "the model server could not start"));
      SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
      // Named by the deployment, not by the log's path on this machine.
      return FailedPrecondition(fmt::format(
          "{} for {} version {} (`somlier deployments logs {}` shows its whole log; the last "
          "lines:)\n{}",
          d.message, request.model_name, version, name, log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  SOMLIER_RETURN_IF_ERROR(
      MoveDeployment(d, DeploymentStatus::kRunning, "project " + request.project_name));
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  return DeployOutcome{"deployed",
                       fmt::format("deployed {} version {} as '{}': serving at {} (POST "
                                   "{}/invocations)",
                                   request.model_name, version, name, d.url, d.url),
                       name,
                       d.url,
                       "local",
                       {}};
}

Result<Deployment> LocalDeployments::Refresh(Deployment d) {
  // A deploy records its row a moment before it knows the supervisor's pid.
  const bool just_recorded = d.status == DeploymentStatus::kStarting && !d.pid &&
                             NowMillis() - d.last_updated_time < 10'000;
  if (!just_recorded &&
      (d.status == DeploymentStatus::kRunning || d.status == DeploymentStatus::kStarting) &&
      d.target == DeploymentTargetKind::kLocal && !SupervisorAlive(d)) {
    SOMLIER_RETURN_IF_ERROR(
        MoveDeployment(d, DeploymentStatus::kFailed,
                       fmt::format("its supervisor (pid {}) is no longer running; see {}",
                                   d.pid.value_or(0), LogFileOf(d.name).string())));
    d.pid.reset();
    SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  }
  return d;
}

Result<std::vector<Deployment>> LocalDeployments::List() {
  SOMLIER_ASSIGN_OR_RETURN(auto all, store_.ListDeployments());
  std::erase_if(all, [](const Deployment& d) { return d.target != DeploymentTargetKind::kLocal; });
  for (Deployment& d : all) {
    SOMLIER_ASSIGN_OR_RETURN(d, Refresh(std::move(d)));
  }
  return all;
}

Result<Deployment> LocalDeployments::Stop(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, store_.GetDeployment(name));
  if (SupervisorAlive(d)) {
    const auto pid = static_cast<pid_t>(*d.pid);
    kill(pid, SIGTERM);  // the supervisor drains its server, then exits
    const auto deadline = Steady::now() + kStopGrace;
    while (ProcessHasEnvironment(pid, kMarker, name) && Steady::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    TerminateProcessGroup(pid, kMarker, name, std::chrono::milliseconds(0));
  }
  std::error_code ec;
  fs::remove(DirectoryOf(name) / "ready.json", ec);
  SOMLIER_RETURN_IF_ERROR(MoveDeployment(d, DeploymentStatus::kStopped, d.message));
  d.pid.reset();
  SOMLIER_RETURN_IF_ERROR(store_.PutDeployment(d));
  return d;
}

Status LocalDeployments::MarkFailed(const std::string& name, const std::string& why) {
  SOMLIER_ASSIGN_OR_RETURN(Deployment d, store_.GetDeployment(name));
  if (d.status == DeploymentStatus::kStopped || d.status == DeploymentStatus::kFailed) {
    return OkStatus();  // stopped (or found dead) meanwhile: that stands
  }
  SOMLIER_RETURN_IF_ERROR(MoveDeployment(d, DeploymentStatus::kFailed, why));
  d.pid.reset();
  return store_.PutDeployment(d);
}

Result<std::string> LocalDeployments::ReadLog(const std::string& name, size_t tail) {
  SOMLIER_RETURN_IF_ERROR(store_.GetDeployment(name).status());
  return LastLines(LogFileOf(name), tail);
}

Status RunSupervisor(const SupervisorOptions& options) {
  ProcessRunner& runner = options.runner ? *options.runner : RealProcessRunner();
  const somlier::Clock& clock = options.clock ? *options.clock : SteadyClock();
  int port = options.port;
  std::deque<somlier::Clock::time_point> crashes;
  auto backoff = std::chrono::milliseconds(500);
  bool ever_ready = false;
  while (true) {
    SpawnOptions spawn;
    spawn.argv = options.server_argv;
    spawn.argv.insert(spawn.argv.end(), {"--port", std::to_string(port), "--ready_file",
                                         options.ready_file.string()});
    spawn.new_process_group = false;  // stopping the supervisor's group stops it too
    spawn.capture_stdout = spawn.capture_stderr = false;
    SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> server, runner.Spawn(spawn));
    LogInfo("supervisor: model server started (pid {})", server->pid());
    int signal = 0;
    while (!server->HasExited()) {
      if (auto ready = ReadJsonFile(options.ready_file); ready && ready->contains("port")) {
        ever_ready = true;
        port = (*ready)["port"].get<int>();  // a restarted server keeps the URL
      }
      signal = options.wait_for_stop(std::chrono::milliseconds(200));
      if (signal != 0) break;
    }
    if (signal != 0) {
      LogInfo("supervisor: {} received; draining the model server", strsignal(signal));
      server->Signal(SIGTERM);
      const auto deadline = clock.Now() + kStopGrace - std::chrono::seconds(5);
      while (!server->HasExited() && clock.Now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      server->Signal(SIGKILL);
      (void)server->Wait();
      return OkStatus();
    }
    SOMLIER_ASSIGN_OR_RETURN(int code, server->Wait());
    if (!ever_ready) {
      return FailedPrecondition(
          fmt::format("the model server exited with code {} before it "
                      "was ready",
                      code));
    }
    const auto now = clock.Now();
    crashes.push_back(now);
    while (!crashes.empty() && now - crashes.front() > std::chrono::minutes(1)) {
      crashes.pop_front();
    }
    if (crashes.size() >= 5) {
      return FailedPrecondition(fmt::format(
          "the model server exited {} times within a minute (last exit code {}); gave up",
          crashes.size(), code));
    }
    LogWarning("supervisor: the model server exited with code {}; restarting in {} ms", code,
               backoff.count());
    if (options.wait_for_stop(backoff) != 0) return OkStatus();
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

}  // namespace somlier
