#include "somlier/batch/json_http.h"

#include <fmt/core.h>
#include <httplib.h>

#include "somlier/core/json_parse.h"
#include "somlier/core/url.h"

namespace somlier::batch {

Result<JsonAnswer> CallJson(std::string_view service, std::string_view setting,
                            const std::string& base_url, std::string_view method,
                            const std::string& path, const HttpHeaders& headers,
                            const std::string& body, size_t max_bytes) {
  const std::string shown = RedactUrlCredentials(base_url);
  auto parts = SplitUrl(base_url);
  if (!parts) return InvalidArgument(fmt::format("{} '{}' is not a URL", setting, shown));
  std::string prefix = parts->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  httplib::Client client(parts->origin);
  client.set_connection_timeout(15, 0);
  client.set_read_timeout(60, 0);
  httplib::Headers sent(headers.begin(), headers.end());
  std::string text;
  bool too_long = false;
  auto receive = [&](const char* data, size_t size) {
    if (text.size() + size > max_bytes) {
      too_long = true;
      return false;
    }
    text.append(data, size);
    return true;
  };
  httplib::Request request;
  request.method = std::string(method);
  request.path = prefix + path;
  request.headers = std::move(sent);
  if (method != "GET") {
    request.body = body;
    request.set_header("Content-Type", "application/json");
  }
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    return receive(data, size);
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  const bool sent_ok = client.send(request, response, error);
  if (too_long) {
    return Unavailable(
        fmt::format("{} at {} answered more than {} bytes", service, shown, max_bytes));
  }
  if (!sent_ok) {
    return Unavailable(
        fmt::format("cannot reach {} at {}: {}", service, shown, httplib::to_string(error)));
  }
  return JsonAnswer{response.status, ParseJsonOrNull(text)};
}

}  // namespace somlier::batch
