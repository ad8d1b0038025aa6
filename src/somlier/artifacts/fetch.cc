#include "somlier/artifacts/fetch.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "somlier/artifacts/atomic_file.h"
#include "somlier/artifacts/object_storage.h"
#include "somlier/core/url.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxRedirects = 5;
// The most of an error or redirect answer's body read (and discarded) before giving up on it.
constexpr size_t kMaxDiscardedBody = 1 << 20;

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

// A URL as messages about a refusal show it: no credentials, no query or fragment.
std::string Shown(std::string_view url) {
  return RedactUrlCredentials(url.substr(0, url.find_first_of("?#")));
}

std::string HowToAllow(const FetchPolicy& policy) {
  return policy.how_to_allow.empty() ? "only public sources may be fetched here"
                                     : policy.how_to_allow;
}

// One http(s) request's target, parsed here (not by the HTTP client) so that the host that
// is checked is the host that is connected to.
struct HttpTarget {
  bool https = false;
  std::string host;  // lowercase; an IPv6 literal without its brackets
  int port = 0;
  std::string path;  // "/path?query": never empty, no fragment

  std::string Origin() const {
    const bool default_port = port == (https ? 443 : 80);
    return fmt::format("{}://{}{}", https ? "https" : "http",
                       host.find(':') != std::string::npos ? "[" + host + "]" : host,
                       default_port ? "" : ":" + std::to_string(port));
  }
};

std::optional<HttpTarget> ParseHttpUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return std::nullopt;
  HttpTarget target;
  target.https = scheme == "https";
  target.port = target.https ? 443 : 80;
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = rest.substr(authority_end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // user info: not sent
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto literal = IpAddress::Parse(authority.substr(1, close - 1));
    if (!literal || !literal->v6) return std::nullopt;
    target.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return std::nullopt;
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    target.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    const bool valid = std::all_of(target.host.begin(), target.host.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
    if (!valid) return std::nullopt;
  }
  if (target.host.empty()) return std::nullopt;
  std::transform(target.host.begin(), target.host.end(), target.host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (!port.empty()) {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return std::nullopt;
    }
    target.port = std::stoi(std::string(port));
    if (target.port < 1 || target.port > 65535) return std::nullopt;
  }
  target.path = std::string(tail.substr(0, tail.find('#')));
  if (target.path.empty() || target.path.front() != '/') target.path = "/" + target.path;
  return target;
}

// The URL a redirect's Location names, relative to the request it answers.
std::string ResolveLocation(const HttpTarget& base, std::string_view location) {
  while (!location.empty() && std::isspace(static_cast<unsigned char>(location.front()))) {
    location.remove_prefix(1);
  }
  while (!location.empty() && std::isspace(static_cast<unsigned char>(location.back()))) {
    location.remove_suffix(1);
  }
  const size_t scheme = location.find("://");
  if (scheme != std::string_view::npos && location.find_first_of("/?#") > scheme) {
    return std::string(location);  // absolute
  }
  if (location.starts_with("//")) return (base.https ? "https:" : "http:") + std::string(location);
  const std::string directory_path = base.path.substr(0, base.path.find('?'));
  if (location.starts_with('/')) return base.Origin() + std::string(location);
  if (location.starts_with('?')) return base.Origin() + directory_path + std::string(location);
  return base.Origin() + directory_path.substr(0, directory_path.rfind('/') + 1) +
         std::string(location);
}

struct Endpoint {
  std::string host;
  int port = 0;
};

// The object-storage endpoints the operator configured: fetched from whatever their
// addresses (object_storage.h reads the same variables).
std::vector<Endpoint> ConfiguredEndpoints(const Environment& env) {
  std::vector<Endpoint> endpoints;
  for (const char* name : {"STORAGE_EMULATOR_HOST", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
                           "MLFLOW_S3_ENDPOINT_URL"}) {
    std::string value = Lookup(env, name);
    if (value.empty()) continue;
    if (value.find("://") == std::string::npos) value = "http://" + value;
    if (auto target = ParseHttpUrl(value)) endpoints.push_back({target->host, target->port});
  }
  return endpoints;
}

