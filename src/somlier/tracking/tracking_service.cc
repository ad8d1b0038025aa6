#include "somlier/tracking/tracking_service.h"

#include <fmt/core.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "somlier/core/ids.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/tracking/run_names.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace {

constexpr std::string_view kUserTag = "mlflow.user";
constexpr std::string_view kModelHistoryTag = "mlflow.log-model.history";

}  // namespace

Status TrackingService::EnsureDefaultExperiment() {
  return store_.EnsureExperiment(0, "Default", ArtifactStore::UriFor("0"));
}

// ---- Experiments ------------------------------------------------------------------------

Result<int64_t> TrackingService::CreateExperiment(const std::string& name,
                                                  const std::string& artifact_location,
                                                  const std::vector<Tag>& tags) {
  SOMLIER_RETURN_IF_ERROR(ValidateExperimentName(name));
  for (const Tag& tag : tags) SOMLIER_RETURN_IF_ERROR(ValidateExperimentTag(tag));
  SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kArtifactLocation, artifact_location));
  std::string location = artifact_location;
  if (location.empty()) {
    location = ArtifactStore::UriFor("{experiment_id}");
  } else if (location.starts_with("runs:") || location.find('#') != std::string::npos ||
             location.find('?') != std::string::npos) {
    return InvalidArgument(fmt::format(
        "artifact_location '{}' must be a plain URI or path (not runs:, no '?' or '#')", location));
  }
  return store_.CreateExperiment(name, location, tags);
}

Result<Experiment> TrackingService::GetExperiment(int64_t experiment_id) {
  return store_.GetExperiment(experiment_id);
}

Result<Experiment> TrackingService::GetExperimentByName(const std::string& name) {
  return store_.GetExperimentByName(name);
}

Result<Experiment> TrackingService::GetOrCreateExperiment(const std::string& name) {
  auto found = store_.GetExperimentByName(name);
  if (found.ok()) {
    if (found->lifecycle_stage != LifecycleStage::kActive) {
      return FailedPrecondition(fmt::format(
          "experiment '{}' is deleted; restore it (experiments/restore) to add runs", name));
    }
    return found;
  }
  if (found.status().code() != StatusCode::kNotFound) return found.status();
  auto created = CreateExperiment(name, "", {});
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
    return created.status();  // AlreadyExists: another caller created it meanwhile
  }
  return store_.GetExperimentByName(name);
}

Result<Page<Experiment>> TrackingService::SearchExperiments(const SearchRequest& r) {
  SOMLIER_ASSIGN_OR_RETURN(SearchPlan plan,
                           PlanSearch(SearchKind::kExperiments, r, kMaxExperimentSearchResults));
  SOMLIER_ASSIGN_OR_RETURN(
      std::vector<Experiment> rows,
      store_.SearchExperiments({r.view, plan.filters, plan.order_by, plan.fetch, plan.offset}));
  return MakePage(std::move(rows), r.max_results, plan.offset);
}

Status TrackingService::RenameExperiment(int64_t experiment_id, const std::string& new_name) {
  SOMLIER_RETURN_IF_ERROR(ValidateExperimentName(new_name));
  SOMLIER_ASSIGN_OR_RETURN(Experiment e, store_.GetExperiment(experiment_id));
  if (e.lifecycle_stage != LifecycleStage::kActive) {
    return FailedPrecondition(
        fmt::format("experiment '{}' is deleted; restore it before renaming it", experiment_id));
  }
  return store_.RenameExperiment(experiment_id, new_name);
}

Status TrackingService::DeleteExperiment(int64_t experiment_id) {
  SOMLIER_ASSIGN_OR_RETURN(Experiment e, store_.GetExperiment(experiment_id));
  if (e.lifecycle_stage != LifecycleStage::kActive) {
    return FailedPrecondition(fmt::format("experiment '{}' is already deleted", experiment_id));
  }
  return store_.SetExperimentLifecycle(experiment_id, LifecycleStage::kDeleted);
}

