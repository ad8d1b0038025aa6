#include "somlier/projects/project_spec.h"

#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>

#include "somlier/core/strings.h"
#include "somlier/core/yaml_load.h"
#include "somlier/projects/interpolation.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string KeyPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return fmt::format("the value '{}'", node.Scalar());
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

// YAML 1.2 core schema resolution of a plain scalar, for model.config.
json ScalarToJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text == "null" || text == "Null" || text == "NULL" || text == "~") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, kInt)) {
    try {
      return std::stoll(text);
    } catch (const std::out_of_range&) {
      return text;
    }
  }
  if (std::regex_match(text, kFloat)) {
    // A number past double's range (1e999) stays the text it was, like a long past int64.
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text.c_str(), &end);
    if (errno == ERANGE || end != text.c_str() + text.size() || !std::isfinite(value)) {
      return text;
    }
    return value;
  }
  return text;
}

// Reads typed values out of the document, naming the file and key path in every error.
class Reader {
 public:
  Reader(std::string file, ProjectSpec* spec) : file_(std::move(file)), spec_(spec) {}

  Status Error(const std::string& path, const std::string& what) const {
    return InvalidArgument(fmt::format("{}: {}: {}", file_, path, what));
  }

  // Replaces ${VAR} references in every scalar below `node`.
  Status InterpolateAll(YAML::Node node, const std::string& path, const Environment& env) {
    switch (node.Type()) {
      case YAML::NodeType::Scalar: {
        if (node.Scalar().find("${") == std::string::npos) return OkStatus();
        auto value = Interpolate(node.Scalar(), env);
        if (!value.ok()) return Error(path, value.status().message());
        const std::string tag = node.Tag();
        node = *value;
        if (tag == "!") node.SetTag("!");  // keep "quoted: a string" for model.config
        return OkStatus();
      }
      case YAML::NodeType::Map:
        for (auto item : node) {
          SOMLIER_RETURN_IF_ERROR(
              InterpolateAll(item.second, KeyPath(path, item.first.Scalar()), env));
        }
        return OkStatus();
      case YAML::NodeType::Sequence: {
        size_t i = 0;
        for (auto item : node) {
          SOMLIER_RETURN_IF_ERROR(InterpolateAll(item, fmt::format("{}[{}]", path, i++), env));
        }
        return OkStatus();
      }
      default:
        return OkStatus();
    }
  }

  // OK for a mapping or nothing; records keys not in `known`.
  Status Mapping(const YAML::Node& node, const std::string& path,
                 std::initializer_list<std::string_view> known) {
    SOMLIER_RETURN_IF_ERROR(MappingOfAnyKeys(node, path));
    if (!node || node.IsNull()) return OkStatus();
    for (const auto& item : node) {
      const std::string key = item.first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        spec_->unknown_keys.push_back(KeyPath(path, key));
      }
    }
    return OkStatus();
  }

  // OK for a mapping (whose keys are names the user chooses) or nothing.
  Status MappingOfAnyKeys(const YAML::Node& node, const std::string& path) {
    if (!node || node.IsNull() || node.IsMap()) return OkStatus();
    return Error(path, fmt::format("expected a mapping, got {}", KindOf(node)));
  }

  Status Scalar(const YAML::Node& node, const std::string& path, std::string* out) {
    if (!node || node.IsNull()) return OkStatus();
    if (!node.IsScalar()) {
      return Error(path, fmt::format("expected a single value, got {}", KindOf(node)));
    }
    *out = node.Scalar();
    return OkStatus();
  }

  Status StringList(const YAML::Node& node, const std::string& path,
                    std::vector<std::string>* out) {
    if (!node || node.IsNull()) return OkStatus();
    if (!node.IsSequence()) {
      return Error(path, fmt::format("expected a list of values, got {}", KindOf(node)));
    }
    size_t i = 0;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return Error(fmt::format("{}[{}]", path, i),
                     fmt::format("expected a single value, got {}", KindOf(item)));
      }
      out->push_back(item.Scalar());
      ++i;
    }
    return OkStatus();
  }

 private:
  std::string file_;
  ProjectSpec* spec_;
};

