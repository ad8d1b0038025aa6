#include "somlier/api/mlflow_json.h"

#include <cmath>
#include <cstdlib>

namespace somlier::api {
namespace {

using nlohmann::json;

json TagsJson(const std::vector<Tag>& tags) {
  json out = json::array();
  for (const Tag& t : tags) out.push_back({{"key", t.key}, {"value", t.value}});
  return out;
}

// Sets `key` to `value` unless the list is empty (protobuf JSON leaves empty lists out).
void SetList(json& object, const char* key, json value) {
  if (!value.empty()) object[key] = std::move(value);
}

}  // namespace

json DoubleToJson(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

json ToJson(const Experiment& e) {
  json out = {{"experiment_id", std::to_string(e.experiment_id)},
              {"name", e.name},
              {"artifact_location", e.artifact_location},
              {"lifecycle_stage", std::string(ToString(e.lifecycle_stage))},
              {"last_update_time", e.last_update_time},
              {"creation_time", e.creation_time}};
  SetList(out, "tags", TagsJson(e.tags));
  return out;
}

json ToJson(const RunInfo& info) {
  json out = {{"run_id", info.run_id},
              {"run_uuid", info.run_id},
              {"experiment_id", std::to_string(info.experiment_id)},
              {"user_id", info.user_id},
              {"status", std::string(ToString(info.status))},
              {"lifecycle_stage", std::string(ToString(info.lifecycle_stage))}};
  if (!info.run_name.empty()) out["run_name"] = info.run_name;
  if (info.start_time) out["start_time"] = *info.start_time;
  if (info.end_time) out["end_time"] = *info.end_time;
  if (!info.artifact_uri.empty()) out["artifact_uri"] = info.artifact_uri;
  return out;
}

json ToJson(const Metric& m) {
  return {{"key", m.key},
          {"value", DoubleToJson(m.value)},
          {"timestamp", m.timestamp},
          {"step", m.step}};
}

json ToJson(const DatasetInput& input) {
  // Runs that used one dataset share it (Store); each run's answer carries its own copy.
  const Dataset& d = *input.dataset;
  json dataset = {
      {"name", d.name}, {"digest", d.digest}, {"source_type", d.source_type}, {"source", d.source}};
  if (!d.schema.empty()) dataset["schema"] = d.schema;
  if (!d.profile.empty()) dataset["profile"] = d.profile;
  json out = json::object();
  SetList(out, "tags", TagsJson(input.tags));
  out["dataset"] = std::move(dataset);
  return out;
}

json ToJson(const Run& run) {
  json data = json::object();
  SetList(data, "metrics", ToJsonArray(run.metrics));
  json params = json::array();
  for (const Param& p : run.params) params.push_back({{"key", p.key}, {"value", p.value}});
  SetList(data, "params", std::move(params));
  SetList(data, "tags", TagsJson(run.tags));
  // MLflow's answers carry "inputs" always: {} for a run without dataset inputs.
  json inputs = json::object();
  SetList(inputs, "dataset_inputs", ToJsonArray(run.inputs));
  return {{"info", ToJson(run.info)}, {"data", std::move(data)}, {"inputs", std::move(inputs)}};
}

json ToJson(const ModelVersion& v) {
  json out = {{"name", v.name},
              {"version", std::to_string(v.version)},
              {"creation_timestamp", v.creation_time},
              {"last_updated_timestamp", v.last_updated_time},
              {"user_id", v.user_id},
              {"current_stage", v.current_stage},
              {"description", v.description},
              {"source", v.source},
              {"run_id", v.run_id},
              {"status", v.status}};
  if (!v.run_link.empty()) out["run_link"] = v.run_link;
  if (!v.status_message.empty()) out["status_message"] = v.status_message;
  SetList(out, "tags", TagsJson(v.tags));
  SetList(out, "aliases", json(v.aliases));
  return out;
}

json ToJson(const RegisteredModel& m) {
  json out = {{"name", m.name},
              {"creation_timestamp", m.creation_time},
              {"last_updated_timestamp", m.last_updated_time}};
  if (!m.description.empty()) out["description"] = m.description;
  SetList(out, "latest_versions", ToJsonArray(m.latest_versions));
  SetList(out, "tags", TagsJson(m.tags));
  json aliases = json::array();
  for (const ModelAlias& a : m.aliases) {
    aliases.push_back({{"alias", a.alias}, {"version", std::to_string(a.version)}});
  }
  SetList(out, "aliases", std::move(aliases));
  return out;
}

json ToJson(const ArtifactFile& f) {
  json out = {{"path", f.path}, {"is_dir", f.is_dir}};
  if (!f.is_dir) out["file_size"] = f.size;
  return out;
}

}  // namespace somlier::api
