// Url: small helpers for URLs that may carry credentials.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace somlier {

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db", and the values of
// password= and sslpassword= parameters (libpq's) as ***. Anything without a password is
// returned unchanged. For messages and logs: credentials never reach either.
std::string RedactUrlPassword(std::string_view url);

// Like RedactUrlPassword, and for http(s) URLs a user name without a password too (hosts
// such as GitHub take a token there: "https://TOKEN@github.com/org/repo.git"). For
// repository URLs shown to users or stored on runs.
std::string RedactUrlCredentials(std::string_view url);

// "scheme://host[:port]/path?query" split into its origin ("scheme://host[:port]") and the
// rest ("/path?query", "/" when empty); nullopt when there is no scheme or no host.
struct UrlParts {
  std::string origin;
  std::string path;
};
std::optional<UrlParts> SplitUrl(std::string_view url);

}  // namespace somlier
