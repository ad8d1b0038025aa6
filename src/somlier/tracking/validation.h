// Validation: MLflow's rules for names, keys, values and request sizes, so that SoMLier
// accepts exactly what an MLflow server accepts (and rejects the rest with a message that
// names the offending value and the limit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/entities.h"

namespace somlier {

inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxRunTagValueLength = 8000;
inline constexpr size_t kMaxTagValueLength = 5000;  // experiment and registry tags
inline constexpr size_t kMaxExperimentNameLength = 500;
inline constexpr size_t kMaxAliasLength = 255;
inline constexpr size_t kMaxBatchMetrics = 1000;
inline constexpr size_t kMaxBatchParams = 100;
inline constexpr size_t kMaxBatchTags = 100;
inline constexpr size_t kMaxBatchEntities = 1000;
inline constexpr int64_t kMaxRunSearchResults = 50000;
inline constexpr int64_t kMaxExperimentSearchResults = 50000;
inline constexpr int64_t kMaxModelSearchResults = 1000;
inline constexpr int64_t kMaxVersionSearchResults = 200000;

// Metric, param and tag keys: letters, digits, '_', '-', '.', ' ', ':' and '/', at most 250
// characters, and a normalised relative path (no empty, "." or ".." segment). `what` names
// the kind of key in the message ("metric", "param", "tag").
Status ValidateKey(std::string_view what, std::string_view key);

Status ValidateLength(std::string_view what, std::string_view value, size_t max);

// Counts (1000 metrics, 100 params, 100 tags, 1000 in all), keys, value lengths and metric
// timestamps (not negative).
Status ValidateBatch(const std::vector<Metric>& metrics, const std::vector<Param>& params,
                     const std::vector<Tag>& tags);

Status ValidateExperimentName(std::string_view name);
Status ValidateModelName(std::string_view name);

// Not empty, letters, digits, '_' and '-', at most 255, not "latest", not "v<digits>".
Status ValidateAlias(std::string_view alias);

// 1 <= max_results <= limit.
Status ValidateMaxResults(int64_t max_results, int64_t limit);

// Run ids are 32 lowercase hex digits.
Status ValidateRunId(std::string_view run_id);

Result<int64_t> ParseExperimentId(std::string_view text);
Result<int64_t> ParseModelVersion(std::string_view text);

}  // namespace somlier
