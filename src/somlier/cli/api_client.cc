#include "somlier/cli/api_client.h"

#include <fmt/core.h>
#include <httplib.h>

#include <fstream>

#include "somlier/core/json_parse.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

Status StatusFromResponse(const std::string& url, const httplib::Result& result) {
  if (!result) {
    return Unavailable(fmt::format("cannot reach the SoMLier server at {}: {}", url,
                                   httplib::to_string(result.error())));
  }
  const int code = result->status;
  const json body = ParseJsonOrNull(result->body);
  std::string message;
  if (body.is_object()) {
    if (body.contains("detail") && body["detail"].is_string()) message = body["detail"];
    if (body.contains("message") && body["message"].is_string()) message = body["message"];
  }
  if (message.empty()) message = fmt::format("the server at {} answered HTTP {}", url, code);
  return Status(StatusCodeForHttp(code), message);
}

Result<json> Decode(const std::string& url, const httplib::Result& result) {
  if (!result || result->status < 200 || result->status >= 300) {
    return StatusFromResponse(url, result);
  }
  json body = ParseJsonOrNull(result->body);
  if (body.is_null()) {
    return Internal(fmt::format("the server at {} answered with something that is not JSON", url));
  }
  return body;
}

}  // namespace

ApiClient::ApiClient(std::string base_url, std::unique_ptr<httplib::Client> client)
    : base_url_(std::move(base_url)), client_(std::move(client)) {}

ApiClient::~ApiClient() = default;

Result<std::unique_ptr<ApiClient>> ApiClient::Create(const std::string& base_url,
                                                     const std::string& token) {
  std::string url = base_url;
  while (url.ends_with("/")) url.pop_back();
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return InvalidArgument(
        fmt::format("server URL '{}' must start with http:// or https://", base_url));
  }
  auto client = std::make_unique<httplib::Client>(url);
  if (!client->is_valid()) {
    return InvalidArgument(fmt::format("server URL '{}' is not a valid URL", base_url));
  }
  client->set_connection_timeout(10, 0);
  client->set_read_timeout(300, 0);
  client->set_keep_alive(true);
  if (!token.empty()) client->set_bearer_token_auth(token);
  return std::unique_ptr<ApiClient>(new ApiClient(url, std::move(client)));
}

Result<json> ApiClient::PostJson(const std::string& path, const json& body) {
  return PostText(path, body.dump());
}

Result<json> ApiClient::PostText(const std::string& path, const std::string& body) {
  return Decode(base_url_, client_->Post(path, body, "application/json"));
}

Result<json> ApiClient::GetJson(const std::string& path) {
  return Decode(base_url_, client_->Get(path));
}

Status ApiClient::GetToFile(const std::string& path, const std::filesystem::path& destination) {
  const std::filesystem::path partial = destination.string() + ".part";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) return Internal(fmt::format("cannot write '{}'", partial.string()));
  std::string error_body;
  int status = 0;
  auto result = client_->Get(
      path,
      [&](const httplib::Response& response) {
        status = response.status;
        return true;
      },
      [&](const char* data, size_t size) {
        if (status < 200 || status >= 300) {
          if (error_body.size() < 65536) error_body.append(data, size);
          return true;
        }
        out.write(data, static_cast<std::streamsize>(size));
        return static_cast<bool>(out);
      });
  out.close();
  std::error_code ec;
  if (!result || result->status < 200 || result->status >= 300) {
    std::filesystem::remove(partial, ec);
    if (result) result->body = error_body;
    return StatusFromResponse(base_url_, result);
  }
  if (!out) {
    std::filesystem::remove(partial, ec);
    return Internal(fmt::format("writing '{}' failed", partial.string()));
  }
  std::filesystem::rename(partial, destination, ec);
  if (ec) return Internal(fmt::format("cannot store '{}': {}", destination.string(), ec.message()));
  return OkStatus();
}

}  // namespace somlier::cli
