// Settings: where SoMLier keeps its state and which tools it uses, for one process.
//
// Read once at start-up from environment variables and an optional YAML file; the
// environment wins over the file, the file over the defaults:
//
//   variable               file key        default
//   SOMLIER_HOME           -               $HOME/.somlier
//   SOMLIER_DATABASE_URL   database_url    sqlite:///$SOMLIER_HOME/somlier.db
//   SOMLIER_ARTIFACT_ROOT  artifact_root   $SOMLIER_HOME/artifacts
//   SOMLIER_PYTHON         python          (empty: `python3` on PATH)
//   SOMLIER_LOG_LEVEL      log_level       info
//   SOMLIER_SERVER         server          (empty: CLI commands work in-process)
//   SOMLIER_TOKEN          token           (empty: no authentication)
//   SOMLIER_DEFAULT_PROJECT_URI default_project_uri  (the repository `train` uses without
//                                                     --github_uri)
//
// The file's `kubernetes:` mapping is kubernetes/kube_settings.h's to read.
// The file is $SOMLIER_CONFIG when set (it must then exist), else
// $SOMLIER_HOME/config.yaml when present. A plain value type; thread-compatible.
#pragma once

#include <map>
#include <string>

#include "somlier/core/log.h"
#include "somlier/core/result.h"

namespace somlier {

using Environment = std::map<std::string, std::string>;

// A snapshot of this process's environment variables.
Environment ProcessEnvironment();

// The value of `key` in `env`, or "" when it is not set.
std::string Lookup(const Environment& env, const std::string& key);

// Erases what SoMLier's integrations authenticate with — the GitHub token, the Airflow
// password, the warehouses' URLs (which may hold passwords) — from the environment of a child
// that has no use for them (runs, model servers and workers, kubectl). One list, so a new
// secret is erased everywhere at once.
void EraseIntegrationSecrets(Environment& env);

struct Settings {
  std::string home;
  std::string database_url;
  std::string artifact_root;
  std::string python;  // empty means "python3" from PATH
  LogLevel log_level = LogLevel::kInfo;
  std::string server;               // a SoMLier server's URL for the CLI to use, or empty
  std::string token;                // the bearer token servers require and clients send, or empty
  std::string default_project_uri;  // the git repository of projects, or empty
  std::string config_file;          // the file that was read, or empty

  // The interpreter to run Python with: `python` or, when empty, "python3".
  std::string PythonOrDefault() const { return python.empty() ? "python3" : python; }
};

// Errors: InvalidArgument naming the variable or file key with a bad value, or the file
// with its line and column when its YAML cannot be parsed; NotFound when SOMLIER_CONFIG
// names a file that does not exist.
Result<Settings> LoadSettings(const Environment& env);

}  // namespace somlier
