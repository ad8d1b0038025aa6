// `somlier kubernetes init [--output json]`: puts the tracking server's token into the cluster
// once, as the Secret every SoMLier Job and Deployment references (KubernetesSettings'
// token_secret, key `token`); the namespace is created only when the API server says it is
// missing (a user limited to their namespace need not create one). The token travels to
// kubectl on its standard input, never in an argv, and never comes back (`-o name`). An
// existing Secret is left alone (AlreadyExists, exit 4): replacing a token is a deliberate
// `kubectl delete secret` first.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/core/base64.h"
#include "somlier/kubernetes/kube_settings.h"
#include "somlier/kubernetes/kubectl.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

struct InitOptions {
  std::string output = "text";
};

Result<int> Init(const Context& ctx, const InitOptions& options) {
  SOMLIER_ASSIGN_OR_RETURN(kubernetes::KubernetesSettings settings,
                           kubernetes::LoadKubernetesSettings(ctx.env, ctx.settings.config_file));
  if (ctx.settings.token.empty()) {
    return FailedPrecondition(
        "kubernetes init copies the server's token into the cluster, and there is none: set "
        "SOMLIER_TOKEN (or `token` in the config file) to the token `somlier server` requires");
  }
  const kubernetes::Kubectl kubectl(settings);
  const json secret = {{"apiVersion", "v1"},
                       {"kind", "Secret"},
                       {"metadata",
                        {{"name", settings.token_secret},
                         {"namespace", settings.ns},
                         {"labels", {{"app.kubernetes.io/managed-by", "somlier"}}}}},
                       {"type", "Opaque"},
                       {"data", {{"token", Base64Encode(ctx.settings.token)}}}};
  const std::string doing = fmt::format("creating the token Secret '{}' in namespace '{}'",
                                        settings.token_secret, settings.ns);
  // The Secret first: a user whose rights stop at their namespace may not create namespaces.
  Status created = kubectl.CreateQuietly(doing, secret);
  bool namespace_created = false;
  if (!created.ok() && created.code() == StatusCode::kNotFound &&
      created.message().find("namespaces \"" + settings.ns + "\" not found") != std::string::npos) {
    SOMLIER_RETURN_IF_ERROR(kubectl.CreateQuietly(
        fmt::format("creating the namespace '{}'", settings.ns),
        json{
            {"apiVersion", "v1"},
            {"kind", "Namespace"},
            {"metadata",
             {{"name", settings.ns}, {"labels", {{"app.kubernetes.io/managed-by", "somlier"}}}}}}));
    namespace_created = true;
    created = kubectl.CreateQuietly(doing, secret);
  }
  if (!created.ok()) {
    if (created.code() == StatusCode::kAlreadyExists) {
      return AlreadyExists(fmt::format(
          "the Secret '{}' already exists in namespace '{}'; SoMLier leaves it alone. To replace "
          "the token: kubectl --namespace {} delete secret {}, then run this again",
          settings.token_secret, settings.ns, settings.ns, settings.token_secret));
    }
    return created;
  }
  if (options.output == "json") {
    PrintJson({{"namespace", settings.ns},
               {"namespace_created", namespace_created},
               {"secret", settings.token_secret},
               {"key", "token"}});
  } else {
    fmt::print("created Secret {} (key: token) in namespace {}{}\n", settings.token_secret,
               settings.ns, namespace_created ? " (namespace created)" : "");
  }
  return 0;
}

}  // namespace

void AddKubernetesCommands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("kubernetes", "Set up a Kubernetes cluster for SoMLier");
  group->require_subcommand(1);
  auto init_options = std::make_shared<InitOptions>();
  CLI::App* init = group->add_subcommand(
      "init",
      "Create the Secret with the server's token (SOMLIER_TOKEN) that SoMLier's Jobs and "
      "Deployments reference, once; also the namespace when missing");
  init->add_option("--output", init_options->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(init, [&ctx, init_options] { return Init(ctx, *init_options); });
}

}  // namespace somlier::cli
