#include "somlier/api/fields.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"

namespace somlier::api {
namespace {

using nlohmann::ordered_json;

}  // namespace

// The errors of each dialect: MLflow's words on its routes, SoMLier's (the seed's) on its own.
Status Fields::Missing(std::string_view name) const {
  if (dialect_ == FieldDialect::kSomlier)
    return InvalidArgument(fmt::format("'{}{}' is required", path_, name));
  return InvalidArgument(fmt::format(
      "Missing value for required parameter '{}{}'. See the API docs for more information "
      "about request parameters.",
      path_, name));
}

Status Fields::WrongType(std::string_view name, const ordered_json& value,
                         std::string_view expected) const {
  const std::string shown = JsonPreview(value);
  if (dialect_ == FieldDialect::kSomlier) {
    return InvalidArgument(fmt::format("'{}{}' must be {}, not {}", path_, name, expected, shown));
  }
  return InvalidArgument(fmt::format("Invalid value {} for parameter '{}{}' supplied: expected {}",
                                     shown, path_, name, expected));
}

namespace {

// A double as protobuf JSON spells it: a number, or "NaN" / "Infinity" / "-Infinity" (and
// other decimal strings); nullopt for anything else.
std::optional<double> DoubleFromJson(const ordered_json& value) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  if (s == "NaN" || s == "nan") return std::nan("");
  if (s == "Infinity" || s == "inf") return HUGE_VAL;
  if (s == "-Infinity" || s == "-inf") return -HUGE_VAL;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

}  // namespace

Result<Fields> Fields::FromJsonBody(std::string_view body, FieldDialect dialect) {
  if (dialect == FieldDialect::kSomlier) {
    // SoMLier's own endpoints take exactly a JSON object: no empty body, no legacy forms.
    SOMLIER_ASSIGN_OR_RETURN(ordered_json parsed,
                             ParseJson<ordered_json>(body, "the request body"));
    if (!parsed.is_object()) return InvalidArgument("the request body must be a JSON object");
    return Fields(std::move(parsed), dialect);
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Fields(ordered_json::object(), dialect);
  }
  auto parsed_body = ParseJson<ordered_json>(body, "the request body");
  if (!parsed_body.ok()) {
    return InvalidArgument("Malformed request body: " + parsed_body.status().message());
  }
  ordered_json parsed = std::move(*parsed_body);
  if (parsed.is_string()) {  // legacy clients double-encode the body
    parsed = ParseJsonOrNull<ordered_json>(parsed.get<std::string>());
  }
  if (!parsed.is_object()) return InvalidArgument("The request body must be a JSON object");
  return Fields(std::move(parsed), dialect);
}

Result<Fields> Fields::From(const httplib::Request& request) {
  if (request.method != "GET" || request.params.empty()) return FromJsonBody(request.body);
  ordered_json object = ordered_json::object();
  for (const auto& [key, value] : request.params) {
    ordered_json& slot = object[key];
    if (slot.is_null()) {
      slot = value;
    } else if (slot.is_array()) {
      slot.push_back(value);
    } else {
      slot = ordered_json::array({slot, value});
    }
  }
  return Fields(std::move(object), FieldDialect::kMlflow);
}

bool Fields::Has(std::string_view name) const { return Raw(name) != nullptr; }

const ordered_json* Fields::Raw(std::string_view name) const {
  auto it = json_.find(name);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> Fields::String(std::string_view name, std::string fallback) const {
  const ordered_json* v = Raw(name);
  if (v == nullptr) return fallback;
  if (v->is_string()) return v->get<std::string>();
  if (dialect_ == FieldDialect::kMlflow) {
    if (v->is_array() && v->size() == 1 && (*v)[0].is_string()) {
      return (*v)[0].get<std::string>();  // a query key given once per list
    }
    if (v->is_number_integer()) return v->dump();  // ids sent as numbers, spelled exactly
  }
  return WrongType(name, *v, "a string");
}

Result<std::string> Fields::RequiredString(std::string_view name) const {
  SOMLIER_ASSIGN_OR_RETURN(std::string value, String(name));
  if (value.empty()) return Missing(name);
  return value;
}

Result<std::optional<int64_t>> Fields::Int(std::string_view name, IntRange range) const {
  const ordered_json* v = Raw(name);
  if (v == nullptr) return std::optional<int64_t>();
  if (dialect_ == FieldDialect::kSomlier) {  // a JSON number, as the seed's API took
    SOMLIER_ASSIGN_OR_RETURN(int64_t i, IntFromJson(name, *v, range, IntSpelling::kNumber));
    return std::optional<int64_t>(i);
  }
  if (v->is_array() && v->size() == 1) v = &(*v)[0];  // a query key given once per list
  SOMLIER_ASSIGN_OR_RETURN(int64_t i, IntFromJson(name, *v, range, IntSpelling::kNumberOrString));
  return std::optional<int64_t>(i);
}

Result<std::optional<double>> Fields::Double(std::string_view name) const {
  const ordered_json* v = Raw(name);
  if (v == nullptr) return std::optional<double>();
  if (auto d = DoubleFromJson(*v); d && !v->is_boolean()) return std::optional<double>(*d);
  return WrongType(name, *v, "a number");
}

Result<std::optional<bool>> Fields::Bool(std::string_view name) const {
  const ordered_json* v = Raw(name);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_boolean()) return std::optional<bool>(v->get<bool>());
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true") return std::optional<bool>(true);
    if (s == "false") return std::optional<bool>(false);
  }
  return WrongType(name, *v, "true or false");
}

