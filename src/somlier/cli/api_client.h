// ApiClient: a small HTTP client of SoMLier's API for the CLI's remote mode
// (SOMLIER_SERVER=http://host:port), sending the token when one is set.
//
// Error answers in either of the server's dialects — MLflow's {"error_code", "message"}
// and the seed's {"status_code", "title", "detail"} — come back as a Status whose code the
// status table reads from the HTTP status (core/status.h, StatusCodeForHttp; a connection
// failure is Unavailable), with the server's message. One object per thread.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "somlier/core/result.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace somlier::cli {

class ApiClient {
 public:
  // `base_url`: http(s)://host[:port]. Errors: InvalidArgument for anything else.
  static Result<std::unique_ptr<ApiClient>> Create(const std::string& base_url,
                                                   const std::string& token);
  ~ApiClient();

  Result<nlohmann::json> PostJson(const std::string& path, const nlohmann::json& body);
  // POST a JSON body already serialised (e.g. keeping the order of an object's keys).
  Result<nlohmann::json> PostText(const std::string& path, const std::string& body);
  Result<nlohmann::json> GetJson(const std::string& path);
  // GET `path` streamed into `destination` (through a .part file renamed into place).
  Status GetToFile(const std::string& path, const std::filesystem::path& destination);

 private:
  ApiClient(std::string base_url, std::unique_ptr<httplib::Client> client);
  std::string base_url_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace somlier::cli
