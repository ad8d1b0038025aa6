#include "somlier/cli/use_cases.h"

#include <fmt/core.h>

#include "somlier/api/use_cases.h"
#include "somlier/core/log.h"

namespace somlier::cli {

using nlohmann::json;

Result<std::unique_ptr<UseCases>> UseCases::Open(const Context& ctx) {
  auto cases = std::unique_ptr<UseCases>(new UseCases());
  if (!ctx.settings.server.empty()) {
    SOMLIER_ASSIGN_OR_RETURN(cases->client_,
                             ApiClient::Create(ctx.settings.server, ctx.settings.token));
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
  const api::UseCase* use_case = api::FindUseCase(path);
  if (use_case == nullptr) return Internal(fmt::format("no use case {}", path));
  SOMLIER_ASSIGN_OR_RETURN(api::Fields fields, api::Fields::FromJson(request));
  return api::RunUseCase(*use_case, services_->UseCases(), fields);
}

}  // namespace somlier::cli