Result<std::vector<std::string>> Fields::StringList(std::string_view name) const {
  std::vector<std::string> out;
  const ordered_json* v = Raw(name);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    SOMLIER_ASSIGN_OR_RETURN(std::string one, String(name));
    out.push_back(std::move(one));
    return out;
  }
  for (const ordered_json& item : *v) {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    } else if (item.is_number_integer()) {
      out.push_back(item.dump());
    } else {
      return WrongType(name, item, "a list of strings");
    }
  }
  return out;
}

Result<std::vector<Tag>> Fields::TagList(std::string_view name) const {
  std::vector<Tag> out;
  const ordered_json* v = Raw(name);
  if (v == nullptr) return out;
  if (!v->is_array()) return WrongType(name, *v, "a list of {\"key\", \"value\"} objects");
  for (const ordered_json& item : *v) {
    if (!item.is_object()) return WrongType(name, item, "a {\"key\", \"value\"} object");
    auto key = item.find("key");
    if (key == item.end() || !key->is_string() || key->get_ref<const std::string&>().empty()) {
      return Missing(fmt::format("{}.key", name));
    }
    auto value = item.find("value");
    std::string text;
    if (value != item.end() && !value->is_null()) {
      if (!value->is_string()) return WrongType(fmt::format("{}.value", name), *value, "a string");
      text = value->get<std::string>();
    }
    out.push_back({key->get<std::string>(), std::move(text)});
  }
  return out;
}

Result<std::optional<Fields>> Fields::Object(std::string_view name) const {
  const ordered_json* v = Raw(name);
  if (v == nullptr) return std::optional<Fields>();
  if (!v->is_object()) return WrongType(name, *v, "an object");
  return std::optional<Fields>(Fields(*v, dialect_, fmt::format("{}{}.", path_, name)));
}

Result<std::vector<Fields>> Fields::ObjectList(std::string_view name) const {
  std::vector<Fields> out;
  const ordered_json* v = Raw(name);
  if (v == nullptr) return out;
  if (!v->is_array()) return WrongType(name, *v, "a list of objects");
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const ordered_json& item = (*v)[i];
    const std::string at = fmt::format("{}[{}]", name, i);
    if (!item.is_object()) return WrongType(at, item, "an object");
    out.push_back(Fields(item, dialect_, fmt::format("{}{}.", path_, at)));
  }
  return out;
}

Result<Fields> Fields::FromJson(const nlohmann::json& request) {
  if (!request.is_object()) return InvalidArgument("the request body must be a JSON object");
  return Fields(ordered_json(request), FieldDialect::kSomlier);
}

Status Fields::OnlyKnown(std::span<const std::string_view> accepted) const {
  for (const auto& item : json_.items()) {
    if (std::find(accepted.begin(), accepted.end(), item.key()) == accepted.end()) {
      return InvalidArgument(fmt::format(
          "unknown field '{}' (accepted: {})", item.key(),
          accepted.empty()
              ? std::string("none")
              : Join(std::vector<std::string>(accepted.begin(), accepted.end()), ", ")));
    }
  }
  return OkStatus();
}

}  // namespace somlier::api
