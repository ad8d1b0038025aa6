// MLflow's proxied artifact endpoints (mlflow_artifacts.proto): upload, download, list and
// delete files under the artifact root, so clients never need access to its storage; and
// the project archives Kubernetes pods download (GET /api/somlier/source/NAME.tar).
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "somlier/api/error_answers.h"
#include "somlier/api/http_util.h"
#include "somlier/api/mlflow_router.h"
#include "somlier/api/routes.h"
#include "somlier/net/http_routes.h"
#include "somlier/tracking/tracking_service.h"
#include "somlier/training/train_service.h"

namespace somlier::api {
namespace {

using nlohmann::json;

std::string_view MimeType(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name == "MLmodel" || name.ends_with(".txt") || name.ends_with(".yaml") ||
      name.ends_with(".yml") || name.ends_with(".log") || name.ends_with(".py")) {
    return "text/plain";
  }
  if (name.ends_with(".json")) return "application/json";
  if (name.ends_with(".html")) return "text/html";
  if (name.ends_with(".png")) return "image/png";
  return "application/octet-stream";
}

std::string Basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Streams `path` (of `size` bytes) as an attachment; false when it cannot be opened.
bool SendFile(httplib::Response& response, const std::filesystem::path& path, size_t size,
              std::string_view mime) {
  std::shared_ptr<FILE> file(std::fopen(path.c_str(), "rb"), [](FILE* f) {
    if (f != nullptr) std::fclose(f);
  });
  if (!file) return false;
  response.set_header("Content-Disposition",
                      ContentDispositionAttachment(path.filename().string()));
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_content_provider(
      size, std::string(mime), [file](size_t offset, size_t length, httplib::DataSink& sink) {
        char buffer[1 << 16];
        if (std::fseek(file.get(), static_cast<long>(offset), SEEK_SET) != 0) {
          return false;
        }
        const size_t n = std::fread(buffer, 1, std::min(length, sizeof buffer), file.get());
        if (n == 0) return false;
        sink.write(buffer, n);
        return true;
      });
  return true;
}

}  // namespace

void AddProjectSourceRoute(HttpRoutes& server, TrainService& train) {
  // What a Kubernetes pod's init container downloads (`somlier fetch-source`): the git
  // cache's archive of the project at the run's commit, behind the server's token.
  server.Get(R"(/api/somlier/source/([^/]+)\.tar)", [&train](const httplib::Request& request,
                                                             httplib::Response& response) {
    auto file = train.SourceArchive(request.matches[1].str());
    std::error_code ec;
    const auto size = file.ok() ? std::filesystem::file_size(*file, ec) : 0;
    if (file.ok() && ec) file = NotFound("the project archive cannot be read");
    if (!file.ok() || !SendFile(response, *file, static_cast<size_t>(size), "application/x-tar")) {
      return SendMlflowError(response, file.ok() ? NotFound("cannot read it") : file.status());
    }
  });
}

void AddArtifactRoutes(HttpRoutes& server, TrackingService& tracking) {
  ArtifactStore& store = tracking.artifacts();
  for (const char* prefix :
       {"/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"}) {
    const std::string base = RegexEscape(prefix);
    const std::string with_path = base + "/(.+)";

    // Upload: the body is the file, streamed to disk and renamed into place when complete.
    server.Put(with_path, [&store](const httplib::Request& request, httplib::Response& response,
                                   const httplib::ContentReader& read) {
      auto file = store.StartWrite(request.matches[1].str());
      if (!file.ok()) return SendMlflowError(response, file.status());
      Status written;
      const bool whole = read([&](const char* data, size_t size) {
        written = (*file)->Append(data, size);
        return written.ok();
      });
      if (!whole && written.ok()) {
        // The client stopped sending (or too slowly): keep nothing of a partial upload.
        written = InvalidArgument("the upload ended before its Content-Length was reached");
      }
      if (written.ok()) written = (*file)->Commit();
      if (!written.ok()) return SendMlflowError(response, written);
      SendJson(response, json::object());
    });

    // Download: streamed from the file.
    server.Get(with_path, [&store](const httplib::Request& request, httplib::Response& response) {
      const std::string relative = request.matches[1].str();
      auto info = store.Stat(relative);
      if (!info.ok()) return SendMlflowError(response, info.status());
      if (info->is_dir) {
        return SendMlflowError(
            response, InvalidArgument(fmt::format("artifact '{}' is a directory; list it with "
                                                  "GET .../artifacts?path={}",
                                                  relative, relative)));
      }
      auto path = store.Resolve(relative);
      if (!SendFile(response, *path, static_cast<size_t>(info->size), MimeType(relative))) {
        return SendMlflowError(response, NotFound(fmt::format("cannot read '{}'", relative)));
      }
    });

    // List one directory level: {"files": [{"path": <basename>, "is_dir", "file_size"}]}.
    server.Get(base, [&store](const httplib::Request& request, httplib::Response& response) {
      std::string path = request.get_param_value("path");
      while (!path.empty() && path.back() == '/') path.pop_back();
      while (!path.empty() && path.front() == '/') path.erase(0, 1);
      auto files = store.List(path);
      if (!files.ok()) return SendMlflowError(response, files.status());
      json out = json::object();
      json list = json::array();
      for (const ArtifactFile& f : *files) {
        json entry = {{"path", Basename(f.path)}, {"is_dir", f.is_dir}};
        if (!f.is_dir) entry["file_size"] = f.size;
        list.push_back(std::move(entry));
      }
      if (!list.empty()) out["files"] = std::move(list);
      SendJson(response, out);
    });

    server.Delete(with_path,
                  [&store](const httplib::Request& request, httplib::Response& response) {
                    Status deleted = store.Delete(request.matches[1].str());
                    if (!deleted.ok()) return SendMlflowError(response, deleted);
                    SendJson(response, json::object());
                  });
  }
}

}  // namespace somlier::api
