#include "somlier/core/settings.h"

#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "somlier/core/yaml_load.h"

extern char** environ;

namespace somlier {
namespace {

std::string DefaultHome(const Environment& env) {
  std::string home = Lookup(env, "HOME");
  if (home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr)
      home = pw->pw_dir;
  }
  if (home.empty()) home = "/tmp";
  return (std::filesystem::path(home) / ".somlier").string();
}

// Makes `path` absolute against the current directory, so that the sqlite URL and the
// artifact root keep meaning the same place when a child runs elsewhere.
std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

Status ReadFile(const std::string& path, Settings* settings) {
  SOMLIER_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFileBounded(path));
  if (root.IsNull()) return OkStatus();
  if (!root.IsMap()) return InvalidArgument(path + ": expected a mapping of settings");
  for (const auto& item : root) {
    if (!item.first.IsScalar()) {
      return InvalidArgument(path + ": setting names must be plain words");
    }
    const std::string key = item.first.Scalar();
    if (key == "kubernetes") {  // read by kubernetes/kube_settings.h
      if (!item.second.IsMap() && !item.second.IsNull()) {
        return InvalidArgument(path + ": 'kubernetes' must be a mapping of settings");
      }
      continue;
    }
    if (!item.second.IsScalar()) {
      return InvalidArgument(path + ": setting '" + key + "' must be a single value");
    }
    const std::string value = item.second.as<std::string>();
    if (key == "database_url") {
      settings->database_url = value;
    } else if (key == "artifact_root") {
      settings->artifact_root = value;
    } else if (key == "python") {
      settings->python = value;
    } else if (key == "server") {
      settings->server = value;
    } else if (key == "token") {
      settings->token = value;
    } else if (key == "default_project_uri") {
      settings->default_project_uri = value;
    } else if (key == "log_level") {
      auto level = ParseLogLevel(value);
      if (!level) {
        return InvalidArgument(path + ": log_level '" + value +
                               "' is not one of debug, info, warning, error, off");
      }
      settings->log_level = *level;
    } else {
      return InvalidArgument(path + ": unknown setting '" + key +
                             "' (expected database_url, artifact_root, python, log_level, "
                             "server, token, default_project_uri, kubernetes)");
    }
  }
  return OkStatus();
}

}  // namespace

std::string Lookup(const Environment& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

void EraseIntegrationSecrets(Environment& env) {
  env.erase("SOMLIER_GITHUB_TOKEN");
  env.erase("SOMLIER_AIRFLOW_PASSWORD");
  env.erase("SOMLIER_WAREHOUSE_URL");
  for (auto it = env.lower_bound("SOMLIER_WAREHOUSE_"); it != env.end();) {
    if (!it->first.starts_with("SOMLIER_WAREHOUSE_")) break;
    it = env.erase(it);
  }
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    auto eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

Result<Settings> LoadSettings(const Environment& env) {
  Settings settings;
  settings.home = Lookup(env, "SOMLIER_HOME");
  settings.home = Absolute(settings.home.empty() ? DefaultHome(env) : settings.home);

  std::string file = Lookup(env, "SOMLIER_CONFIG");
  if (!file.empty()) {
    if (!std::filesystem::exists(file)) {
      return NotFound("SOMLIER_CONFIG names '" + file + "', which does not exist");
    }
  } else {
    auto candidate = std::filesystem::path(settings.home) / "config.yaml";
    if (std::filesystem::exists(candidate)) file = candidate.string();
  }
  if (!file.empty()) {
    SOMLIER_RETURN_IF_ERROR(ReadFile(file, &settings));
    settings.config_file = file;
  }

  if (auto v = Lookup(env, "SOMLIER_DATABASE_URL"); !v.empty()) settings.database_url = v;
  if (auto v = Lookup(env, "SOMLIER_ARTIFACT_ROOT"); !v.empty()) settings.artifact_root = v;
  if (auto v = Lookup(env, "SOMLIER_PYTHON"); !v.empty()) settings.python = v;
  if (auto v = Lookup(env, "SOMLIER_SERVER"); !v.empty()) settings.server = v;
  if (auto v = Lookup(env, "SOMLIER_TOKEN"); !v.empty()) settings.token = v;
  if (auto v = Lookup(env, "SOMLIER_DEFAULT_PROJECT_URI"); !v.empty()) {
    settings.default_project_uri = v;
  }
  if (auto v = Lookup(env, "SOMLIER_LOG_LEVEL"); !v.empty()) {
    auto level = ParseLogLevel(v);
    if (!level) {
      return InvalidArgument("SOMLIER_LOG_LEVEL '" + v +
                             "' is not one of debug, info, warning, error, off");
    }
    settings.log_level = *level;
  }

  if (settings.database_url.empty()) {
    settings.database_url = "sqlite:///" + settings.home + "/somlier.db";
  }
  settings.artifact_root = Absolute(settings.artifact_root.empty() ? settings.home + "/artifacts"
                                                                   : settings.artifact_root);
  return settings;
}

}  // namespace somlier
