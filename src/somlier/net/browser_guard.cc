#include "somlier/net/browser_guard.h"

#include <fmt/core.h>
#include <httplib.h>

#include "somlier/core/strings.h"
#include "somlier/net/listen_socket.h"

namespace somlier {
namespace {

// Whether `authority` (host[:port]) is one of the names the operator allowed.
bool InAllowedList(std::string_view authority, const BrowserGuardOptions& options) {
  auto [host, port] = SplitHostPort(authority);
  if (host.empty()) return false;
  for (const std::string& allowed : options.allowed_hosts) {
    const auto [allowed_host, allowed_port] = SplitHostPort(allowed);  // "[v6]:port" too
    if (allowed_host == host && (allowed_port.empty() || allowed_port == port)) return true;
  }
  return false;
}

// Whether a Host header names this server.
bool HostAllowed(std::string_view authority, const BrowserGuardOptions& options) {
  return IsLoopbackHost(SplitHostPort(authority).first) || InAllowedList(authority, options);
}

bool HasBody(const httplib::Request& request) {
  if (request.has_header("Transfer-Encoding")) return true;
  const std::string length = request.get_header_value("Content-Length");
  return !length.empty() && length.find_first_not_of('0') != std::string::npos;
}

std::string MediaType(const std::string& content_type) {
  return ToLower(Trim(std::string_view(content_type).substr(0, content_type.find(';'))));
}

std::string Shown(std::string_view text) {
  if (text.size() > 100) return std::string(text.substr(0, 100)) + "...";
  return std::string(text);
}

}  // namespace

std::pair<std::string, std::string> SplitHostPort(std::string_view authority) {
  authority = Trim(authority);
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return {"", ""};
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (rest.starts_with(':'))
      port = rest.substr(1);
    else if (!rest.empty())
      return {"", ""};
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    if (authority.find(':') != colon) return {ToLower(authority), ""};  // a bare IPv6 address
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (port.find_first_not_of("0123456789") != std::string_view::npos) return {"", ""};
  return {ToLower(host), std::string(port)};
}

std::optional<GuardRefusal> CheckBrowserRequest(const httplib::Request& request,
                                                const BrowserGuardOptions& options,
                                                bool body_is_raw) {
  const std::string host = request.get_header_value("Host");
  const bool has_origin = request.has_header("Origin");
  const bool host_ok = HostAllowed(host, options);
  if ((!options.token_required || has_origin) && !host_ok) {
    return GuardRefusal{
        403, fmt::format("Host '{}' is not a name of this server: without a token it answers "
                         "only requests addressed to localhost, 127.0.0.1 or [::1] (a guard "
                         "against DNS rebinding). Start it with --allowed_hosts NAME to accept "
                         "another name",
                         Shown(host))};
  }
  if (has_origin) {
    const std::string origin = request.get_header_value("Origin");
    const size_t scheme_end = origin.find("://");
    const std::string_view authority = scheme_end == std::string::npos
                                           ? std::string_view()
                                           : std::string_view(origin).substr(scheme_end + 3);
    const bool same_origin = !authority.empty() && ToLower(authority) == ToLower(host);
    const bool allowed_origin =
        authority.find('/') == std::string_view::npos && InAllowedList(authority, options);
    if (!same_origin && !allowed_origin) {
      return GuardRefusal{
          403, fmt::format("cross-origin request from '{}' refused: only pages served by this "
                           "server, or from a host given with --allowed_hosts, may call it",
                           Shown(origin))};
    }
  }
  const std::string& method = request.method;
  const bool changes_state = method == "POST" || method == "PATCH" ||
                             ((method == "PUT" || method == "DELETE") && HasBody(request));
  if (changes_state && !body_is_raw) {
    const std::string type = MediaType(request.get_header_value("Content-Type"));
    if (type != "application/json") {
      return GuardRefusal{
          415, fmt::format("{} requests must send 'Content-Type: application/json' with a JSON "
                           "body{}",
                           method,
                           type.empty() ? " (this one has no Content-Type)"
                                        : fmt::format(" (this one sends '{}')", Shown(type)))};
    }
  }
  return std::nullopt;
}

}  // namespace somlier