// Under a public-only policy: the addresses to connect to for `target`, each checked (unless
// the operator configured the endpoint), or the refusal. `redirected`: `url` is where the
// fetch of `shown` was redirected to.
Result<std::vector<std::string>> CheckedAddresses(const HttpTarget& target, const std::string& url,
                                                  bool redirected, const std::string& shown,
                                                  const FetchPolicy& policy,
                                                  const std::vector<Endpoint>& configured) {
  auto resolved = policy.resolve ? policy.resolve(target.host) : ResolveHost(target.host);
  if (!resolved.ok()) {
    return resolved.status().WithContext(fmt::format("cannot download '{}'", shown));
  }
  const bool trusted = std::any_of(configured.begin(), configured.end(), [&](const Endpoint& e) {
    return e.host == target.host && e.port == target.port;
  });
  std::vector<std::string> addresses;
  for (const IpAddress& address : *resolved) {
    const AddressKind kind = ClassifyAddress(address);
    if (kind != AddressKind::kPublic && !trusted) {
      const std::string why = IpAddress::Parse(target.host)
                                  ? fmt::format("{} is {}", target.host, DescribeAddressKind(kind))
                                  : fmt::format("{} resolves to {}, {}", target.host,
                                                address.ToString(), DescribeAddressKind(kind));
      return InvalidArgument(fmt::format(
          "refusing to fetch {}: {}{}; {}", shown,
          redirected ? "it redirects to " + Shown(url) + ", and " : "", why, HowToAllow(policy)));
    }
    addresses.push_back(address.ToString());
  }
  return addresses;
}

// What one GET got.
struct HttpAnswer {
  int status = 0;
  std::string location;
  Status written;          // of the body to the destination
  bool truncated = false;  // stopped reading a body that was not wanted
  httplib::Error error = httplib::Error::Success;
};

// GETs `target`, connecting to each of `addresses` in turn until one accepts (none: the
// client resolves the host). A 200 answer's body goes to `out`, created then.
HttpAnswer Get(const HttpTarget& target, const httplib::Headers& headers,
               const std::vector<std::string>& addresses, const fs::path& destination,
               std::unique_ptr<AtomicFile>& out) {
  HttpAnswer answer;
  const size_t attempts = std::max<size_t>(1, addresses.size());
  for (size_t i = 0; i < attempts; ++i) {
    std::unique_ptr<httplib::ClientImpl> client;
    if (target.https) {
      client = std::make_unique<httplib::SSLClient>(target.host, target.port);
    } else {
      client = std::make_unique<httplib::ClientImpl>(target.host, target.port);
    }
    if (!addresses.empty()) client->set_hostname_addr_map({{target.host, addresses[i]}});
    client->set_follow_location(false);  // followed by the caller, each hop checked
    client->set_connection_timeout(10, 0);
    client->set_read_timeout(60, 0);
    size_t discarded = 0;
    auto result = client->Get(
        target.path, headers,
        [&](const httplib::Response& response) {
          answer.status = response.status;
          answer.location = response.get_header_value("Location");
          if (answer.status != 200) return true;  // read the body (and discard it below)
          auto created = AtomicFile::Create(destination);
          if (!created.ok()) {
            answer.written = created.status();
            return false;
          }
          out = std::move(*created);
          return true;
        },
        [&](const char* data, size_t length) {
          if (answer.status == 200) {
            answer.written = out->Append(data, length);
            return answer.written.ok();
          }
          discarded += length;
          answer.truncated = discarded > kMaxDiscardedBody;
          return !answer.truncated;
        });
    answer.error = result ? httplib::Error::Success : result.error();
    if (answer.error == httplib::Error::Connection && answer.status == 0 && i + 1 < attempts) {
      continue;  // the next address
    }
    break;
  }
  return answer;
}

