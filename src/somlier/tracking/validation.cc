#include "somlier/tracking/validation.h"

#include <fmt/core.h>

#include <cctype>
#include <charconv>

#include "somlier/core/ids.h"
#include "somlier/core/strings.h"

namespace somlier {
namespace {

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == ' ' || c == ':' || c == '/';
}

Result<int64_t> ParseNonNegative(std::string_view text, std::string_view what) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return InvalidArgument(fmt::format("{} '{}' is not a valid {} (expected a whole number)", what,
                                       text, what));
  }
  return value;
}

}  // namespace

Status ValidateKey(std::string_view what, std::string_view key) {
  if (key.empty()) return InvalidArgument(fmt::format("a {} key must not be empty", what));
  if (key.size() > kMaxKeyLength) {
    return InvalidArgument(fmt::format("{} key '{}...' is {} characters long; the limit is {}",
                                       what, key.substr(0, 40), key.size(), kMaxKeyLength));
  }
  for (char c : key) {
    if (!IsKeyChar(c)) {
      return InvalidArgument(fmt::format(
          "{} key '{}' has the character '{}'; keys may only contain letters, digits, '_', "
          "'-', '.', ' ', ':' and '/'",
          what, key, c));
    }
  }
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    const std::string_view segment = key.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return InvalidArgument(fmt::format(
          "{} key '{}' is not a normalised relative path (no leading, trailing or double '/', "
          "no '.' or '..' parts)",
          what, key));
    }
    if (slash == std::string_view::npos) return OkStatus();
    start = slash + 1;
  }
}

Status ValidateLength(std::string_view what, std::string_view value, size_t max) {
  if (value.size() <= max) return OkStatus();
  return InvalidArgument(
      fmt::format("{} is {} characters long; the limit is {}", what, value.size(), max));
}

Status ValidateBatch(const std::vector<Metric>& metrics, const std::vector<Param>& params,
                     const std::vector<Tag>& tags) {
  auto too_many = [](std::string_view what, size_t got, size_t limit) {
    return InvalidArgument(fmt::format(
        "a batch logging request can contain at most {} {}; got {}", limit, what, got));
  };
  if (metrics.size() > kMaxBatchMetrics) return too_many("metrics", metrics.size(), kMaxBatchMetrics);
  if (params.size() > kMaxBatchParams) return too_many("params", params.size(), kMaxBatchParams);
  if (tags.size() > kMaxBatchTags) return too_many("tags", tags.size(), kMaxBatchTags);
  const size_t total = metrics.size() + params.size() + tags.size();
  if (total > kMaxBatchEntities) {
    return too_many("metrics, params and tags together", total, kMaxBatchEntities);
  }
  for (const Metric& m : metrics) {
    SOMLIER_RETURN_IF_ERROR(ValidateKey("metric", m.key));
    if (m.timestamp < 0) {
      return InvalidArgument(
          fmt::format("metric '{}' has the negative timestamp {}", m.key, m.timestamp));
    }
  }
  for (const Param& p : params) {
    SOMLIER_RETURN_IF_ERROR(ValidateKey("param", p.key));
    SOMLIER_RETURN_IF_ERROR(
        ValidateLength(fmt::format("the value of param '{}'", p.key), p.value, kMaxParamValueLength));
  }
  for (const Tag& t : tags) {
    SOMLIER_RETURN_IF_ERROR(ValidateKey("tag", t.key));
    SOMLIER_RETURN_IF_ERROR(
        ValidateLength(fmt::format("the value of tag '{}'", t.key), t.value, kMaxRunTagValueLength));
  }
  return OkStatus();
}

Status ValidateExperimentName(std::string_view name) {
  if (name.empty()) return InvalidArgument("an experiment name must not be empty");
  return ValidateLength(fmt::format("experiment name '{}...'", name.substr(0, 40)), name,
                        kMaxExperimentNameLength);
}

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("a registered model name must not be empty");
  if (name.find('/') != std::string_view::npos || name.find(':') != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "registered model name '{}' must not contain '/' or ':' (they separate parts of model "
        "URIs)",
        name));
  }
  return OkStatus();
}

Status ValidateAlias(std::string_view alias) {
  if (alias.empty()) return InvalidArgument("an alias must not be empty");
  SOMLIER_RETURN_IF_ERROR(ValidateLength(fmt::format("alias '{}'", alias), alias, kMaxAliasLength));
  for (char c : alias) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return InvalidArgument(fmt::format(
          "alias '{}' may only contain letters, digits, '_' and '-'", alias));
    }
  }
  const std::string lower = ToLower(alias);
  bool version_like = lower.size() > 1 && lower[0] == 'v';
  for (size_t i = 1; i < lower.size() && version_like; ++i) {
    version_like = std::isdigit(static_cast<unsigned char>(lower[i]));
  }
  if (lower == "latest" || version_like) {
    return InvalidArgument(fmt::format(
        "alias '{}' is reserved ('latest' and 'v<number>' name versions in model URIs)", alias));
  }
  return OkStatus();
}

Status ValidateMaxResults(int64_t max_results, int64_t limit) {
  if (max_results < 1 || max_results > limit) {
    return InvalidArgument(
        fmt::format("max_results {} is out of range: it must be between 1 and {}", max_results, limit));
  }
  return OkStatus();
}

Status ValidateRunId(std::string_view run_id) {
  if (IsValidRunId(run_id)) return OkStatus();
  return InvalidArgument(
      fmt::format("'{}' is not a run id (expected 32 lowercase hexadecimal digits)", run_id));
}

Result<int64_t> ParseExperimentId(std::string_view text) {
  return ParseNonNegative(text, "experiment id");
}

Result<int64_t> ParseModelVersion(std::string_view text) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t version, ParseNonNegative(text, "model version"));
  if (version < 1) return InvalidArgument("model versions start at 1");
  return version;
}

}  // namespace somlier
