#include "somlier/cli/output.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "somlier/core/strings.h"

namespace somlier::cli {

using nlohmann::json;

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    fmt::print("{}\n", line);
  }
}

namespace {

void EmitYaml(YAML::Emitter& out, const nlohmann::json& value) {
  if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, item] : value.items()) {
      out << YAML::Key << key << YAML::Value;
      EmitYaml(out, item);
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : value) EmitYaml(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    // Quoted always: "true", "1" and "0.10" stay strings (labels, annotations, env values).
    out << YAML::DoubleQuoted << value.get<std::string>();
  } else if (value.is_null()) {
    out << YAML::Null;
  } else {
    out << value.dump();
  }
}

}  // namespace

std::string ToYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  EmitYaml(out, value);
  return std::string(out.c_str()) + "\n";
}

void PrintJson(const json& value) {
  fmt::print("{}\n", value.dump(2, ' ', false, json::error_handler_t::replace));
}

std::string ParamsText(const json& params) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : params.items()) {
    parts.push_back(key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
  }
  return Join(parts, " ");
}

std::string MetricText(const json& value) {
  if (value.is_number()) return PythonFloat(value.get<double>());
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string DurationText(int64_t millis) {
  if (millis < 1000) return fmt::format("{}ms", millis);
  if (millis < 60'000) return fmt::format("{:.1f}s", static_cast<double>(millis) / 1000.0);
  const int64_t seconds = millis / 1000;
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  return fmt::format("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60);
}

void PrintRoutes(const std::vector<RouteInfo>& routes) {
  nlohmann::json out = nlohmann::json::array();
  for (const RouteInfo& r : routes) {
    out.push_back({{"method", r.method}, {"path", r.path}, {"pattern", r.pattern}});
  }
  PrintJson(out);
}

}  // namespace somlier::cli
