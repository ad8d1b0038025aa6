#include "somlier/kubernetes/names.h"

#include <fmt/core.h>

#include <cstdint>

namespace somlier::kubernetes {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// FNV-1a, 32 bits: a short, stable suffix (not a security measure).
uint32_t Hash(std::string_view text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Lower-cases (unless `keep_case`) and replaces runs of characters outside the alphabet by
// one '-', then trims the ends to alphanumerics and appends a hash when anything changed.
std::string Sanitize(std::string_view text, size_t max, bool label_value) {
  std::string out;
  bool dash = false;
  for (char c : text) {
    char k = label_value ? c : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    const bool ok = label_value ? (IsAlnum(k) || k == '.' || k == '_' || k == '-')
                                : (IsLowerAlnum(k) || k == '-');
    if (ok) {
      out += k;
      dash = false;
    } else if (!dash) {
      out += '-';
      dash = true;
    }
  }
  auto trim = [&](std::string& s) {
    while (!s.empty() && !IsAlnum(s.back())) s.pop_back();
    size_t start = 0;
    while (start < s.size() && !IsAlnum(s[start])) ++start;
    s.erase(0, start);
  };
  trim(out);
  if (out == text && out.size() <= max && !out.empty()) return out;
  const std::string suffix = fmt::format("-{:08x}", Hash(text));
  if (out.empty()) out = "x";
  if (out.size() > max - suffix.size()) out.resize(max - suffix.size());
  trim(out);
  if (out.empty()) out = "x";
  return out + suffix;
}

}  // namespace

bool IsDnsLabel(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDnsSubdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view part =
        name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!IsDnsLabel(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsLabelValue(std::string_view value) { return value.empty() || IsLabelName(value); }

bool IsLabelKey(std::string_view key) {
  const size_t slash = key.rfind('/');
  if (slash == std::string_view::npos) return IsLabelName(key);
  return IsDnsSubdomain(key.substr(0, slash)) && IsLabelName(key.substr(slash + 1));
}

Status CheckDnsLabel(std::string_view what, std::string_view name) {
  if (IsDnsLabel(name)) return OkStatus();
  return InvalidArgument(fmt::format(
      "{} '{}' is not a valid Kubernetes name: use 1 to 63 lower-case letters, digits and '-', "
      "starting and ending with a letter or digit",
      what, name));
}

Status CheckLabelValue(std::string_view what, std::string_view value) {
  if (IsLabelValue(value)) return OkStatus();
  return InvalidArgument(fmt::format(
      "{} '{}' is not a valid Kubernetes label value: use at most 63 letters, digits, '-', '_' "
      "and '.', starting and ending with a letter or digit",
      what, value));
}

std::string ToDnsLabel(std::string_view text, size_t max) {
  return Sanitize(text, std::min<size_t>(std::max<size_t>(max, 10), 63), false);
}

std::string ToLabelValue(std::string_view text) { return Sanitize(text, 63, true); }

}  // namespace somlier::kubernetes
