#include "somlier/kubernetes/manifest_template.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include "somlier/core/yaml_load.h"

namespace somlier::kubernetes {
namespace {

using nlohmann::json;

// YAML to JSON: scalars stay strings unless YAML 1.2's core schema makes them numbers,
// booleans or null (as kubectl reads them).
json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) out[item.first.Scalar()] = ToJson(item.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted: a string
      if (text == "true" || text == "false") return text == "true";
      if (text == "null" || text == "~") return nullptr;
      json number = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (number.is_number()) return number;
      return text;
    }
    default:
      return nullptr;
  }
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
  json manifest = ToJson(root);
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
      for (const json& candidate : base) {
        if (candidate["name"] == item["name"]) merged = MergeOver(candidate, item);
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
