#include "somlier/artifacts/fetch_policy.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace somlier {
namespace {

// Whether the first `bits` bits of `bytes` are those of `prefix`.
bool InPrefix(const uint8_t* bytes, std::initializer_list<uint8_t> prefix, int bits) {
  const uint8_t* p = prefix.begin();
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((bytes[i] & mask) != (p[i] & mask)) return false;
  }
  return true;
}

AddressKind ClassifyV4(const uint8_t* a) {
  if (a[0] == 0) return AddressKind::kUnspecified;  // "this network"; 0.0.0.0 is the host
  if (a[0] == 127) return AddressKind::kLoopback;
  if (a[0] == 10 || InPrefix(a, {172, 16}, 12) || InPrefix(a, {192, 168}, 16) ||
      InPrefix(a, {100, 64}, 10)) {
    return AddressKind::kPrivate;
  }
  if (InPrefix(a, {169, 254}, 16)) return AddressKind::kLinkLocal;
  if (InPrefix(a, {224}, 4)) return AddressKind::kMulticast;
  if (InPrefix(a, {240}, 4) || InPrefix(a, {192, 0, 0}, 24) || InPrefix(a, {198, 18}, 15) ||
      InPrefix(a, {192, 0, 2}, 24) || InPrefix(a, {198, 51, 100}, 24) ||
      InPrefix(a, {203, 0, 113}, 24)) {
    return AddressKind::kReserved;
  }
  return AddressKind::kPublic;
}

AddressKind ClassifyV6(const uint8_t* a) {
  static constexpr uint8_t kZero[16] = {};
  const bool first_ten_zero = std::memcmp(a, kZero, 10) == 0;
  if (std::memcmp(a, kZero, 15) == 0) {
    if (a[15] == 0) return AddressKind::kUnspecified;  // ::
    if (a[15] == 1) return AddressKind::kLoopback;     // ::1
  }
  // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96 (deprecated, still parsed).
  if (first_ten_zero && ((a[10] == 0xff && a[11] == 0xff) || (a[10] == 0 && a[11] == 0))) {
    return ClassifyV4(a + 12);
  }
  // NAT64's well-known prefix 64:ff9b::/96 reaches the IPv4 address it ends with.
  if (InPrefix(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) {
    return ClassifyV4(a + 12);
  }
  if (InPrefix(a, {0xff}, 8)) return AddressKind::kMulticast;
  if (InPrefix(a, {0xfe, 0x80}, 10)) return AddressKind::kLinkLocal;
  if (InPrefix(a, {0xfc}, 7) || InPrefix(a, {0xfe, 0xc0}, 10)) return AddressKind::kPrivate;
  return AddressKind::kPublic;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  const std::string s(text);
  IpAddress address;
  if (inet_pton(AF_INET, s.c_str(), address.bytes.data()) == 1) return address;
  if (inet_pton(AF_INET6, s.c_str(), address.bytes.data()) == 1) {
    address.v6 = true;
    return address;
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

AddressKind ClassifyAddress(const IpAddress& address) {
  return address.v6 ? ClassifyV6(address.bytes.data()) : ClassifyV4(address.bytes.data());
}

std::string_view DescribeAddressKind(AddressKind kind) {
  switch (kind) {
    case AddressKind::kPublic:
      return "a public address";
    case AddressKind::kLoopback:
      return "a loopback address";
    case AddressKind::kPrivate:
      return "a private address";
    case AddressKind::kLinkLocal:
      return "a link-local address";
    case AddressKind::kUnspecified:
      return "an unspecified address";
    case AddressKind::kMulticast:
      return "a multicast address";
    case AddressKind::kReserved:
      return "a reserved address";
  }
  return "an address";
}

Result<std::vector<IpAddress>> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (error != 0) {
    return Unavailable(fmt::format("cannot resolve host '{}': {}", host, gai_strerror(error)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, &freeaddrinfo);
  std::vector<IpAddress> addresses;
  for (const addrinfo* info = found; info != nullptr; info = info->ai_next) {
    IpAddress address;
    if (info->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(info->ai_addr);
      std::memcpy(address.bytes.data(), &in->sin_addr, 4);
    } else if (info->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(info->ai_addr);
      address.v6 = true;
      std::memcpy(address.bytes.data(), &in6->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
      addresses.push_back(address);
    }
  }
  if (addresses.empty()) {
    return Unavailable(fmt::format("host '{}' has no IPv4 or IPv6 address", host));
  }
  return addresses;
}

}  // namespace somlier
