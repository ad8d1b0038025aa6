#include "somlier/api/log_batch_parser.h"

#include <fmt/core.h>
#include <simdjson.h>

#include <cmath>
#include <cstdlib>

#include "somlier/core/json_number.h"
#include "somlier/core/strings.h"

namespace somlier::api {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::value;

// Where in the request a value is ("metrics[3].value"), spelled out only for an error.
struct Where {
  std::string_view list;  // empty for a top-level field
  size_t index = 0;
  std::string_view field;

  Where operator+(std::string_view f) const { return {list, index, f}; }
  std::string ToString() const {
    std::string out = list.empty() ? std::string() : fmt::format("{}[{}]", list, index);
    if (!field.empty()) out += (out.empty() ? "" : ".") + std::string(field);
    return out;
  }
};

Status Bad(const Where& where, std::string_view what) {
  return InvalidArgument(fmt::format("{}: {}", where.ToString(), what));
}

Result<std::string> ReadString(value v, const Where& where) {
  std::string_view text;
  if (v.get_string().get(text)) return Bad(where, "expected a string");
  return std::string(text);
}

Result<double> ReadDouble(value v, const Where& where) {
  json_type type;
  if (v.type().get(type)) return Bad(where, "malformed value");
  if (type == json_type::number) {
    double d;
    if (v.get_double().get(d)) return Bad(where, "expected a number");
    return d;
  }
  if (type == json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return Bad(where, "expected a number");
    if (s == "NaN" || s == "nan") return std::nan("");
    if (s == "Infinity" || s == "inf") return HUGE_VAL;
    if (s == "-Infinity" || s == "-inf") return -HUGE_VAL;
    std::string copy(s);
    char* end = nullptr;
    const double d = std::strtod(copy.c_str(), &end);
    if (!copy.empty() && end == copy.c_str() + copy.size()) return d;
  }
  return Bad(where, "expected a number");
}

// An integer in `range`: a JSON number or a decimal string, range-checked before conversion
// (core/json_number.h). The common case (an int64 in range) builds no field name.
Result<int64_t> ReadInt(value v, const Where& where, IntRange range = {}) {
  json_type type;
  if (v.type().get(type)) return Bad(where, "malformed value");
  if (type == json_type::number) {
    int64_t i;
    if (!v.get_int64().get(i)) {
      if (range.Contains(i)) return i;
      return CheckedInt(where.ToString(), i, range);
    }
    uint64_t u;
    if (!v.get_uint64().get(u)) return CheckedInt(where.ToString(), u, range);
    double d;
    if (!v.get_double().get(d)) return CheckedInt(where.ToString(), d, range);
    return Bad(where, "malformed number");
  }
  if (type == json_type::string) {
    std::string_view s;
    if (!v.get_string().get(s)) return CheckedIntFromText(where.ToString(), s, range);
  }
  return NotAnInteger(where.ToString(), Trim(v.raw_json_token()).substr(0, 60), range);
}

// {key, value?} objects, for params and tags.
Status ReadPairs(value v, std::string_view list, std::vector<Tag>* out) {
  const Where whole{"", 0, list};
  simdjson::ondemand::array array;
  if (v.get_array().get(array))
    return Bad(whole, "expected a list of {\"key\", \"value\"} objects");
  size_t i = 0;
  for (auto element : array) {
    const Where where{list, i++, ""};
    simdjson::ondemand::object object;
    if (element.get_object().get(object)) return Bad(where, "expected an object");
    Tag tag;
    bool has_key = false;
    for (auto field : object) {
      std::string_view name;
      if (field.unescaped_key().get(name)) return Bad(where, "malformed key");
      value field_value;
      if (field.value().get(field_value)) return Bad(where, "malformed value");
      bool is_null = false;
      if (field_value.is_null().get(is_null) == simdjson::SUCCESS && is_null) continue;
      if (name == "key") {
        SOMLIER_ASSIGN_OR_RETURN(tag.key, ReadString(field_value, where + "key"));
        has_key = true;
      } else if (name == "value") {
        SOMLIER_ASSIGN_OR_RETURN(tag.value, ReadString(field_value, where + "value"));
      }
    }
    if (!has_key || tag.key.empty()) return Bad(where, "missing a 'key'");
    out->push_back(std::move(tag));
  }
  return OkStatus();
}

Status ReadMetrics(value v, std::vector<Metric>* out) {
  simdjson::ondemand::array array;
  if (v.get_array().get(array)) {
    return Bad(Where{"", 0, "metrics"}, "expected a list of metric objects");
  }
  size_t i = 0;
  for (auto element : array) {
    const Where where{"metrics", i++, ""};
    simdjson::ondemand::object object;
    if (element.get_object().get(object)) {
      return Bad(where, "expected an object with key, value and timestamp");
    }
    Metric metric;
    bool has_key = false, has_value = false, has_timestamp = false;
    for (auto field : object) {
      std::string_view name;
      if (field.unescaped_key().get(name)) return Bad(where, "malformed key");
      value field_value;
      if (field.value().get(field_value)) return Bad(where, "malformed value");
      if (name == "key") {
        SOMLIER_ASSIGN_OR_RETURN(metric.key, ReadString(field_value, where + "key"));
        has_key = true;
      } else if (name == "value") {
        SOMLIER_ASSIGN_OR_RETURN(metric.value, ReadDouble(field_value, where + "value"));
        has_value = true;
      } else if (name == "timestamp") {
        SOMLIER_ASSIGN_OR_RETURN(metric.timestamp,
                                 ReadInt(field_value, where + "timestamp", kNonNegative));
        has_timestamp = true;
      } else if (name == "step") {
        bool is_null = false;
        if (field_value.is_null().get(is_null) == simdjson::SUCCESS && is_null) continue;
        SOMLIER_ASSIGN_OR_RETURN(metric.step, ReadInt(field_value, where + "step"));
      }
    }
    if (!has_key) return Bad(where, "missing a string 'key'");
    if (!has_value)
      return Bad(where, fmt::format("metric '{}' needs a numeric 'value'", metric.key));
    if (!has_timestamp) {
      return Bad(where, fmt::format("metric '{}' needs an integer 'timestamp'", metric.key));
    }
    out->push_back(std::move(metric));
  }
  return OkStatus();
}

}  // namespace

