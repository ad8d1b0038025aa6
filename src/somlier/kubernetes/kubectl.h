// Kubectl: how SoMLier talks to a cluster — the configured `kubectl` (SOMLIER_KUBECTL), run
// with an argv (never a shell) and manifests on its standard input, so kubeconfig contexts,
// exec credential plugins and in-cluster service accounts work as users expect, and nothing
// secret (a Secret's data) ever reaches an argv. kubectl's own error text reaches the user
// verbatim, after what SoMLier was doing.
//
// Every call adds `--context` (when the settings name one) and `--namespace`; the process's
// environment (KUBECONFIG, HOME) is kubectl's. Thread-safe: each call is its own process.
// The process must ignore SIGPIPE (RunCommand writes the manifest to kubectl's stdin).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/kubernetes/kube_settings.h"

namespace somlier::kubernetes {

class Kubectl {
 public:
  explicit Kubectl(KubernetesSettings settings) : settings_(std::move(settings)) {}

  const KubernetesSettings& settings() const { return settings_; }

  // Runs `kubectl [--context C] --namespace NS ARGS...` with `input` on stdin; its standard
  // output. Errors, each starting with `doing` ("creating the token Secret: ..."):
  //   NotFound       kubectl cannot be started (naming SOMLIER_KUBECTL), or the server
  //                  answered NotFound;
  //   AlreadyExists  the server answered AlreadyExists;
  //   InvalidArgument the server refused the object (Invalid, BadRequest);
  //   Unavailable    anything else — unreachable, Forbidden, Unauthorized — with kubectl's
  //                  message verbatim.
  // kubectl's environment is this process's without the tracking token (SOMLIER_TOKEN,
  // MLFLOW_TRACKING_TOKEN): neither kubectl nor its credential plugins need it. An error
  // quotes kubectl's standard error only, never its output (which may hold an object).
  Result<std::string> Run(std::string_view doing, const std::vector<std::string>& args,
                          std::optional<std::string> input = std::nullopt) const;

  // `kubectl create -f - -o json` of `manifest`; the created object.
  Result<nlohmann::json> Create(std::string_view doing, const nlohmann::json& manifest) const;
  // `kubectl create -f - -o name`: for objects whose contents must not come back (Secrets).
  Status CreateQuietly(std::string_view doing, const nlohmann::json& manifest) const;

 private:
  KubernetesSettings settings_;
};

}  // namespace somlier::kubernetes
