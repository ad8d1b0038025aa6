// UseCases: how CLI commands reach SoMLier's JSON use cases (the table of api/use_cases.h) —
// over HTTP on the server named by SOMLIER_SERVER, or in-process on LocalServices through
// the same table — so that a command answers the same whichever way it went. In-process,
// opening also fails the runs whose executing process has died (TrainService). One object
// per command; not thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "somlier/cli/api_client.h"
#include "somlier/cli/cli.h"
#include "somlier/cli/local_services.h"
#include "somlier/core/result.h"

namespace somlier::cli {

class UseCases {
 public:
  static Result<std::unique_ptr<UseCases>> Open(const Context& ctx);

  // The use case at `path` (e.g. /search, /runs/logs) on `request`.
  Result<nlohmann::json> Call(const std::string& path, const nlohmann::json& request);

  bool remote() const { return client_ != nullptr; }
  ApiClient* client() { return client_.get(); }       // remote only
  LocalServices* local() { return services_.get(); }  // in-process only

 private:
  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<LocalServices> services_;
};

}  // namespace somlier::cli
