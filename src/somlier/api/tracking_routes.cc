// MLflow's tracking endpoints (service.proto), on TrackingService.
#include <fmt/core.h>

#include "somlier/api/error_answers.h"
#include "somlier/api/log_batch_parser.h"
#include "somlier/api/mlflow_json.h"
#include "somlier/api/mlflow_router.h"
#include "somlier/api/routes.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/tracking/validation.h"

namespace somlier::api {
namespace {

using nlohmann::json;

Result<ViewType> ParseViewType(const Fields& f, std::string_view name) {
  SOMLIER_ASSIGN_OR_RETURN(std::string text, f.String(name, "ACTIVE_ONLY"));
  const std::string upper = ToUpper(text);
  if (upper == "ACTIVE_ONLY" || upper == "1") return ViewType::kActiveOnly;
  if (upper == "DELETED_ONLY" || upper == "2") return ViewType::kDeletedOnly;
  if (upper == "ALL" || upper == "3") return ViewType::kAll;
  return InvalidArgument(
      fmt::format("{} '{}' is not one of ACTIVE_ONLY, DELETED_ONLY, ALL", name, text));
}

Result<RunStatus> ParseStatus(const std::string& text) {
  static const char* kByNumber[] = {"", "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};
  std::string upper = ToUpper(text);
  if (upper.size() == 1 && upper[0] >= '1' && upper[0] <= '5') upper = kByNumber[upper[0] - '0'];
  if (auto status = ParseRunStatus(upper)) return *status;
  return InvalidArgument(
      fmt::format("status '{}' is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED", text));
}

Result<SearchRequest> ReadSearch(const Fields& f, std::string_view view_field,
                                 int64_t default_max) {
  SearchRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.filter, f.String("filter"));
  SOMLIER_ASSIGN_OR_RETURN(r.order_by, f.StringList("order_by"));
  SOMLIER_ASSIGN_OR_RETURN(auto max, f.Int("max_results"));
  r.max_results = max.value_or(default_max);
  SOMLIER_ASSIGN_OR_RETURN(r.page_token, f.String("page_token"));
  if (!view_field.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(r.view, ParseViewType(f, view_field));
  }
  return r;
}

Result<int64_t> ExperimentId(const Fields& f) {
  SOMLIER_ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
  return ParseExperimentId(id);
}

// MLflow clients send both run_id and the deprecated run_uuid.
Result<std::string> RunId(const Fields& f) {
  SOMLIER_ASSIGN_OR_RETURN(std::string id, f.String("run_id"));
  if (id.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(id, f.String("run_uuid"));
  }
  if (id.empty()) return f.RequiredString("run_id");
  return id;
}

// LogInputs' datasets: [{tags: [{key, value}], dataset: {name, digest, source_type, source,
// schema?, profile?}}] (required, as MLflow's server has it; may be empty). The service
// checks what MLflow checks of the values (tracking/validation.h).
Result<std::vector<DatasetInput>> ReadDatasetInputs(const Fields& f) {
  if (!f.Has("datasets")) return f.RequiredString("datasets").status();
  SOMLIER_ASSIGN_OR_RETURN(std::vector<Fields> items, f.ObjectList("datasets"));
  std::vector<DatasetInput> out;
  out.reserve(items.size());
  for (const Fields& item : items) {
    SOMLIER_ASSIGN_OR_RETURN(std::vector<Tag> tags, item.TagList("tags"));
    SOMLIER_ASSIGN_OR_RETURN(std::optional<Fields> dataset, item.Object("dataset"));
    if (!dataset) return item.RequiredString("dataset").status();
    Dataset d;
    SOMLIER_ASSIGN_OR_RETURN(d.name, dataset->RequiredString("name"));
    SOMLIER_ASSIGN_OR_RETURN(d.digest, dataset->RequiredString("digest"));
    SOMLIER_ASSIGN_OR_RETURN(d.source_type, dataset->RequiredString("source_type"));
    SOMLIER_ASSIGN_OR_RETURN(d.source, dataset->RequiredString("source"));
    SOMLIER_ASSIGN_OR_RETURN(d.schema, dataset->String("schema"));
    SOMLIER_ASSIGN_OR_RETURN(d.profile, dataset->String("profile"));
    out.emplace_back(std::move(d), std::move(tags));
  }
  return out;
}

template <typename T>
json PageJson(const Page<T>& page, const char* items_key) {
  json out = json::object();
  if (!page.items.empty()) out[items_key] = ToJsonArray(page.items);
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

}  // namespace

void AddTrackingRoutes(MlflowRouter& router, TrackingService& t) {
  // ---- Experiments ----
  AddMlflowRoute(router, Method::kPost, "/experiments/create",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string location, f.String("artifact_location"));
                   SOMLIER_ASSIGN_OR_RETURN(std::vector<Tag> tags, f.TagList("tags"));
                   SOMLIER_ASSIGN_OR_RETURN(int64_t id, t.CreateExperiment(name, location, tags));
                   return json{{"experiment_id", std::to_string(id)}};
                 });
  AddMlflowRoute(router, Method::kGet, "/experiments/get", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(int64_t id, ExperimentId(f));
    SOMLIER_ASSIGN_OR_RETURN(Experiment e, t.GetExperiment(id));
    return json{{"experiment", ToJson(e)}};
  });
  AddMlflowRoute(router, Method::kGet, "/experiments/get-by-name",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("experiment_name"));
                   SOMLIER_ASSIGN_OR_RETURN(Experiment e, t.GetExperimentByName(name));
                   return json{{"experiment", ToJson(e)}};
                 });
  auto search_experiments = [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(SearchRequest r, ReadSearch(f, "view_type", 1000));
    SOMLIER_ASSIGN_OR_RETURN(Page<Experiment> page, t.SearchExperiments(r));
    return PageJson(page, "experiments");
  };
  AddMlflowRoute(router, Method::kPost, "/experiments/search", search_experiments);
  AddMlflowRoute(router, Method::kGet, "/experiments/search", search_experiments);
  AddMlflowRoute(router, Method::kPost, "/experiments/update",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(int64_t id, ExperimentId(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("new_name"));
                   SOMLIER_RETURN_IF_ERROR(t.RenameExperiment(id, name));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kPost, "/experiments/delete",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(int64_t id, ExperimentId(f));
                   SOMLIER_RETURN_IF_ERROR(t.DeleteExperiment(id));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kPost, "/experiments/restore",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(int64_t id, ExperimentId(f));
                   SOMLIER_RETURN_IF_ERROR(t.RestoreExperiment(id));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kPost, "/experiments/set-experiment-tag",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(int64_t id, ExperimentId(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string value, f.String("value"));
                   SOMLIER_RETURN_IF_ERROR(t.SetExperimentTag(id, {key, value}));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kPost, "/experiments/delete-experiment-tag",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(int64_t id, ExperimentId(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_RETURN_IF_ERROR(t.DeleteExperimentTag(id, key));
                   return json::object();
                 });

  // ---- Runs ----
  AddMlflowRoute(router, Method::kPost, "/runs/create", [&t](const Fields& f) -> Result<json> {
    CreateRunRequest r;
    SOMLIER_ASSIGN_OR_RETURN(r.experiment_id, f.String("experiment_id"));
    SOMLIER_ASSIGN_OR_RETURN(r.user_id, f.String("user_id"));
    SOMLIER_ASSIGN_OR_RETURN(r.run_name, f.String("run_name"));
    SOMLIER_ASSIGN_OR_RETURN(r.start_time, f.Int("start_time", kNonNegative));
    SOMLIER_ASSIGN_OR_RETURN(r.tags, f.TagList("tags"));
    SOMLIER_ASSIGN_OR_RETURN(Run run, t.CreateRun(r));
    return json{{"run", ToJson(run)}};
  });
  AddMlflowRoute(router, Method::kGet, "/runs/get", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_ASSIGN_OR_RETURN(Run run, t.GetRun(id));
    return json{{"run", ToJson(run)}};
  });
  AddMlflowRoute(router, Method::kPost, "/runs/update", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    RunUpdateRequest r;
    SOMLIER_ASSIGN_OR_RETURN(std::string status, f.String("status"));
    if (!status.empty()) {
      SOMLIER_ASSIGN_OR_RETURN(r.status, ParseStatus(status));
    }
    SOMLIER_ASSIGN_OR_RETURN(r.end_time, f.Int("end_time", kNonNegative));
    if (f.Has("run_name")) {
      SOMLIER_ASSIGN_OR_RETURN(r.run_name, f.String("run_name"));
    }
    SOMLIER_ASSIGN_OR_RETURN(RunInfo info, t.UpdateRun(id, r));
    return json{{"run_info", ToJson(info)}};
  });
  AddMlflowRoute(router, Method::kPost, "/runs/delete", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_RETURN_IF_ERROR(t.DeleteRun(id));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/restore", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_RETURN_IF_ERROR(t.RestoreRun(id));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/search", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(SearchRequest r, ReadSearch(f, "run_view_type", 1000));
    SOMLIER_ASSIGN_OR_RETURN(std::vector<std::string> ids, f.StringList("experiment_ids"));
    std::vector<int64_t> experiment_ids;
    for (const std::string& id : ids) {
      SOMLIER_ASSIGN_OR_RETURN(int64_t parsed, ParseExperimentId(id));
      experiment_ids.push_back(parsed);
    }
    SOMLIER_ASSIGN_OR_RETURN(Page<Run> page, t.SearchRuns(experiment_ids, r, /*with_inputs=*/true));
    return PageJson(page, "runs");
  });
  AddMlflowRoute(router, Method::kPost, "/runs/log-metric", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    Metric m;
    SOMLIER_ASSIGN_OR_RETURN(m.key, f.RequiredString("key"));
    SOMLIER_ASSIGN_OR_RETURN(auto value, f.Double("value"));
    if (!value) return f.RequiredString("value").status();
    m.value = *value;
    SOMLIER_ASSIGN_OR_RETURN(auto timestamp, f.Int("timestamp", kNonNegative));
    m.timestamp = timestamp.value_or(NowMillis());
    SOMLIER_ASSIGN_OR_RETURN(auto step, f.Int("step"));
    m.step = step.value_or(0);
    SOMLIER_RETURN_IF_ERROR(t.LogBatch(id, {m}, {}, {}));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/log-parameter",
                 [&t](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string value, f.String("value"));
                   SOMLIER_RETURN_IF_ERROR(t.LogBatch(id, {}, {{key, value}}, {}));
                   return json::object();
                 });
  router.AddBody("/runs/log-batch", [&t](std::string_view body) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(LogBatchRequest r, ParseLogBatch(body));
    SOMLIER_RETURN_IF_ERROR(t.LogBatch(r.run_id, r.metrics, r.params, r.tags));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/set-tag", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
    SOMLIER_ASSIGN_OR_RETURN(std::string value, f.String("value"));
    SOMLIER_RETURN_IF_ERROR(t.LogBatch(id, {}, {}, {{key, value}}));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/delete-tag", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
    SOMLIER_RETURN_IF_ERROR(t.DeleteTag(id, key));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/log-inputs", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_ASSIGN_OR_RETURN(std::vector<DatasetInput> inputs, ReadDatasetInputs(f));
    SOMLIER_RETURN_IF_ERROR(t.LogInputs(id, inputs));
    return json::object();
  });
  AddMlflowRoute(router, Method::kPost, "/runs/log-model", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_ASSIGN_OR_RETURN(std::string model_json, f.RequiredString("model_json"));
    SOMLIER_RETURN_IF_ERROR(t.LogModel(id, model_json));
    return json::object();
  });
  AddMlflowRoute(
      router, Method::kGet, "/metrics/get-history", [&t](const Fields& f) -> Result<json> {
        SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
        SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("metric_key"));
        SOMLIER_ASSIGN_OR_RETURN(std::vector<Metric> history, t.GetMetricHistory(id, key));
        json out = json::object();
        if (!history.empty()) out["metrics"] = ToJsonArray(history);
        return out;
      });
  AddMlflowRoute(router, Method::kGet, "/artifacts/list", [&t](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string id, RunId(f));
    SOMLIER_ASSIGN_OR_RETURN(std::string path, f.String("path"));
    SOMLIER_ASSIGN_OR_RETURN(Run run, t.GetRun(id));
    SOMLIER_ASSIGN_OR_RETURN(std::vector<ArtifactFile> files, t.ListRunArtifacts(id, path));
    json out = {{"root_uri", run.info.artifact_uri}};
    if (!files.empty()) out["files"] = ToJsonArray(files);
    return out;
  });
}

}  // namespace somlier::api
