#include "somlier/api/train_api.h"

#include <fmt/core.h>

#include <limits>
#include <thread>

#include "somlier/api/mlflow_json.h"
#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/projects/git_cache.h"
#include "somlier/tracking/tracking_service.h"

namespace somlier::api {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// A field of a train request: a string, or a number spelled as JSON spells it.
Result<std::string> SpecText(const std::string& name, const ordered_json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  if (value.is_array() && !value.empty()) {
    std::vector<std::string> items;
    for (const ordered_json& item : value) {
      if (!item.is_string() && !item.is_number()) {
        return InvalidArgument(fmt::format(
            "params.{}: list items must be strings or numbers, not {}", name, JsonPreview(item)));
      }
      items.push_back(item.is_string() ? item.get<std::string>() : item.dump());
    }
    return Join(items, ",");
  }
  return InvalidArgument(fmt::format(
      "params.{} must be a spec string (\"0.1..0.5..0.1\", \"64,128\", \"3\"), a number or a "
      "list, not {}",
      name, JsonPreview(value)));
}

json RunSummary(const Run& run) {
  const RunInfo& info = run.info;
  json out = {{"run_id", info.run_id},
              {"run_name", info.run_name},
              {"status", std::string(ToString(info.status))}};
  if (info.start_time) out["start_time"] = *info.start_time;
  if (info.end_time) out["end_time"] = *info.end_time;
  if (info.exit_code) out["exit_code"] = *info.exit_code;
  if (!info.status_message.empty()) out["status_message"] = info.status_message;
  json params = json::object();
  for (const Param& p : run.params) params[p.key] = p.value;
  json metrics = json::object();
  for (const Metric& m : run.metrics) metrics[m.key] = DoubleToJson(m.value);
  out["params"] = std::move(params);
  out["metrics"] = std::move(metrics);
  return out;
}

}  // namespace

Result<TrainRequest> TrainRequestFromFields(const Fields& request) {
  SOMLIER_RETURN_IF_ERROR(request.OnlyKnown(kTrainFields));
  TrainRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.project_name, request.RequiredString("project_name"));
  SOMLIER_ASSIGN_OR_RETURN(r.project_ref, request.RequiredString("project_ref"));
  SOMLIER_ASSIGN_OR_RETURN(r.github_uri, request.String("github_uri"));
  SOMLIER_ASSIGN_OR_RETURN(std::string entrypoint, request.String("entrypoint"));
  if (!entrypoint.empty()) r.entrypoint = entrypoint;
  SOMLIER_ASSIGN_OR_RETURN(std::string env_manager, request.String("env_manager"));
  if (!env_manager.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(r.env_manager, ParseEnvManager(env_manager));
  }
  // 0 means "the default" for both; TrainService checks the upper bounds.
  SOMLIER_ASSIGN_OR_RETURN(auto max_parallel,
                           request.Int("max_parallel", {0, std::numeric_limits<int>::max()}));
  r.max_parallel = static_cast<int>(max_parallel.value_or(0));
  SOMLIER_ASSIGN_OR_RETURN(auto timeout, request.Int("timeout", kNonNegative));
  r.timeout = std::chrono::seconds(timeout.value_or(0));
  SOMLIER_ASSIGN_OR_RETURN(auto use_k8s_job, request.Bool("use_k8s_job"));
  SOMLIER_ASSIGN_OR_RETURN(auto use_gpu, request.Bool("use_gpu"));
  r.use_k8s_job = use_k8s_job;
  r.use_gpu = use_gpu.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(auto dry_run, request.Bool("dry_run"));
  r.dry_run = dry_run.value_or(false);
  SOMLIER_ASSIGN_OR_RETURN(r.user, request.String("user"));
  if (const ordered_json* params = request.Raw("params")) {
    if (!params->is_object()) {
      return InvalidArgument(fmt::format(
          "'params' must be an object of NAME: SPEC (e.g. {{\"batch_size\": \"64,128\"}}), not {}",
          JsonPreview(*params)));
    }
    for (const auto& [name, value] : params->items()) {
      SOMLIER_ASSIGN_OR_RETURN(std::string spec, SpecText(name, value));
      r.params.push_back({name, spec});
    }
  }
  return r;
}