Status TrackingService::RestoreExperiment(int64_t experiment_id) {
  SOMLIER_ASSIGN_OR_RETURN(Experiment e, store_.GetExperiment(experiment_id));
  if (e.lifecycle_stage != LifecycleStage::kDeleted) {
    return FailedPrecondition(fmt::format("experiment '{}' is not deleted", experiment_id));
  }
  return store_.SetExperimentLifecycle(experiment_id, LifecycleStage::kActive);
}

Status TrackingService::SetExperimentTag(int64_t experiment_id, const Tag& tag) {
  SOMLIER_RETURN_IF_ERROR(ValidateExperimentTag(tag));
  SOMLIER_ASSIGN_OR_RETURN(Experiment e, store_.GetExperiment(experiment_id));
  if (e.lifecycle_stage != LifecycleStage::kActive) {
    return FailedPrecondition(fmt::format("experiment '{}' is deleted", experiment_id));
  }
  return store_.SetExperimentTag(experiment_id, tag);
}

Status TrackingService::DeleteExperimentTag(int64_t experiment_id, const std::string& key) {
  return store_.DeleteExperimentTag(experiment_id, key);
}

// ---- Runs -------------------------------------------------------------------------------

Result<Run> TrackingService::CreateRun(const CreateRunRequest& r) {
  int64_t experiment_id = 0;
  if (!r.experiment_id.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(experiment_id, ParseExperimentId(r.experiment_id));
  }
  SOMLIER_RETURN_IF_ERROR(ValidateRunName(r.run_name));
  SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kUserId, r.user_id));
  std::vector<Tag> tags;
  std::string user = r.user_id;
  std::string name = r.run_name;
  for (const Tag& tag : r.tags) {
    SOMLIER_RETURN_IF_ERROR(ValidateRunTag(tag));
    if (tag.key == kUserTag) {
      SOMLIER_RETURN_IF_ERROR(
          ValidateLength(TextField::kUserId, tag.value, "the mlflow.user tag (the run's user)"));
    }
    if (tag.key == kUserTag && user.empty()) user = tag.value;
    if (tag.key == kRunNameTag) {
      if (!name.empty() && name != tag.value) {
        return InvalidArgument(
            fmt::format("run_name '{}' and the mlflow.runName tag '{}' disagree; give one of them",
                        name, tag.value));
      }
      name = tag.value;
    }
    tags.push_back(tag);
  }
  if (name.empty()) name = NewRunName();
  std::set<std::string> param_keys;
  for (const Param& param : r.params) {
    SOMLIER_RETURN_IF_ERROR(ValidateParam(param));
    if (!param_keys.insert(param.key).second) {
      return InvalidArgument(fmt::format("param '{}' is given twice", param.key));
    }
  }
  SOMLIER_ASSIGN_OR_RETURN(Experiment experiment, store_.GetExperiment(experiment_id));

  RunInfo info;
  info.run_id = NewRunId();
  info.experiment_id = experiment_id;
  info.run_name = name;
  info.status = r.status;
  info.start_time = r.start_time.value_or(NowMillis());
  info.user_id = user;
  info.artifact_uri = fmt::format("{}/{}/artifacts", experiment.artifact_location, info.run_id);
  info.source = r.source;
  info.executor = r.executor;
  SOMLIER_RETURN_IF_ERROR(store_.CreateRun(info, tags, r.params));
  return store_.GetRun(info.run_id);
}

Result<Run> TrackingService::GetRun(const std::string& run_id) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  return store_.GetRun(run_id);
}

Status TrackingService::RequireActiveRun(const std::string& run_id) {
  SOMLIER_ASSIGN_OR_RETURN(Run run, GetRun(run_id));
  if (run.info.lifecycle_stage != LifecycleStage::kActive) {
    return FailedPrecondition(
        fmt::format("run '{}' is deleted; restore it before changing it", run_id));
  }
  return OkStatus();
}

