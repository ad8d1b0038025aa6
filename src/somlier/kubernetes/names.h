// Kubernetes names and labels: what the API server accepts (DNS-1123 labels and subdomains,
// label keys and values), checked here before anything is sent, and the mapping of
// SoMLier's own names (projects, run ids, model names) onto them. The npm schema packages
// the tests validate manifests with accept any string in these places, so these checks are
// the only ones before the cluster's. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier::kubernetes {

// RFC 1123 label: 1-63 of [a-z0-9-], starting and ending alphanumeric (namespaces, container
// names; Service names must also start with a letter, RFC 1035, which SoMLier's "somlier-..."
// names do).
bool IsDnsLabel(std::string_view name);
// RFC 1123 subdomain: 1-253 characters, dot-separated DNS labels (Job, Secret, ConfigMap
// names).
bool IsDnsSubdomain(std::string_view name);
// A label value: empty, or 1-63 of [A-Za-z0-9._-] starting and ending alphanumeric.
bool IsLabelValue(std::string_view value);
// A label key: an optional DNS subdomain prefix and '/', then a name of 1-63 of
// [A-Za-z0-9._-] starting and ending alphanumeric.
bool IsLabelKey(std::string_view key);

// Errors: InvalidArgument naming `what`, the value and the rule it breaks.
Status CheckDnsLabel(std::string_view what, std::string_view name);
Status CheckLabelValue(std::string_view what, std::string_view value);

// A DNS label made from `text`: lower-cased, runs of other characters as one '-', trimmed to
// start and end alphanumeric; when that changed `text` or was too long, a '-' and 8 hex
// digits of a hash of `text` end it, so distinct texts stay distinct. At most `max` characters
// (clamped to 10..63, room for the hash); never empty ("x" and the hash for text without a
// usable character).
std::string ToDnsLabel(std::string_view text, size_t max = 63);
// A label value made from `text` the same way (case and '.', '_' kept).
std::string ToLabelValue(std::string_view text);

}  // namespace somlier::kubernetes
