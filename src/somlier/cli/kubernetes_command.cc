// `somlier kubernetes init [--output json]`: puts the tracking server's token into the cluster
// once, as the Secret every SoMLier Job and Deployment references (KubernetesSettings'
// token_secret, key `token`); the namespace is created only when the API server says it is
// missing (a user limited to their namespace need not create one). The token travels to
// kubectl on its standard input, never in an argv, and never comes back (`-o name`). An
// existing Secret is left alone (AlreadyExists, exit 4): replacing a token is a deliberate
// `kubectl delete secret` first.
//
// Hidden: `somlier fetch-source ARCHIVE DIR [--strip-components N]`, the init container of a
// training Job that runs the runtime image: downloads the project archive from the SoMLier
// server (SOMLIER_SERVER, with SOMLIER_TOKEN from the Secret) and unpacks it into DIR.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "somlier/cli/api_client.h"
#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/core/base64.h"
#include "somlier/core/ids.h"
#include "somlier/execution/run_command.h"
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

struct FetchSourceOptions {
  std::string archive;
  std::string directory;
  int strip_components = 0;
};

Result<int> FetchSource(const Context& ctx, const FetchSourceOptions& o) {
  if (ctx.settings.server.empty()) {
    return FailedPrecondition("fetch-source downloads from the SoMLier server: set SOMLIER_SERVER");
  }
  if (!IsProjectArchiveName(o.archive)) {
    return InvalidArgument(
        fmt::format("'{}' is not a project archive's name (COMMIT-HASH)", o.archive));
  }
  SOMLIER_ASSIGN_OR_RETURN(auto client, ApiClient::Create(ctx.settings.server, ctx.settings.token));
  std::error_code ec;
  std::filesystem::create_directories(o.directory, ec);
  if (ec) return Internal(fmt::format("cannot create '{}': {}", o.directory, ec.message()));
  const std::filesystem::path tar = std::filesystem::path(o.directory) / ".somlier-source.tar";
  fmt::print(stderr, "downloading the project ({}) from {}\n", o.archive, ctx.settings.server);
  SOMLIER_RETURN_IF_ERROR(client->GetToFile("/api/somlier/source/" + o.archive + ".tar", tar)
                              .WithContext("downloading the project"));
  CommandOptions options;
  options.timeout = std::chrono::seconds(600);
  // GNU tar refuses members that climb out ('..') or are absolute.
  auto unpacked = RunCommand(
      {"tar", "-x", "-f", tar.string(), "-C", o.directory, "--no-same-owner",
       "--no-same-permissions", fmt::format("--strip-components={}", o.strip_components)},
      options);
  std::filesystem::remove(tar, ec);
  if (!unpacked.ok()) return unpacked.status();
  if (unpacked->exit_code != 0) {
    return Internal(fmt::format("unpacking the project failed: {}", unpacked->stderr_text));
  }
  fmt::print(stderr, "the project is in {}\n", o.directory);
  return 0;
}

}  // namespace

void AddKubernetesCommands(CLI::App& app, Context& ctx) {
  auto fetch = std::make_shared<FetchSourceOptions>();
  CLI::App* fetch_source = app.add_subcommand(
      "fetch-source", "Download a project archive from the SoMLier server (Jobs' init step)");
  fetch_source->group("");  // hidden: what pods run, not users
  fetch_source->add_option("ARCHIVE", fetch->archive, "The archive's name")->required();
  fetch_source->add_option("DIR", fetch->directory, "Where to unpack it")->required();
  fetch_source
      ->add_option("--strip-components", fetch->strip_components, "Leading directories to remove")
      ->check(CLI::Range(0, 64));
  ctx.handlers.emplace_back(fetch_source, [&ctx, fetch] { return FetchSource(ctx, *fetch); });

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
