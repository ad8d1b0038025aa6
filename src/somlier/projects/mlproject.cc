// MLflow MLproject files, the project directory loader, and entry point argv building
// (declared in project_spec.h).
#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>

#include "somlier/core/strings.h"
#include "somlier/core/yaml_load.h"
#include "somlier/projects/interpolation.h"
#include "somlier/projects/project_spec.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

Status Bad(const fs::path& file, const std::string& key, const std::string& what) {
  return InvalidArgument(fmt::format("{}: {}: {}", file.string(), key, what));
}

Result<std::string> Scalar(const YAML::Node& node, const fs::path& file, const std::string& key,
                           const Environment& env) {
  if (!node.IsScalar()) return Bad(file, key, "expected a single value");
  auto value = Interpolate(node.Scalar(), env);
  if (!value.ok()) return Bad(file, key, value.status().message());
  return *value;
}

// python_env.yaml: `python: 3.x` and `dependencies: [pip requirement lines]`.
Status ReadPythonEnv(const fs::path& file, const Environment& env, ProjectSpec* spec) {
  SOMLIER_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFileBounded(file));
  if (!root.IsMap()) return Bad(file, "(top level)", "expected a mapping");
  if (root["python"]) {
    SOMLIER_ASSIGN_OR_RETURN(spec->python_version, Scalar(root["python"], file, "python", env));
  }
  const YAML::Node deps = root["dependencies"];
  if (deps && !deps.IsNull()) {
    if (!deps.IsSequence()) return Bad(file, "dependencies", "expected a list of requirements");
    for (size_t i = 0; i < deps.size(); ++i) {
      SOMLIER_ASSIGN_OR_RETURN(std::string line,
                               Scalar(deps[i], file, fmt::format("dependencies[{}]", i), env));
      spec->pip_dependencies.push_back(line);
    }
  }
  return OkStatus();
}

bool FitsType(const std::string& type, const std::string& value) {
  char* end = nullptr;
  if (type == "float") {
    const double d = std::strtod(value.c_str(), &end);
    return !value.empty() && end == value.c_str() + value.size() && std::isfinite(d);
  }
  if (type == "int") {
    std::strtoll(value.c_str(), &end, 10);
    return !value.empty() && end == value.c_str() + value.size();
  }
  return true;  // string, path, uri
}

}  // namespace

Result<ProjectSpec> LoadMlproject(const fs::path& file, const Environment& env) {
  ProjectSpec spec;
  std::error_code ec;
  spec.file = fs::absolute(file, ec).lexically_normal();
  spec.directory = spec.file.parent_path();
  if (!fs::is_regular_file(spec.file, ec)) {
    return NotFound(fmt::format("project file '{}' does not exist", spec.file.string()));
  }
  SOMLIER_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFileBounded(spec.file));
  if (!root.IsMap()) return Bad(spec.file, "(top level)", "expected a mapping");
  if (root["name"]) {
    SOMLIER_ASSIGN_OR_RETURN(spec.project_name, Scalar(root["name"], spec.file, "name", env));
  }
  spec.model_name = spec.project_name;
  if (root["python_env"]) {
    SOMLIER_ASSIGN_OR_RETURN(std::string env_file,
                             Scalar(root["python_env"], spec.file, "python_env", env));
    SOMLIER_RETURN_IF_ERROR(ReadPythonEnv(spec.directory / env_file, env, &spec));
  }
  const YAML::Node entry_points = root["entry_points"];
  if (!entry_points || !entry_points.IsMap()) {
    return Bad(spec.file, "entry_points", "expected a mapping of entry points");
  }
  for (const auto& item : entry_points) {
    EntrypointSpec ep;
    ep.name = item.first.Scalar();
    const std::string key = "entry_points." + ep.name;
    if (!item.second.IsMap() || !item.second["command"]) {
      return Bad(spec.file, key, "expected a mapping with a command");
    }
    SOMLIER_ASSIGN_OR_RETURN(ep.command,
                             Scalar(item.second["command"], spec.file, key + ".command", env));
    auto words = SplitCommandLine(ep.command);
    if (!words.ok()) return Bad(spec.file, key + ".command", words.status().message());
    if (words->empty()) return Bad(spec.file, key + ".command", "is empty");
    ep.argv = std::move(*words);
    const YAML::Node params = item.second["parameters"];
    if (params && !params.IsNull()) {
      if (!params.IsMap()) return Bad(spec.file, key + ".parameters", "expected a mapping");
      ep.declares_parameters = true;
      for (const auto& p : params) {
        EntrypointParameter parameter;
        parameter.name = p.first.Scalar();
        const std::string pkey = key + ".parameters." + parameter.name;
        if (p.second.IsScalar()) {
          parameter.type = p.second.Scalar();
        } else if (p.second.IsMap()) {
          if (p.second["type"]) {
            SOMLIER_ASSIGN_OR_RETURN(parameter.type,
                                     Scalar(p.second["type"], spec.file, pkey + ".type", env));
          }
          if (p.second["default"] && !p.second["default"].IsNull()) {
            SOMLIER_ASSIGN_OR_RETURN(parameter.default_value, Scalar(p.second["default"], spec.file,
                                                                     pkey + ".default", env));
          }
        } else {
          return Bad(spec.file, pkey, "expected a type or {type, default}");
        }
        if (parameter.type != "string" && parameter.type != "float" && parameter.type != "int" &&
            parameter.type != "path" && parameter.type != "uri") {
          return Bad(spec.file, pkey + ".type",
                     fmt::format("'{}' is not string, float, int, path or uri", parameter.type));
        }
        if (parameter.default_value && !FitsType(parameter.type, *parameter.default_value)) {
          return Bad(spec.file, pkey + ".default",
                     fmt::format("'{}' is not a {}", *parameter.default_value, parameter.type));
        }
        ep.parameters.push_back(std::move(parameter));
      }
    }
    spec.entrypoints.push_back(std::move(ep));
  }
  return spec;
}

