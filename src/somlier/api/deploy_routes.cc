// POST /deploy (also /online/deploy) and POST /deployments/{list,stop,logs}, with the seed's
// error shape {"status_code", "title", "detail"}.
#include "somlier/api/deploy_api.h"
#include "somlier/api/http_util.h"
#include "somlier/api/routes.h"
#include "somlier/core/log.h"

namespace somlier::api {

using nlohmann::json;

void AddDeployRoutes(HttpRoutes& server, LocalDeployments& deployments) {
  using Handler = Result<json> (*)(LocalDeployments&, const json&);
  const std::tuple<const char*, Handler, bool> kRoutes[] = {
      {"/deploy", &SeedDeploy, true},
      {"/deployments/list", &DeploymentsList, false},
      {"/deployments/stop", &DeploymentsStop, false},
      {"/deployments/logs", &DeploymentsLogs, false}};
  for (const auto& [path, handler, online_alias] : kRoutes) {
    AddSeedRoute(
        server, path,
        [&deployments, handler = handler](std::string_view body) -> Result<json> {
          SOMLIER_ASSIGN_OR_RETURN(json request, JsonObjectBody(body));
          return handler(deployments, request);
        },
        online_alias);
  }
}

}  // namespace somlier::api
