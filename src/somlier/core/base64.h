// Base64: standard alphabet with padding (RFC 4648 §4), for page tokens and HTTP Basic
// authentication. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace somlier {

std::string Base64Encode(std::string_view bytes);

// nullopt when `text` is not valid padded base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace somlier
