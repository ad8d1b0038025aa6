// UseCases: how CLI commands reach SoMLier's JSON use cases (api/seed_api.h,
// api/train_api.h) — over HTTP on the server named by SOMLIER_SERVER, or in-process on
// LocalServices — so that a command answers the same whichever way it went. In-process,
// opening also fails the runs whose executing process has died (TrainService). One object
// per command; not thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "somlier/api/api_client.h"
#include "somlier/cli/cli.h"
#include "somlier/cli/local_services.h"
#include "somlier/core/result.h"

namespace somlier::cli {

class UseCases {
 public:
  static Result<std::unique_ptr<UseCases>> Open(const Context& ctx);

  // POST `path` with `request`: /search, /register, /runs/list, /runs/show, /runs/logs,
  // /runs/kill.
  Result<nlohmann::json> Call(const std::string& path, const nlohmann::json& request);

  bool remote() const { return client_ != nullptr; }
  api::ApiClient* client() { return client_.get(); }  // remote only
  LocalServices* local() { return services_.get(); }  // in-process only

 private:
  std::unique_ptr<api::ApiClient> client_;
  std::unique_ptr<LocalServices> services_;
};

}  // namespace somlier::cli