Result<ProjectSpec> LoadProjectDirectory(const fs::path& directory, const Environment& env) {
  auto file = FindProjectFile(directory, "");
  if (file.ok()) return LoadProjectSpec(*file, env);
  std::error_code ec;
  if (fs::is_regular_file(directory / "MLproject", ec)) {
    return LoadMlproject(directory / "MLproject", env);
  }
  return NotFound(fmt::format(
      "the project in '{}' has neither a somlier.yaml nor an MLproject file", directory.string()));
}

Result<std::vector<std::string>> BuildEntrypointArgv(
    const EntrypointSpec& ep, const std::vector<std::pair<std::string, std::string>>& params) {
  std::map<std::string, std::string> values;
  for (const auto& [name, value] : params) values[name] = value;
  std::map<std::string, const EntrypointParameter*> declared;
  for (const EntrypointParameter& p : ep.parameters) declared[p.name] = &p;
  if (ep.declares_parameters) {
    for (const auto& [name, value] : params) {
      auto it = declared.find(name);
      if (it == declared.end()) {
        std::vector<std::string> names;
        for (const auto& [n, p] : declared) names.push_back(n);
        return InvalidArgument(
            fmt::format("entry point '{}' does not declare a parameter '{}' (it declares: {})",
                        ep.name, name, names.empty() ? "none" : Join(names, ", ")));
      }
      if (!FitsType(it->second->type, value)) {
        return InvalidArgument(fmt::format("parameter '{}' of entry point '{}' is a {}, not '{}'",
                                           name, ep.name, it->second->type, value));
      }
    }
    for (const EntrypointParameter& p : ep.parameters) {
      if (values.count(p.name)) continue;
      if (!p.default_value) {
        return InvalidArgument(
            fmt::format("entry point '{}' needs a value for parameter '{}' (pass --{} VALUE)",
                        ep.name, p.name, p.name));
      }
      values[p.name] = *p.default_value;
    }
  }
  static const std::regex kPlaceholder(R"(\{([A-Za-z_][A-Za-z0-9_.\-]*)\})");
  std::set<std::string> used;
  std::vector<std::string> argv;
  for (const std::string& word : ep.argv) {
    std::string out;
    auto begin = std::sregex_iterator(word.begin(), word.end(), kPlaceholder);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1].str();
      auto value = values.find(name);
      if (value == values.end()) {
        return InvalidArgument(fmt::format(
            "the command of entry point '{}' uses {{{}}}, but no value is given for it (pass --{} "
            "VALUE)",
            ep.name, name, name));
      }
      out += word.substr(last, static_cast<size_t>(it->position()) - last);
      out += value->second;
      last = static_cast<size_t>(it->position() + it->length());
      used.insert(name);
    }
    out += word.substr(last);
    argv.push_back(std::move(out));
  }
  // MLflow's rule for parameters the command has no place for: --name value.
  for (const auto& [name, value] : params) {
    if (used.count(name)) continue;
    argv.push_back("--" + name);
    argv.push_back(value);
  }
  return argv;
}

}  // namespace somlier