Status ReadAssets(Reader& r, const YAML::Node& node, ProjectSpec* spec) {
  if (!node || node.IsNull()) return OkStatus();
  if (!node.IsSequence()) {
    return r.Error("model.assets",
                   fmt::format("expected a list of asset groups, got {}", KindOf(node)));
  }
  size_t i = 0;
  for (const auto& group_node : node) {
    const std::string path = fmt::format("model.assets[{}]", i++);
    SOMLIER_RETURN_IF_ERROR(r.Mapping(group_node, path, {"provider", "files"}));
    AssetGroup group;
    SOMLIER_RETURN_IF_ERROR(r.Scalar(group_node["provider"], path + ".provider", &group.provider));
    group.provider = ToLower(group.provider);
    if (group.provider != "http" && group.provider != "local" && group.provider != "gcs") {
      return r.Error(path + ".provider",
                     fmt::format("'{}' is not a known provider (expected http, local or gcs)",
                                 group.provider));
    }
    const YAML::Node files = group_node["files"];
    SOMLIER_RETURN_IF_ERROR(r.MappingOfAnyKeys(files, path + ".files"));
    for (const auto& item : files) {
      const std::string name = item.first.Scalar();
      const std::string file_path = path + ".files." + name;
      SOMLIER_RETURN_IF_ERROR(r.Mapping(item.second, file_path, {"remote_uri", "local_path"}));
      AssetFile file{name, "", name};
      SOMLIER_RETURN_IF_ERROR(
          r.Scalar(item.second["remote_uri"], file_path + ".remote_uri", &file.remote_uri));
      SOMLIER_RETURN_IF_ERROR(
          r.Scalar(item.second["local_path"], file_path + ".local_path", &file.local_path));
      if (file.remote_uri.empty()) return r.Error(file_path + ".remote_uri", "is required");
      const fs::path local(file.local_path);
      bool escapes = local.empty() || local.is_absolute();
      for (const auto& part : local) escapes = escapes || part == "..";
      if (escapes) {
        return r.Error(file_path + ".local_path",
                       fmt::format("'{}' must be a relative path inside the assets directory",
                                   file.local_path));
      }
      group.files.push_back(std::move(file));
    }
    spec->assets.push_back(std::move(group));
  }
  return OkStatus();
}

Status ReadEntrypoints(Reader& r, const YAML::Node& node, const std::string& key,
                       ProjectSpec* spec) {
  if (!node || node.IsNull()) return OkStatus();
  SOMLIER_RETURN_IF_ERROR(r.MappingOfAnyKeys(node, key));
  for (const auto& item : node) {
    EntrypointSpec ep;
    ep.name = item.first.Scalar();
    const std::string path = key + "." + ep.name;
    SOMLIER_RETURN_IF_ERROR(r.Mapping(item.second, path, {"command", "args"}));
    if (!item.second || item.second.IsNull()) {
      return r.Error(path, "expected a mapping with 'command' and 'args'");
    }
    SOMLIER_RETURN_IF_ERROR(r.Scalar(item.second["command"], path + ".command", &ep.command));
    auto words = SplitCommandLine(ep.command);
    if (!words.ok()) return r.Error(path + ".command", words.status().message());
    if (words->empty()) {
      return r.Error(path + ".command", "is empty; give the program to run, e.g. 'python'");
    }
    ep.argv = std::move(*words);
    const YAML::Node args = item.second["args"];
    if (args && args.IsScalar()) {
      auto split = SplitCommandLine(args.Scalar());
      if (!split.ok()) return r.Error(path + ".args", split.status().message());
      ep.argv.insert(ep.argv.end(), split->begin(), split->end());
    } else {
      SOMLIER_RETURN_IF_ERROR(r.StringList(args, path + ".args", &ep.argv));
    }
    spec->entrypoints.push_back(std::move(ep));
  }
  return OkStatus();
}

}  // namespace

bool ProjectSpec::IsTestEnv() const { return ToUpper(env) == "TEST"; }

