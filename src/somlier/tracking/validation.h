// Validation: MLflow's rules for names, keys, values and request sizes, so that SoMLier
// accepts exactly what an MLflow server accepts (and rejects the rest with a message that
// names the offending value and the limit).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/entities.h"

namespace somlier {

// ---- Length limits ----------------------------------------------------------------------
//
// Every limit on the length of a string the tracking and registry services store, in this
// one table. The services check them before they write anything, so every door — the MLflow
// REST API, log-batch's fast parser, the seed's endpoints, the CLI in-process — gets the same
// limits, and a request with one value too long changes nothing. MLflow's limits where it
// has them (mlflow/utils/validation.py, and the column sizes of its SQL schema where it has
// no constant); ours where it has none. Lengths count characters (UTF-8 code points), as
// MLflow (Python str) and VARCHAR(n) columns do.
enum class TextField {
  kKey,                 // metric, param and tag keys (runs, experiments, registry)
  kParamValue,          // a run's param values
  kRunTagValue,         // also a run's description (the mlflow.note.content tag)
  kExperimentTagValue,  // also an experiment's description
  kRegistryTagValue,    // registered model and model version tags
  kExperimentName,      // experiment names
  kArtifactLocation,    // an experiment's artifact_location
  kRunName,             // also the mlflow.runName tag, which names the run
  kUserId,              // a run's or model version's user
  kModelName,           // registered model names
  kAlias,               // registered model aliases
  kModelDescription,    // registered model and model version descriptions
  kModelSource,         // a model version's source URI
  kRunLink,             // a model version's run_link
  kLoggedModel,         // one runs/log-model model_json
  kLoggedModelHistory,  // the mlflow.log-model.history tag those accumulate in
  kDatasetName,         // a dataset input's dataset: name, digest, source_type, ...
  kDatasetDigest,
  kDatasetSourceType,
  kDatasetSource,
  kDatasetSchema,
  kDatasetProfile,
  kInputTagKey,  // a dataset input's tags (e.g. mlflow.data.context)
  kInputTagValue,
};

struct TextLimit {
  TextField field;
  std::string_view name;    // how errors name the field
  size_t max_length;        // in characters
  std::string_view origin;  // where the number comes from
};

inline constexpr TextLimit kTextLimits[] = {
    {TextField::kKey, "key", 250, "MLflow MAX_ENTITY_KEY_LENGTH"},
    {TextField::kParamValue, "param value", 6000,
     "MLflow MAX_PARAM_VAL_LENGTH (since 2.8; 500 from 1.28, 250 before)"},
    {TextField::kRunTagValue, "tag value", 8000,
     "MLflow MAX_TAG_VAL_LENGTH (5000 in older versions)"},
    {TextField::kExperimentTagValue, "experiment tag value", 5000,
     "MLflow MAX_EXPERIMENT_TAG_VAL_LENGTH"},
    {TextField::kRegistryTagValue, "registry tag value", 5000,
     "MLflow MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH"},
    {TextField::kExperimentName, "experiment name", 500, "MLflow MAX_EXPERIMENT_NAME_LENGTH"},
    {TextField::kArtifactLocation, "artifact_location", 2048,
     "MLflow MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH's default"},
    {TextField::kRunName, "run name", 250, "MLflow's runs.name column, VARCHAR(250)"},
    {TextField::kUserId, "user_id", 256, "MLflow's user_id columns, VARCHAR(256)"},
    {TextField::kModelName, "registered model name", 256,
     "MLflow's registered_models.name column, VARCHAR(256)"},
    {TextField::kAlias, "alias", 255, "MLflow MAX_REGISTERED_MODEL_ALIAS_LENGTH"},
    {TextField::kModelDescription, "description", 5000,
     "MLflow's registry description columns, VARCHAR(5000)"},
    {TextField::kModelSource, "model version source", 500,
     "MLflow's model_versions.source column, VARCHAR(500)"},
    {TextField::kRunLink, "run_link", 500, "MLflow's model_versions.run_link, VARCHAR(500)"},
    {TextField::kLoggedModel, "model_json", 100000, "SoMLier (an MLmodel file as JSON)"},
    {TextField::kLoggedModelHistory, "logged model history", 1000000,
     "SoMLier (log-batch's request size)"},
    {TextField::kDatasetName, "dataset name", 500, "MLflow MAX_DATASET_NAME_SIZE"},
    {TextField::kDatasetDigest, "dataset digest", 36, "MLflow MAX_DATASET_DIGEST_SIZE"},
    {TextField::kDatasetSourceType, "dataset source_type", 36,
     "MLflow's datasets.dataset_source_type column, VARCHAR(36)"},
    {TextField::kDatasetSource, "dataset source", 65535, "MLflow MAX_DATASET_SOURCE_SIZE"},
    {TextField::kDatasetSchema, "dataset schema", 1048575, "MLflow MAX_DATASET_SCHEMA_SIZE"},
    {TextField::kDatasetProfile, "dataset profile", 16777215, "MLflow MAX_DATASET_PROFILE_SIZE"},
    {TextField::kInputTagKey, "input tag key", 255, "MLflow MAX_INPUT_TAG_KEY_SIZE"},
    {TextField::kInputTagValue, "input tag value", 500, "MLflow MAX_INPUT_TAG_VALUE_SIZE"},
};

// The limit of `field` in kTextLimits.
constexpr const TextLimit& LimitOf(TextField field) {
  for (const TextLimit& limit : kTextLimits) {
    if (limit.field == field) return limit;
  }
  return kTextLimits[0];  // unreachable: every field has a row (checked by a test)
}

// The run tag that holds a run's name.
inline constexpr std::string_view kRunNameTag = "mlflow.runName";

inline constexpr size_t kMaxKeyLength = LimitOf(TextField::kKey).max_length;
inline constexpr size_t kMaxBatchMetrics = 1000;
inline constexpr size_t kMaxBatchParams = 100;
inline constexpr size_t kMaxBatchTags = 100;
inline constexpr size_t kMaxBatchEntities = 1000;
inline constexpr size_t kMaxBatchDatasets = 1000;  // MLflow MAX_DATASETS_PER_BATCH
// The input tags of one log-inputs request, all datasets together: MLflow sets no limit;
// SoMLier's is log-batch's (MLflow MAX_ENTITIES_PER_BATCH).
inline constexpr size_t kMaxBatchInputTags = 1000;
inline constexpr int64_t kMaxRunSearchResults = 50000;
inline constexpr int64_t kMaxExperimentSearchResults = 50000;
inline constexpr int64_t kMaxModelSearchResults = 1000;
inline constexpr int64_t kMaxVersionSearchResults = 200000;
// About 64 MiB: the characters of datasets one page of MLflow's runs/search may carry,
// counting each run's copy (RunQuery::max_input_chars); a page that would carry more ends
// early, with a next_page_token.
inline constexpr int64_t kMaxRunSearchInputChars = int64_t{64} << 20;

// The number of characters (UTF-8 code points) in `text`.
size_t CharacterCount(std::string_view text);

// The start of `text` for a message: at most 40 characters, then "..." when cut.
std::string Preview(std::string_view text);

// OK when `value` is at most the limit of `field`; else InvalidArgument "<what> is N
// characters long; the limit is M", `what` saying which value it is ("the value of param
// 'lr'", "run name 'grid-...'"), or the table's name for the field when empty.
Status ValidateLength(TextField field, std::string_view value, std::string_view what = "");

// The same, with `describe()` making `what` only for an error: nothing is formatted for the
// values that pass (log-batch's keys and values are the ingest hot path).
template <std::invocable Describe>
Status ValidateLength(TextField field, std::string_view value, Describe&& describe) {
  if (value.size() <= LimitOf(field).max_length) return OkStatus();  // bytes >= characters
  const std::string what = describe();
  return ValidateLength(field, value, std::string_view(what));
}

// Metric, param and tag keys: letters, digits, '_', '-', '.', ' ', ':' and '/', at most 250
// characters, and a normalised relative path (no empty, "." or ".." segment). `what` names
// the kind of key in the message ("metric", "param", "tag").
Status ValidateKey(std::string_view what, std::string_view key);

// A param's key and value; a run tag's key and value (the mlflow.runName tag's as a run
// name); an experiment tag's; a registered model or model version tag's (`what` names which).
Status ValidateParam(const Param& param);
Status ValidateRunTag(const Tag& tag);
Status ValidateExperimentTag(const Tag& tag);
Status ValidateRegistryTag(std::string_view what, const Tag& tag);

// Counts (1000 metrics, 100 params, 100 tags, 1000 in all), keys, value lengths and metric
// timestamps (not negative).
Status ValidateBatch(const std::vector<Metric>& metrics, const std::vector<Param>& params,
                     const std::vector<Tag>& tags);

// A log-inputs request: at most 1000 dataset inputs and 1000 input tags in all; each
// dataset's name, digest, source_type and source given (not empty); every field and input
// tag within its length and without NUL bytes (PostgreSQL's text cannot hold them); input
// tag keys not empty. Errors name the field as the request does
// ("datasets[2].dataset.digest").
Status ValidateDatasetInputs(const std::vector<DatasetInput>& inputs);

// Not empty, at most 500 characters.
Status ValidateExperimentName(std::string_view name);
// Not empty, at most 256 characters, no '/' or ':'.
Status ValidateModelName(std::string_view name);
// At most 250 characters (empty: a name is generated).
Status ValidateRunName(std::string_view name);

// Not empty, letters, digits, '_' and '-', at most 255, not "latest", not "v<digits>".
Status ValidateAlias(std::string_view alias);

// 1 <= max_results <= limit.
Status ValidateMaxResults(int64_t max_results, int64_t limit);

// Run ids are 32 lowercase hex digits.
Status ValidateRunId(std::string_view run_id);

Result<int64_t> ParseExperimentId(std::string_view text);
Result<int64_t> ParseModelVersion(std::string_view text);

}  // namespace somlier