Status FetchHttp(std::string_view uri, const fs::path& destination, const Environment& env,
                 const FetchPolicy& policy, const std::map<std::string, std::string>& headers = {},
                 std::string_view shown_as = {}) {
  const std::string shown = RedactUrlCredentials(shown_as.empty() ? uri : shown_as);
  // Credentials go to the host they are for only: no redirects when the request has any.
  const bool follow_redirects = headers.empty();
  const std::vector<Endpoint> configured =
      policy.public_only ? ConfiguredEndpoints(env) : std::vector<Endpoint>();
  const httplib::Headers request_headers(headers.begin(), headers.end());
  std::string url(uri);
  for (int redirects = 0;; ++redirects) {
    const std::optional<HttpTarget> target = ParseHttpUrl(url);
    if (!target) {
      if (redirects == 0) return InvalidArgument(fmt::format("URL '{}' has no valid host", shown));
      return FailedPrecondition(
          fmt::format("'{}' redirects to '{}', which is not an http(s) URL", shown, Shown(url)));
    }
    std::vector<std::string> addresses;
    if (policy.public_only) {
      SOMLIER_ASSIGN_OR_RETURN(addresses, CheckedAddresses(*target, url, redirects > 0,
                                                           Shown(shown), policy, configured));
    }
    std::unique_ptr<AtomicFile> out;
    const HttpAnswer answer = Get(*target, request_headers, addresses, destination, out);
    SOMLIER_RETURN_IF_ERROR(answer.written);
    const int status = answer.status;
    if (answer.error != httplib::Error::Success && !(answer.truncated && status != 200)) {
      return Unavailable(
          fmt::format("cannot download '{}': {}", shown, httplib::to_string(answer.error)));
    }
    const bool redirect =
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && follow_redirects && !answer.location.empty()) {
      if (redirects == kMaxRedirects) {
        return FailedPrecondition(
            fmt::format("'{}' redirects more than {} times", shown, kMaxRedirects));
      }
      url = ResolveLocation(*target, answer.location);
      continue;
    }
    if (status == 404) return NotFound(fmt::format("'{}' was not found (HTTP 404)", shown));
    if (status >= 500) return Unavailable(fmt::format("'{}' answered HTTP {}", shown, status));
    if (status == 401 || status == 403) {
      return FailedPrecondition(fmt::format(
          "'{}' answered HTTP {}: the credentials are missing or not allowed to read it", shown,
          status));
    }
    if (status != 200) {
      return FailedPrecondition(fmt::format("'{}' answered HTTP {}", shown, status));
    }
    return out->Commit();
  }
}

Status RefuseLocal(std::string_view uri, const FetchPolicy& policy) {
  return InvalidArgument(fmt::format("refusing to fetch {}: it names a file on this machine; {}",
                                     std::string(uri), HowToAllow(policy)));
}

}  // namespace

Status FetchToFile(std::string_view uri, const fs::path& destination) {
  return FetchToFile(uri, destination, ProcessEnvironment());
}

Status FetchToFile(std::string_view uri, const fs::path& destination, const Environment& env) {
  return FetchToFile(uri, destination, env, FetchPolicy::AnySource());
}

Status FetchToFile(std::string_view uri, const fs::path& destination, const Environment& env,
                   const FetchPolicy& policy) {
  if (uri.empty()) return InvalidArgument("the URI to fetch is empty");
  if (uri.starts_with("http://") || uri.starts_with("https://")) {
    return FetchHttp(uri, destination, env, policy);
  }
  if (uri.starts_with("file://")) {
    if (policy.public_only) return RefuseLocal(uri, policy);
    return FetchLocal(fs::path(uri.substr(7)), uri, destination);
  }
  if (uri.starts_with("gs://") || uri.starts_with("s3://")) {
    SOMLIER_ASSIGN_OR_RETURN(BucketObject object, ParseBucketUri(uri));
    SOMLIER_ASSIGN_OR_RETURN(SignedGet get, uri.starts_with("gs://") ? GcsGetRequest(object, env)
                                                                     : S3GetRequest(object, env));
    return FetchHttp(get.url, destination, env, policy, get.headers, uri);
  }
  if (uri.find("://") != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "cannot fetch '{}': expected a local path, file://, http(s)://, gs:// or s3:// URI",
        std::string(uri)));
  }
  if (policy.public_only) return RefuseLocal(uri, policy);
  return FetchLocal(fs::path(uri), uri, destination);
}

}  // namespace somlier