Result<const EntrypointSpec*> ProjectSpec::FindEntrypoint(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& ep : entrypoints) {
    if (ep.name == name) return &ep;
    names.push_back(ep.name);
  }
  return NotFound(fmt::format("entrypoint '{}' is not defined in {} (defined: {})", name,
                              file.string(), names.empty() ? "none" : Join(names, ", ")));
}

std::string ProjectSpec::ToJson() const {
  json assets_json = json::array();
  for (const auto& group : assets) {
    json files = json::object();
    for (const auto& f : group.files) {
      files[f.name] = {{"remote_uri", f.remote_uri}, {"local_path", f.local_path}};
    }
    assets_json.push_back({{"provider", group.provider}, {"files", files}});
  }
  json eps = json::object();
  for (const auto& ep : entrypoints) eps[ep.name] = {{"command", ep.command}, {"argv", ep.argv}};
  json out = {
      {"file", file.string()},
      {"global",
       {{"env", env}, {"logging", {{"format", log_format == LogFormat::kJson ? "json" : "text"}}}}},
      {"project",
       {{"name", project_name},
        {"python", {{"version", python_version}, {"requirements_txt", requirements_txt}}},
        {"docker",
         {{"name", docker_name},
          {"tags", docker_tags},
          {"volumes", docker_volumes},
          {"env", docker_env}}}}},
      {"model",
       {{"name", model_name},
        {"version", model_version},
        {"tags", model_tags},
        {"assets", assets_json},
        {"config", json::parse(model_config_json)}}},
      {"entrypoints", eps},
  };
  return out.dump(2);
}