Result<RunInfo> TrackingService::UpdateRun(const std::string& run_id, const RunUpdateRequest& r) {
  if (r.run_name) SOMLIER_RETURN_IF_ERROR(ValidateRunName(*r.run_name));
  SOMLIER_RETURN_IF_ERROR(RequireActiveRun(run_id));
  RunUpdate update;
  update.status = r.status;
  update.end_time = r.end_time;
  if (r.status || r.end_time) {
    // A run SoMLier executes ends when its process does (the executor records it); clients
    // end runs early (`with start_run():` blocks, exit hooks) while the process goes on.
    SOMLIER_ASSIGN_OR_RETURN(Run current, store_.GetRun(run_id));
    const RunStatus now = current.info.status;
    if (!current.info.executor.empty() &&
        (now == RunStatus::kScheduled || now == RunStatus::kRunning)) {
      update.status.reset();
      update.end_time.reset();
    }
  }
  if (r.run_name && !r.run_name->empty()) update.run_name = r.run_name;
  SOMLIER_RETURN_IF_ERROR(store_.UpdateRun(run_id, update));
  SOMLIER_ASSIGN_OR_RETURN(Run run, store_.GetRun(run_id));
  return run.info;
}

Status TrackingService::DeleteRun(const std::string& run_id) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  return store_.SetRunLifecycle(run_id, LifecycleStage::kDeleted);
}

Status TrackingService::RestoreRun(const std::string& run_id) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  return store_.SetRunLifecycle(run_id, LifecycleStage::kActive);
}

Result<Page<Run>> TrackingService::SearchRuns(const std::vector<int64_t>& experiment_ids,
                                              const SearchRequest& r, bool with_inputs) {
  if (experiment_ids.empty()) {
    return InvalidArgument("searching runs needs at least one experiment id");
  }
  SOMLIER_ASSIGN_OR_RETURN(SearchPlan plan, PlanSearch(SearchKind::kRuns, r, kMaxRunSearchResults));
  RunQuery query{experiment_ids, r.view, plan.filters, plan.order_by, plan.fetch, plan.offset};
  query.with_inputs = with_inputs;
  query.max_input_chars = kMaxRunSearchInputChars;
  bool cut_short = false;
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Run> rows, store_.SearchRuns(query, &cut_short));
  if (cut_short) {
    // Fewer runs than asked for, whose datasets fit one answer: the next page follows them.
    Page<Run> page;
    page.next_page_token = EncodePageToken(plan.offset + static_cast<int64_t>(rows.size()));
    page.items = std::move(rows);
    return page;
  }
  return MakePage(std::move(rows), r.max_results, plan.offset);
}

Status TrackingService::LogBatch(const std::string& run_id, const std::vector<Metric>& metrics,
                                 const std::vector<Param>& params, const std::vector<Tag>& tags) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  SOMLIER_RETURN_IF_ERROR(ValidateBatch(metrics, params, tags));
  return store_.LogBatch(run_id, metrics, params, tags);
}

Status TrackingService::LogInputs(const std::string& run_id,
                                  const std::vector<DatasetInput>& inputs) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  SOMLIER_RETURN_IF_ERROR(ValidateDatasetInputs(inputs));
  return store_.LogInputs(run_id, inputs);
}

Status TrackingService::DeleteTag(const std::string& run_id, const std::string& key) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  return store_.DeleteRunTag(run_id, key);
}

Result<std::vector<Metric>> TrackingService::GetMetricHistory(const std::string& run_id,
                                                              const std::string& key) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  return store_.GetMetricHistory(run_id, key);
}

