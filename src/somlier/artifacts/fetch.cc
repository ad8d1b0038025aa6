#include "somlier/artifacts/fetch.h"

#include <fmt/core.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <system_error>

#include "somlier/core/ids.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

// A temporary file beside `destination`, removed unless Commit() renamed it into place.
class PendingFile {
 public:
  explicit PendingFile(const fs::path& destination)
      : destination_(destination),
        temp_(destination.parent_path() /
              ("." + destination.filename().string() + ".part-" + NewRunId().substr(0, 8))) {}
  ~PendingFile() {
    if (!committed_) {
      std::error_code ec;
      fs::remove(temp_, ec);
    }
  }
  const fs::path& temp() const { return temp_; }
  Status Commit() {
    std::error_code ec;
    fs::rename(temp_, destination_, ec);
    if (ec) {
      return Internal(fmt::format("cannot move the fetched file to '{}': {}",
                                  destination_.string(), ec.message()));
    }
    committed_ = true;
    return OkStatus();
  }

 private:
  fs::path destination_;
  fs::path temp_;
  bool committed_ = false;
};

Status FetchLocal(const fs::path& source, std::string_view uri, PendingFile& out) {
  std::error_code ec;
  if (!fs::is_regular_file(source, ec)) {
    return NotFound(fmt::format("'{}' does not exist or is not a file", std::string(uri)));
  }
  fs::copy_file(source, out.temp(), fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return Internal(fmt::format("cannot copy '{}': {}", source.string(), ec.message()));
  }
  return out.Commit();
}

Status FetchHttp(std::string_view uri, PendingFile& out) {
  // Split "scheme://host[:port]" from the path and query.
  const size_t scheme_end = uri.find("://");
  const size_t path_start = uri.find('/', scheme_end + 3);
  const std::string origin(uri.substr(0, path_start));
  const std::string path =
      path_start == std::string_view::npos ? "/" : std::string(uri.substr(path_start));
  if (origin.size() <= scheme_end + 3) {
    return InvalidArgument(fmt::format("URL '{}' has no host", std::string(uri)));
  }

  httplib::Client client(origin);
  client.set_follow_location(true);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(60, 0);

  std::ofstream file(out.temp(), std::ios::binary | std::ios::trunc);
  if (!file) {
    return Internal(fmt::format("cannot write '{}'", out.temp().string()));
  }
  int status = 0;
  auto result = client.Get(
      path,
      [&](const httplib::Response& response) {
        status = response.status;
        return true;  // read the body even on errors (and discard it below)
      },
      [&](const char* data, size_t length) {
        if (status == 200) file.write(data, static_cast<std::streamsize>(length));
        return static_cast<bool>(file);
      });
  file.close();
  if (!result) {
    return Unavailable(fmt::format("cannot download '{}': {}", std::string(uri),
                                   httplib::to_string(result.error())));
  }
  if (status == 404) return NotFound(fmt::format("'{}' was not found (HTTP 404)", std::string(uri)));
  if (status >= 500) {
    return Unavailable(fmt::format("'{}' answered HTTP {}", std::string(uri), status));
  }
  if (status != 200) {
    return FailedPrecondition(fmt::format("'{}' answered HTTP {}", std::string(uri), status));
  }
  if (!file) return Internal(fmt::format("cannot write '{}'", out.temp().string()));
  return out.Commit();
}

}  // namespace

Status FetchToFile(std::string_view uri, const fs::path& destination) {
  if (uri.empty()) return InvalidArgument("the URI to fetch is empty");
  if (destination.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(destination.parent_path(), ec);
    if (ec) {
      return Internal(fmt::format("cannot create '{}': {}", destination.parent_path().string(),
                                  ec.message()));
    }
  }
  PendingFile out(destination);
  if (uri.starts_with("http://") || uri.starts_with("https://")) return FetchHttp(uri, out);
  if (uri.starts_with("file://")) return FetchLocal(fs::path(uri.substr(7)), uri, out);
  if (uri.starts_with("gs://") || uri.starts_with("s3://")) {
    return Unimplemented(fmt::format(
        "cannot fetch '{}': gs:// and s3:// come with object storage support", std::string(uri)));
  }
  if (uri.find("://") != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "cannot fetch '{}': expected a local path, file://, http:// or https:// URI",
        std::string(uri)));
  }
  return FetchLocal(fs::path(uri), uri, out);
}

}  // namespace somlier