Result<fs::path> FindProjectFile(const fs::path& directory, const std::string& explicit_file) {
  std::error_code ec;
  if (!explicit_file.empty()) {
    fs::path path = fs::absolute(explicit_file, ec);
    if (!fs::is_regular_file(path, ec)) {
      return NotFound(fmt::format("project file '{}' does not exist", explicit_file));
    }
    return path;
  }
  for (const char* name : {"somlier.yaml", "somlier.yml", "somlier"}) {
    fs::path candidate = fs::absolute(directory / name, ec);
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return NotFound(fmt::format(
      "no somlier.yaml in {} (looked for somlier.yaml, somlier.yml and somlier); run from the "
      "project directory or pass -f FILE",
      fs::absolute(directory, ec).string()));
}

Result<ProjectSpec> LoadProjectSpec(const fs::path& file, const Environment& env) {
  ProjectSpec spec;
  std::error_code ec;
  spec.file = fs::absolute(file, ec).lexically_normal();
  spec.directory = spec.file.parent_path();
  const std::string name = spec.file.string();
  if (!fs::is_regular_file(spec.file, ec)) {
    return NotFound(fmt::format("project file '{}' does not exist", name));
  }

  SOMLIER_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFileBounded(spec.file));
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return InvalidArgument(
        fmt::format("{}: expected a mapping at the top level, got {}", name, KindOf(root)));
  }

  Reader r(name, &spec);
  SOMLIER_RETURN_IF_ERROR(r.InterpolateAll(root, "", env));
  SOMLIER_RETURN_IF_ERROR(
      r.Mapping(root, "", {"global", "project", "model", "entrypoints", "entrypoint"}));

  const YAML::Node global = root["global"];
  SOMLIER_RETURN_IF_ERROR(r.Mapping(global, "global", {"env", "logging"}));
  if (global && global.IsMap()) {
    SOMLIER_RETURN_IF_ERROR(r.Scalar(global["env"], "global.env", &spec.env));
    const YAML::Node logging = global["logging"];
    SOMLIER_RETURN_IF_ERROR(r.Mapping(logging, "global.logging", {"format"}));
    std::string format = "json";
    if (logging && logging.IsMap()) {
      SOMLIER_RETURN_IF_ERROR(r.Scalar(logging["format"], "global.logging.format", &format));
    }
    format = ToLower(format);
    if (format == "text") {
      spec.log_format = LogFormat::kText;
    } else if (format != "json") {
      return r.Error("global.logging.format",
                     fmt::format("'{}' is not a logging format (expected json or text)", format));
    }
  }

  const YAML::Node project = root["project"];
  SOMLIER_RETURN_IF_ERROR(r.Mapping(project, "project", {"name", "python", "docker"}));
  if (project && project.IsMap()) {
    SOMLIER_RETURN_IF_ERROR(r.Scalar(project["name"], "project.name", &spec.project_name));
    const YAML::Node python = project["python"];
    SOMLIER_RETURN_IF_ERROR(r.Mapping(python, "project.python", {"version", "requirements_txt"}));
    if (python && python.IsMap()) {
      SOMLIER_RETURN_IF_ERROR(
          r.Scalar(python["version"], "project.python.version", &spec.python_version));
      SOMLIER_RETURN_IF_ERROR(r.Scalar(python["requirements_txt"],
                                       "project.python.requirements_txt", &spec.requirements_txt));
    }
    const YAML::Node docker = project["docker"];
    SOMLIER_RETURN_IF_ERROR(
        r.Mapping(docker, "project.docker", {"name", "tags", "volumes", "env"}));
    if (docker && docker.IsMap()) {
      SOMLIER_RETURN_IF_ERROR(r.Scalar(docker["name"], "project.docker.name", &spec.docker_name));
      SOMLIER_RETURN_IF_ERROR(
          r.StringList(docker["tags"], "project.docker.tags", &spec.docker_tags));
      SOMLIER_RETURN_IF_ERROR(
          r.StringList(docker["volumes"], "project.docker.volumes", &spec.docker_volumes));
      SOMLIER_RETURN_IF_ERROR(r.StringList(docker["env"], "project.docker.env", &spec.docker_env));
    }
  }

  const YAML::Node model = root["model"];
  SOMLIER_RETURN_IF_ERROR(
      r.Mapping(model, "model", {"name", "version", "tags", "assets", "config"}));
  if (model && model.IsMap()) {
    SOMLIER_RETURN_IF_ERROR(r.Scalar(model["name"], "model.name", &spec.model_name));
    SOMLIER_RETURN_IF_ERROR(r.Scalar(model["version"], "model.version", &spec.model_version));
    if (!spec.model_version.empty() && spec.model_version[0] != 'v') {
      return r.Error("model.version", fmt::format("'{}' must start with 'v' (for example v{})",
                                                  spec.model_version, spec.model_version));
    }
    SOMLIER_RETURN_IF_ERROR(r.StringList(model["tags"], "model.tags", &spec.model_tags));
    SOMLIER_RETURN_IF_ERROR(ReadAssets(r, model["assets"], &spec));
    const YAML::Node config = model["config"];
    if (config && !config.IsNull()) {
      if (!config.IsMap()) {
        return r.Error("model.config", fmt::format("expected a mapping, got {}", KindOf(config)));
      }
      spec.model_config_json = YamlToJson(config, ScalarToJson).dump();
    }
  }

  if (root["entrypoints"] && root["entrypoint"]) {
    return InvalidArgument(
        fmt::format("{}: both 'entrypoints' and 'entrypoint' are given; keep one of them", name));
  }
  const std::string ep_key = root["entrypoint"] ? "entrypoint" : "entrypoints";
  SOMLIER_RETURN_IF_ERROR(ReadEntrypoints(r, root[ep_key], ep_key, &spec));
  return spec;
}

Result<std::vector<std::string>> SplitCommandLine(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'') {
      const size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return InvalidArgument(fmt::format("'{}' has an unclosed single quote", text));
      }
      word.append(text.substr(i + 1, close - i - 1));
      in_word = true;
      i = close;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() &&
            std::string_view("\\\"$`").find(text[j + 1]) != std::string_view::npos) {
          ++j;
        }
        word += text[j];
      }
      if (j >= text.size()) {
        return InvalidArgument(fmt::format("'{}' has an unclosed double quote", text));
      }
      in_word = true;
      i = j;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace somlier