Result<json> TrainAnswer(TrackingService& tracking, const TrainJob& job) {
  json runs = json::array();
  for (const TrainRun& run : job.runs()) {
    SOMLIER_ASSIGN_OR_RETURN(Run current, tracking.GetRun(run.run_id));
    runs.push_back(RunSummary(current));
  }
  json answer = {{"run_id", runs.empty() ? json("") : runs[0]["run_id"]},
                 {"status", runs.empty() ? json("") : runs[0]["status"]},
                 {"experiment_id", job.experiment_id()},
                 {"commit", job.commit()},
                 {"executor", job.executor()},
                 {"runs", std::move(runs)},
                 {"warnings", job.warnings()}};
  return answer;
}

json DryRunAnswer(const TrainService::Preview& preview) {
  return {{"dry_run", true},
          {"executor", preview.executor},
          {"commit", preview.commit},
          {"runs", preview.runs}};
}

Result<json> RunsList(TrackingService& tracking, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string project, request.RequiredString("project_name"));
  // The experiment is the project's path as train normalised it ("./a/b/" is "a/b").
  if (auto normal = NormalizeProjectPath(project); normal.ok() && !normal->empty()) {
    project = *normal;
  }
  SOMLIER_ASSIGN_OR_RETURN(auto max_results, request.Int("max_results", {1, 1000}));
  auto experiment = tracking.GetExperimentByName(project);
  if (!experiment.ok()) {
    if (experiment.status().code() == StatusCode::kNotFound) {
      return NotFound(
          fmt::format("project '{}' has no runs (no experiment of that name)", project));
    }
    return experiment.status();
  }
  SearchRequest search;
  search.order_by = {"attributes.start_time DESC"};
  search.max_results = max_results.value_or(100);
  SOMLIER_ASSIGN_OR_RETURN(Page<Run> page,
                           tracking.SearchRuns({experiment->experiment_id}, search));
  json runs = json::array();
  for (const Run& run : page.items) runs.push_back(RunSummary(run));
  return json{{"experiment_id", std::to_string(experiment->experiment_id)},
              {"runs", std::move(runs)}};
}

Result<json> RunsShow(TrackingService& tracking, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string run_id, request.RequiredString("run_id"));
  SOMLIER_ASSIGN_OR_RETURN(Run run, tracking.GetRun(run_id));
  json out = RunSummary(run);
  const RunInfo& info = run.info;
  out["experiment_id"] = std::to_string(info.experiment_id);
  out["user_id"] = info.user_id;
  out["artifact_uri"] = info.artifact_uri;
  if (!info.source.git_uri.empty()) {
    out["source"] = {{"git_uri", info.source.git_uri},
                     {"git_ref", info.source.git_ref},
                     {"git_commit", info.source.git_commit},
                     {"project_path", info.source.project_path},
                     {"entrypoint", info.source.entrypoint}};
  }
  json tags = json::object();
  for (const Tag& t : run.tags) tags[t.key] = t.value;
  out["tags"] = std::move(tags);
  return out;
}

Result<json> RunsLogs(TrackingService& tracking, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string run_id, request.RequiredString("run_id"));
  SOMLIER_ASSIGN_OR_RETURN(auto offset, request.Int("offset", kNonNegative));
  SOMLIER_ASSIGN_OR_RETURN(RunLog log, tracking.lifecycle().ReadLog(run_id, offset.value_or(0)));
  return json{{"run_id", run_id},
              {"status", std::string(ToString(log.status))},
              {"offset", log.next_offset},
              {"text", std::move(log.text)},
              {"ended", log.ended}};
}

Result<json> RunsKill(TrackingService& tracking, const Fields& request) {
  SOMLIER_ASSIGN_OR_RETURN(std::string run_id, request.RequiredString("run_id"));
  SOMLIER_ASSIGN_OR_RETURN(auto given_wait, request.Bool("wait"));
  const bool wait = given_wait.value_or(true);
  SOMLIER_RETURN_IF_ERROR(tracking.lifecycle().Kill(run_id, "killed by `somlier runs kill`"));
  // The executor records the end once the process group is gone (SIGKILL after its grace).
  for (int i = 0; wait && i < 300; ++i) {
    SOMLIER_ASSIGN_OR_RETURN(Run run, tracking.GetRun(run_id));
    if (RunLifecycle::Ended(run.info)) return RunSummary(run);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  SOMLIER_ASSIGN_OR_RETURN(Run run, tracking.GetRun(run_id));
  return RunSummary(run);
}

}  // namespace somlier::api
