// FetchPolicy: which sources FetchToFile (artifacts/fetch.h) may read on behalf of a caller,
// and the address classification it rests on.
//
// A user's own command may fetch anything (FetchPolicy::AnySource(), the default). A URI
// that comes from a REST caller must not turn the server into a proxy to its own network or
// an oracle for its files, so servers use FetchPolicy::PublicOnly(): local paths and file://
// are refused, and every http(s) host — the first one and each redirect's — is resolved and
// refused when any of its addresses is not public (loopback, private, link-local,
// unspecified, multicast or reserved; IPv4 embedded in IPv6 is judged as IPv4). The
// connection then goes to the address that was checked (no second lookup a DNS rebinding
// could answer differently). Endpoints the operator configured in the environment
// (STORAGE_EMULATOR_HOST, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, MLFLOW_S3_ENDPOINT_URL)
// stay allowed whatever their addresses, matched by host and port.
//
// Value types and pure functions; thread-safe as long as `resolve` is.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"

namespace somlier {

// An IPv4 or IPv6 address (no zone or port).
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4 bytes, in network order

  // "10.0.0.1" or "fe80::1" (the forms inet_pton accepts); nullopt for anything else.
  static std::optional<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

enum class AddressKind {
  kPublic,
  kLoopback,     // 127/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10 (shared), fc00::/7, fec0::/10
  kLinkLocal,    // 169.254/16, fe80::/10
  kUnspecified,  // 0/8, ::
  kMulticast,    // 224/4, ff00::/8
  kReserved,     // 240/4 (with 255.255.255.255), 192.0.0/24, 198.18/15, documentation nets
};

// The kind of `address`. IPv6 forms that carry an IPv4 address — IPv4-mapped
// (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) — have the
// kind of that IPv4 address.
AddressKind ClassifyAddress(const IpAddress& address);

// "a loopback address", "a private address", ... for messages.
std::string_view DescribeAddressKind(AddressKind kind);

// The addresses `host` (a name or an address literal, IPv6 without brackets) resolves to,
// with getaddrinfo. Errors: Unavailable when it does not resolve.
Result<std::vector<IpAddress>> ResolveHost(const std::string& host);

struct FetchPolicy {
  // False: anything FetchToFile supports. True: public sources only, as described above.
  bool public_only = false;
  // Ends a refusal's message: why the fetch is restricted and how to allow it.
  std::string how_to_allow;
  // Resolves host names (public_only). Empty: ResolveHost. A seam for tests.
  std::function<Result<std::vector<IpAddress>>(const std::string& host)> resolve;

  static FetchPolicy AnySource() { return {}; }
  static FetchPolicy PublicOnly(std::string how_to_allow) {
    FetchPolicy policy;
    policy.public_only = true;
    policy.how_to_allow = std::move(how_to_allow);
    return policy;
  }
};

}  // namespace somlier