Result<LogBatchRequest> ParseLogBatch(std::string_view body) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(body);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) {
    return InvalidArgument("Malformed request body: it is not valid JSON");
  }
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return InvalidArgument("The request body must be a JSON object");
  LogBatchRequest request;
  std::string run_uuid;
  for (auto field : root) {
    std::string_view name;
    if (field.unescaped_key().get(name)) return InvalidArgument("Malformed request body");
    value v;
    if (field.value().get(v)) return InvalidArgument("Malformed request body");
    bool is_null = false;
    if (v.is_null().get(is_null) == simdjson::SUCCESS && is_null) continue;
    if (name == "run_id") {
      SOMLIER_ASSIGN_OR_RETURN(request.run_id, ReadString(v, Where{"", 0, "run_id"}));
    } else if (name == "run_uuid") {
      SOMLIER_ASSIGN_OR_RETURN(run_uuid, ReadString(v, Where{"", 0, "run_uuid"}));
    } else if (name == "metrics") {
      SOMLIER_RETURN_IF_ERROR(ReadMetrics(v, &request.metrics));
    } else if (name == "params") {
      std::vector<Tag> pairs;
      SOMLIER_RETURN_IF_ERROR(ReadPairs(v, "params", &pairs));
      for (Tag& p : pairs) request.params.push_back({std::move(p.key), std::move(p.value)});
    } else if (name == "tags") {
      SOMLIER_RETURN_IF_ERROR(ReadPairs(v, "tags", &request.tags));
    }
  }
  if (request.run_id.empty()) request.run_id = run_uuid;
  if (request.run_id.empty()) {
    return InvalidArgument(
        "Missing value for required parameter 'run_id'. See the API docs for more information "
        "about request parameters.");
  }
  return request;
}

}  // namespace somlier::api
