#include "somlier/kubernetes/manifest_template.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "somlier/core/yaml_load.h"

namespace somlier::kubernetes {
namespace {

using nlohmann::json;

// A scalar as kubectl reads it: quoted ones are strings; YAML 1.1 booleans, null, octal and
// hex integers; numbers; else strings.
json KubectlScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: a string
  // As kubectl reads YAML (1.1): booleans in their spellings, octal and hex integers.
  static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                              "on",   "On",   "ON",   "y",   "Y"};
  static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "No", "NO",
                                               "off",   "Off",   "OFF",   "n",  "N"};
  if (kTrue.count(text)) return true;
  if (kFalse.count(text)) return false;
  if (text == "null" || text == "~" || text == "Null" || text == "NULL") return nullptr;
  if (text.size() > 1 && text.size() <= 22 && text[0] == '0' &&  // fits in int64
      text.find_first_not_of("01234567", 1) == std::string::npos) {
    return std::stoll(text, nullptr, 8);
  }
  if (text.size() > 2 && text.size() <= 17 &&  // fits in int64
      (text.starts_with("0x") || text.starts_with("0o")) &&
      text.find_first_not_of(text[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567", 2) ==
          std::string::npos) {
    return std::stoll(text.substr(2), nullptr, text[1] == 'x' ? 16 : 8);
  }
  json number = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (number.is_number()) return number;
  return text;
}

bool NamedList(const json& list) {
  if (!list.is_array() || list.empty()) return false;
  for (const json& item : list) {
    if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) return false;
  }
  return true;
}

}  // namespace

Result<json> LoadTemplate(const std::string& path, std::string_view kind) {
  SOMLIER_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFileBounded(path));
  if (!root.IsMap()) {
    return InvalidArgument(fmt::format("the {} template {} is not a YAML mapping", kind, path));
  }
  json manifest = YamlToJson(root, KubectlScalar);
  if (manifest.contains("kind") && !manifest["kind"].is_string()) {
    return InvalidArgument(
        fmt::format("the {} template {} has a 'kind' that is not a name", kind, path));
  }
  if (manifest.value("kind", std::string(kind)) != kind) {
    return InvalidArgument(fmt::format("the {} template {} is a {}", kind, path,
                                       manifest["kind"].is_string()
                                           ? manifest["kind"].get<std::string>()
                                           : manifest["kind"].dump()));
  }
  return manifest;
}

json MergeOver(const json& base, const json& ours) {
  if (base.is_object() && ours.is_object()) {
    json out = base;
    for (const auto& [key, value] : ours.items()) {
      out[key] = out.contains(key) ? MergeOver(out[key], value) : value;
    }
    return out;
  }
  if (NamedList(base) && NamedList(ours)) {
    json out = json::array();
    for (const json& item : ours) {
      json merged = item;
      // An environment variable is SoMLier's whole (value and valueFrom exclude each other).
      const bool whole = item.contains("value") || item.contains("valueFrom");
      for (const json& candidate : base) {
        if (candidate["name"] == item["name"] && !whole) merged = MergeOver(candidate, item);
      }
      out.push_back(std::move(merged));
    }
    for (const json& candidate : base) {
      bool taken = false;
      for (const json& item : ours) taken = taken || candidate["name"] == item["name"];
      if (!taken) out.push_back(candidate);
    }
    return out;
  }
  return ours.is_null() ? base : ours;
}

}  // namespace somlier::kubernetes
