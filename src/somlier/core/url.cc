#include "somlier/core/url.h"

#include <algorithm>

namespace somlier {

std::string RedactUrlPassword(std::string_view url) {
  std::string out(url);
  // libpq's password= and sslpassword= parameters.
  for (const std::string_view key : {"password=", "sslpassword="}) {
    for (size_t p = out.find(key); p != std::string::npos; p = out.find(key, p + 1)) {
      if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
      const size_t start = p + key.size();
      const size_t end = std::min(out.find_first_of("&#", start), out.size());
      out.replace(start, end - start, "***");
    }
  }
  auto scheme_end = out.find("://");
  if (scheme_end == std::string::npos) return out;
  size_t authority = scheme_end + 3;
  size_t authority_end = out.find_first_of("/?#", authority);
  if (authority_end == std::string::npos) authority_end = out.size();
  size_t at = out.rfind('@', authority_end);
  if (at == std::string::npos || at < authority) return out;
  size_t colon = out.find(':', authority);
  if (colon == std::string::npos || colon > at) return out;
  out.replace(colon + 1, at - colon - 1, "***");
  return out;
}

std::string RedactUrlCredentials(std::string_view url) {
  std::string out = RedactUrlPassword(url);
  if (!out.starts_with("http://") && !out.starts_with("https://")) return out;
  const size_t authority = out.find("://") + 3;
  size_t authority_end = out.find_first_of("/?#", authority);
  if (authority_end == std::string::npos) authority_end = out.size();
  const size_t at = out.rfind('@', authority_end);
  if (at == std::string::npos || at < authority) return out;
  if (out.find(':', authority) < at) return out;  // user:*** already
  out.replace(authority, at - authority, "***");
  return out;
}

std::optional<UrlParts> SplitUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return std::nullopt;
  const size_t path = url.find_first_of("/?#", scheme + 3);
  UrlParts parts;
  parts.origin = std::string(url.substr(0, path));
  if (parts.origin.size() <= scheme + 3) return std::nullopt;
  parts.path = path == std::string_view::npos ? "/" : std::string(url.substr(path));
  if (parts.path.front() != '/') parts.path = "/" + parts.path;
  return parts;
}

}  // namespace somlier
