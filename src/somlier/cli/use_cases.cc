#include "somlier/cli/use_cases.h"

#include <fmt/core.h>

#include "somlier/api/deploy_api.h"
#include "somlier/api/seed_api.h"
#include "somlier/api/train_api.h"
#include "somlier/core/log.h"

namespace somlier::cli {

using nlohmann::json;

Result<std::unique_ptr<UseCases>> UseCases::Open(const Context& ctx) {
  auto cases = std::unique_ptr<UseCases>(new UseCases());
  if (!ctx.settings.server.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(cases->client_,
                             api::ApiClient::Create(ctx.settings.server, ctx.settings.token));
    return cases;
  }
  SOMLIER_ASSIGN_OR_RETURN(cases->services_, LocalServices::Open(ctx.settings, ctx.env));
  if (auto recovered = cases->services_->train->RecoverOrphanedRuns(); !recovered.ok()) {
    LogWarning("checking for runs whose executor has died failed: {}",
               recovered.status().message());
  }
  return cases;
}

Result<json> UseCases::Call(const std::string& path, const json& request) {
  if (client_) return client_->PostJson(path, request);
  LocalServices& s = *services_;
  if (path == "/search") return api::SeedSearch(*s.tracking, request);
  if (path == "/register") return api::SeedRegister(*s.registry, request);
  if (path == "/register_v2") return api::SeedRegisterV2(*s.model_import, request);
  if (path == "/runs/list") return api::RunsList(*s.tracking, request);
  if (path == "/runs/show") return api::RunsShow(*s.tracking, request);
  if (path == "/runs/logs") return api::RunsLogs(*s.tracking, request);
  if (path == "/runs/kill") return api::RunsKill(*s.train, *s.tracking, request);
  if (path == "/deploy") return api::SeedDeploy(*s.deployments, request);
  if (path == "/deployments/list") return api::DeploymentsList(*s.deployments, request);
  if (path == "/deployments/stop") return api::DeploymentsStop(*s.deployments, request);
  if (path == "/deployments/logs") return api::DeploymentsLogs(*s.deployments, request);
  return Internal(fmt::format("no in-process use case for {}", path));
}

}  // namespace somlier::cli