Status TrackingService::LogModel(const std::string& run_id, const std::string& model_json) {
  SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kLoggedModel, model_json));
  auto model = ParseJsonOrNull(model_json);
  if (!model.is_object()) {
    return InvalidArgument("model_json must be a JSON object (the MLmodel file as JSON)");
  }
  for (const char* field : {"artifact_path", "flavors", "utc_time_created", "run_id"}) {
    if (!model.contains(field)) {
      return InvalidArgument(fmt::format("model_json has no '{}' field", field));
    }
  }
  SOMLIER_RETURN_IF_ERROR(RequireActiveRun(run_id));
  SOMLIER_ASSIGN_OR_RETURN(Run run, store_.GetRun(run_id));
  nlohmann::json history = nlohmann::json::array();
  for (const Tag& tag : run.tags) {
    if (tag.key != kModelHistoryTag) continue;
    history = ParseJsonOrNull(tag.value);
    if (!history.is_array()) history = nlohmann::json::array();
  }
  history.push_back(model);
  std::string value = history.dump();
  SOMLIER_RETURN_IF_ERROR(
      ValidateLength(TextField::kLoggedModelHistory, value,
                     fmt::format("the history of the models run '{}' logged ({} models)", run_id,
                                 history.size())));
  return store_.LogBatch(run_id, {}, {}, {{std::string(kModelHistoryTag), std::move(value)}});
}

// ---- Run artifacts ----------------------------------------------------------------------

Result<std::string> TrackingService::RunArtifactDirectory(const RunInfo& info) {
  auto relative = artifacts_.RelativePathOf(info.artifact_uri);
  if (relative.ok()) return relative;
  return FailedPrecondition(
      fmt::format("the artifacts of run '{}' are stored at '{}', which this server does not serve",
                  info.run_id, info.artifact_uri));
}

Result<std::vector<ArtifactFile>> TrackingService::ListRunArtifacts(const std::string& run_id,
                                                                    const std::string& path) {
  SOMLIER_ASSIGN_OR_RETURN(Run run, GetRun(run_id));
  SOMLIER_ASSIGN_OR_RETURN(std::string root, RunArtifactDirectory(run.info));
  std::string_view sub = path;
  while (sub.starts_with("/")) sub.remove_prefix(1);
  const std::string dir = sub.empty() ? root : root + "/" + std::string(sub);
  SOMLIER_ASSIGN_OR_RETURN(std::vector<ArtifactFile> files, artifacts_.List(dir));
  for (ArtifactFile& f : files) f.path = f.path.substr(root.size() + 1);
  return files;
}

// ---- The seed's search ------------------------------------------------------------------

Result<std::vector<RankedRun>> TrackingService::BestRuns(const std::string& project_name,
                                                         const std::string& metric,
                                                         const std::string& order, int64_t top) {
  const std::string direction = ToUpper(order);
  if (direction != "ASC" && direction != "DESC") {
    return InvalidArgument(fmt::format("ORDER_BY '{}' must be ASC or DESC", order));
  }
  SOMLIER_RETURN_IF_ERROR(ValidateKey("metric", metric));
  if (top < 1) return InvalidArgument(fmt::format("top {} must be at least 1", top));
  auto experiment = store_.GetExperimentByName(project_name);
  if (experiment.status().code() == StatusCode::kNotFound) {
    return NotFound(
        fmt::format("project '{}' does not exist (no experiment has that name)", project_name));
  }
  SOMLIER_RETURN_IF_ERROR(experiment.status());

  RunQuery query;  // without inputs: ranks show none
  query.experiment_ids = {experiment->experiment_id};
  query.filters = {{FieldKind::kMetric, metric, CompareOp::kExists, {}}};
  query.order_by = {{FieldKind::kMetric, metric, direction == "ASC"}};
  query.max_results = top;
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Run> runs, store_.SearchRuns(query));
  if (runs.empty()) {
    RunQuery any;
    any.experiment_ids = query.experiment_ids;
    any.max_results = 1;
    SOMLIER_ASSIGN_OR_RETURN(std::vector<Run> some, store_.SearchRuns(any));
    if (some.empty()) return NotFound(fmt::format("project '{}' has no runs", project_name));
    return InvalidArgument(
        fmt::format("no run of project '{}' has the metric '{}'", project_name, metric));
  }
  std::vector<RankedRun> out;
  for (Run& run : runs) {
    double value = std::nan("");
    for (const Metric& m : run.metrics) {
      if (m.key == metric) value = m.value;
    }
    out.push_back({std::move(run), value});
  }
  return out;
}

}  // namespace somlier
