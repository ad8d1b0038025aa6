#include "somlier/artifacts/fetch.h"

#include <fmt/core.h>
#include <httplib.h>

#include <fstream>
#include <map>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/artifacts/object_storage.h"
#include "somlier/core/url.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

Status FetchLocal(const fs::path& source, std::string_view uri, const fs::path& destination) {
  std::error_code ec;
  if (!fs::is_regular_file(source, ec)) {
    return NotFound(fmt::format("'{}' does not exist or is not a file", std::string(uri)));
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot read '{}'", std::string(uri)));
  SOMLIER_ASSIGN_OR_RETURN(auto out, AtomicFile::Create(destination));
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    SOMLIER_RETURN_IF_ERROR(out->Append(buffer, static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return Internal(fmt::format("cannot read '{}'", source.string()));
  return out->Commit();
}

Status FetchHttp(std::string_view uri, const fs::path& destination,
                 const std::map<std::string, std::string>& headers = {},
                 std::string_view shown_as = {}) {
  const std::string shown = RedactUrlCredentials(shown_as.empty() ? uri : shown_as);
  auto parts = SplitUrl(uri);
  if (!parts) return InvalidArgument(fmt::format("URL '{}' has no host", shown));
  const std::string& origin = parts->origin;
  const std::string& path = parts->path;

  httplib::Client client(origin);
  // Credentials go to the host they are for only: no redirects when the request has any.
  client.set_follow_location(headers.empty());
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(60, 0);

  SOMLIER_ASSIGN_OR_RETURN(auto out, AtomicFile::Create(destination));
  Status written;
  int status = 0;
  httplib::Headers request_headers(headers.begin(), headers.end());
  auto result = client.Get(
      path, request_headers,
      [&](const httplib::Response& response) {
        status = response.status;
        return true;  // read the body even on errors (and discard it below)
      },
      [&](const char* data, size_t length) {
        if (status == 200) written = out->Append(data, length);
        return written.ok();
      });
  SOMLIER_RETURN_IF_ERROR(written);
  if (!result) {
    return Unavailable(fmt::format("cannot download '{}': {}", shown,
                                   httplib::to_string(result.error())));
  }
  if (status == 404) return NotFound(fmt::format("'{}' was not found (HTTP 404)", shown));
  if (status >= 500) return Unavailable(fmt::format("'{}' answered HTTP {}", shown, status));
  if (status == 401 || status == 403) {
    return FailedPrecondition(fmt::format("'{}' answered HTTP {}: the credentials are missing or "
                                          "not allowed to read it",
                                          shown, status));
  }
  if (status != 200) return FailedPrecondition(fmt::format("'{}' answered HTTP {}", shown, status));
  return out->Commit();
}

}  // namespace

Status FetchToFile(std::string_view uri, const fs::path& destination) {
  return FetchToFile(uri, destination, ProcessEnvironment());
}

Status FetchToFile(std::string_view uri, const fs::path& destination, const Environment& env) {
  if (uri.empty()) return InvalidArgument("the URI to fetch is empty");
  if (uri.starts_with("http://") || uri.starts_with("https://")) {
    return FetchHttp(uri, destination);
  }
  if (uri.starts_with("file://")) return FetchLocal(fs::path(uri.substr(7)), uri, destination);
  if (uri.starts_with("gs://") || uri.starts_with("s3://")) {
    SOMLIER_ASSIGN_OR_RETURN(BucketObject object, ParseBucketUri(uri));
    SOMLIER_ASSIGN_OR_RETURN(SignedGet get, uri.starts_with("gs://")
                                                ? GcsGetRequest(object, env)
                                                : S3GetRequest(object, env));
    return FetchHttp(get.url, destination, get.headers, uri);
  }
  if (uri.find("://") != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "cannot fetch '{}': expected a local path, file://, http(s)://, gs:// or s3:// URI",
        std::string(uri)));
  }
  return FetchLocal(fs::path(uri), uri, destination);
}

}  // namespace somlier
