// MlflowJson: SoMLier's entities in the JSON shapes of MLflow's REST API (protobuf JSON
// with snake_case names; int64 fields as numbers, id fields as strings, enums by name,
// NaN/±Infinity as strings; empty lists and unset optional fields left out).
// Pure functions; include only from .cc files (nlohmann/json is heavy to compile).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "somlier/artifacts/artifact_store.h"
#include "somlier/store/entities.h"

namespace somlier::api {

nlohmann::json ToJson(const Experiment& e);
nlohmann::json ToJson(const RunInfo& info);
nlohmann::json ToJson(const Run& run);  // with "inputs": {"dataset_inputs": [...]}
nlohmann::json ToJson(const DatasetInput& input);
nlohmann::json ToJson(const Metric& m);
nlohmann::json ToJson(const RegisteredModel& m);
nlohmann::json ToJson(const ModelVersion& v);
nlohmann::json ToJson(const ArtifactFile& f);

// A double as protobuf JSON writes it: a number, or "NaN" / "Infinity" / "-Infinity".
nlohmann::json DoubleToJson(double value);

template <typename T>
nlohmann::json ToJsonArray(const std::vector<T>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const T& item : items) out.push_back(ToJson(item));
  return out;
}

}  // namespace somlier::api
