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
    return InvalidArgument(
        fmt::format("{} '{}' is not a valid {} (expected a whole number)", what, text, what));
  }
  return value;
}

}  // namespace

size_t CharacterCount(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

std::string Preview(std::string_view text) {
  constexpr size_t kShown = 40;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && chars++ == kShown) {
      return std::string(text.substr(0, i)) + "...";
    }
  }
  return std::string(text);
}

Status ValidateLength(TextField field, std::string_view value, std::string_view what) {
  const TextLimit& limit = LimitOf(field);
  // Bytes bound characters from above: most values need no count.
  if (value.size() <= limit.max_length) return OkStatus();
  const size_t length = CharacterCount(value);
  if (length <= limit.max_length) return OkStatus();
  return InvalidArgument(fmt::format("{} is {} characters long; the limit is {}",
                                     what.empty() ? limit.name : what, length, limit.max_length));
}

Status ValidateKey(std::string_view what, std::string_view key) {
  if (key.empty()) return InvalidArgument(fmt::format("a {} key must not be empty", what));
  SOMLIER_RETURN_IF_ERROR(ValidateLength(
      TextField::kKey, key, [&] { return fmt::format("{} key '{}'", what, Preview(key)); }));
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

Status ValidateBatch(const std::vector<Metric>& metrics, const std::vector<Param>& params,
                     const std::vector<Tag>& tags) {
  auto too_many = [](std::string_view what, size_t got, size_t limit) {
    return InvalidArgument(
        fmt::format("a batch logging request can contain at most {} {}; got {}", limit, what, got));
  };
  if (metrics.size() > kMaxBatchMetrics)
    return too_many("metrics", metrics.size(), kMaxBatchMetrics);
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
  for (const Param& p : params) SOMLIER_RETURN_IF_ERROR(ValidateParam(p));
  for (const Tag& t : tags) SOMLIER_RETURN_IF_ERROR(ValidateRunTag(t));
  return OkStatus();
}

Status ValidateParam(const Param& param) {
  SOMLIER_RETURN_IF_ERROR(ValidateKey("param", param.key));
  return ValidateLength(TextField::kParamValue, param.value,
                        [&] { return fmt::format("the value of param '{}'", param.key); });
}

Status ValidateRunTag(const Tag& tag) {
  SOMLIER_RETURN_IF_ERROR(ValidateKey("tag", tag.key));
  if (tag.key == kRunNameTag) return ValidateRunName(tag.value);
  return ValidateLength(TextField::kRunTagValue, tag.value,
                        [&] { return fmt::format("the value of tag '{}'", tag.key); });
}

Status ValidateExperimentTag(const Tag& tag) {
  SOMLIER_RETURN_IF_ERROR(ValidateKey("experiment tag", tag.key));
  return ValidateLength(TextField::kExperimentTagValue, tag.value,
                        [&] { return fmt::format("the value of experiment tag '{}'", tag.key); });
}

Status ValidateRegistryTag(std::string_view what, const Tag& tag) {
  SOMLIER_RETURN_IF_ERROR(ValidateKey(what, tag.key));
  return ValidateLength(TextField::kRegistryTagValue, tag.value,
                        [&] { return fmt::format("the value of {} '{}'", what, tag.key); });
}

Status ValidateDatasetInputs(const std::vector<DatasetInput>& inputs) {
  if (inputs.size() > kMaxBatchDatasets) {
    return InvalidArgument(
        fmt::format("a log-inputs request can contain at most {} datasets; got {}",
                    kMaxBatchDatasets, inputs.size()));
  }
  size_t tag_count = 0;
  for (const DatasetInput& input : inputs) tag_count += input.tags.size();
  if (tag_count > kMaxBatchInputTags) {
    return InvalidArgument(
        fmt::format("a log-inputs request can contain at most {} input tags in all; got {}",
                    kMaxBatchInputTags, tag_count));
  }
  auto has_nul = [](std::string_view text) { return text.find('\0') != std::string_view::npos; };
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dataset == nullptr) {
      return InvalidArgument(fmt::format("datasets[{}].dataset is required", i));
    }
    const Dataset& d = *inputs[i].dataset;
    const struct {
      std::string_view name;
      const std::string& value;
      TextField field;
      bool required;
    } fields[] = {
        {"name", d.name, TextField::kDatasetName, true},
        {"digest", d.digest, TextField::kDatasetDigest, true},
        {"source_type", d.source_type, TextField::kDatasetSourceType, true},
        {"source", d.source, TextField::kDatasetSource, true},
        {"schema", d.schema, TextField::kDatasetSchema, false},
        {"profile", d.profile, TextField::kDatasetProfile, false},
    };
    for (const auto& f : fields) {
      if (f.required && f.value.empty()) {
        return InvalidArgument(fmt::format(
            "datasets[{}].dataset.{} is required: a dataset needs a name, digest, source_type "
            "and source",
            i, f.name));
      }
      if (has_nul(f.value)) {
        return InvalidArgument(
            fmt::format("datasets[{}].dataset.{} contains a NUL byte (\\u0000)", i, f.name));
      }
      SOMLIER_RETURN_IF_ERROR(ValidateLength(f.field, f.value, [&] {
        return fmt::format("datasets[{}].dataset.{} '{}'", i, f.name, Preview(f.value));
      }));
    }
    for (size_t t = 0; t < inputs[i].tags.size(); ++t) {
      const Tag& tag = inputs[i].tags[t];
      if (tag.key.empty()) {
        return InvalidArgument(fmt::format("datasets[{}].tags[{}].key is required", i, t));
      }
      if (has_nul(tag.key)) {
        return InvalidArgument(
            fmt::format("datasets[{}].tags[{}].key contains a NUL byte (\\u0000)", i, t));
      }
      if (has_nul(tag.value)) {
        return InvalidArgument(
            fmt::format("the value of datasets[{}].tags[{}] ('{}') contains a NUL byte (\\u0000)",
                        i, t, tag.key));
      }
      SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kInputTagKey, tag.key, [&] {
        return fmt::format("datasets[{}].tags[{}].key '{}'", i, t, Preview(tag.key));
      }));
      SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kInputTagValue, tag.value, [&] {
        return fmt::format("the value of datasets[{}].tags[{}] ('{}')", i, t, tag.key);
      }));
    }
  }
  return OkStatus();
}

Status ValidateExperimentName(std::string_view name) {
  if (name.empty()) return InvalidArgument("an experiment name must not be empty");
  return ValidateLength(TextField::kExperimentName, name,
                        [&] { return fmt::format("experiment name '{}'", Preview(name)); });
}

Status ValidateRunName(std::string_view name) {
  return ValidateLength(TextField::kRunName, name,
                        [&] { return fmt::format("run name '{}'", Preview(name)); });
}

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("a registered model name must not be empty");
  SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kModelName, name, [&] {
    return fmt::format("registered model name '{}'", Preview(name));
  }));
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
  SOMLIER_RETURN_IF_ERROR(ValidateLength(
      TextField::kAlias, alias, [&] { return fmt::format("alias '{}'", Preview(alias)); }));
  for (char c : alias) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return InvalidArgument(
          fmt::format("alias '{}' may only contain letters, digits, '_' and '-'", alias));
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
    return InvalidArgument(fmt::format(
        "max_results {} is out of range: it must be between 1 and {}", max_results, limit));
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
