// BrowserGuard: keeps a web page the user happens to visit from driving a SoMLier server
// through the user's browser — cross-site request forgery and DNS rebinding.
//
// The rules, checked before a request is routed or its body read:
//   1. Host. Without a token (loopback-only mode) the Host header must name this machine's
//      loopback interface (localhost, 127.0.0.0/8, [::1]; any port) or one of
//      `allowed_hosts` — a page on evil.example whose name was re-pointed at 127.0.0.1
//      sends `Host: evil.example` and is refused. With a token, requests without an Origin
//      (CLIs, MLflow clients, probes, pods) are not held to the Host check: the token is
//      what a page cannot present.
//   2. Origin. A request that carries an Origin (browsers send one on cross-site requests
//      and on every POST) must come from this server's own origin (the Origin's host and
//      port equal the Host header, and the Host passes rule 1) or from a host in
//      `allowed_hosts`; "null" and anything else is refused.
//   3. Content type. POST and PATCH, and PUT or DELETE with a body, must send
//      `Content-Type: application/json` (HTML forms and "simple" cross-site requests can
//      only send form, multipart or text/plain bodies). Routes the caller marks exempt
//      (artifact uploads, which are raw bytes) rely on rules 1–2 and the token instead.
//
// Pure functions over the request's method and headers; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace httplib {
struct Request;
}  // namespace httplib

namespace somlier {

struct BrowserGuardOptions {
  bool token_required = false;
  // Extra names clients may use for this server, as `name` (any port) or `name:port`.
  std::vector<std::string> allowed_hosts;
};

// Why a request was refused: the HTTP status (403 or 415) and a message for the client.
struct GuardRefusal {
  int http_status = 403;
  std::string message;
};

// nullopt when the request may proceed. `body_is_raw`: the route takes raw bytes (rule 3
// does not apply).
std::optional<GuardRefusal> CheckBrowserRequest(const httplib::Request& request,
                                                const BrowserGuardOptions& options,
                                                bool body_is_raw);

// Splits "host:port", "[v6]:port", "host" into the lower-cased host (without brackets)
// and the port text ("" when none).
std::pair<std::string, std::string> SplitHostPort(std::string_view authority);

}  // namespace somlier
