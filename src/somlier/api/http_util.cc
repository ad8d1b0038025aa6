#include "somlier/api/http_util.h"

#include <fmt/core.h>

namespace somlier::api {

std::string RegexEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string ContentDispositionAttachment(std::string_view filename) {
  std::string quoted;   // the quoted-string's content
  std::string encoded;  // RFC 8187 ext-value's value-chars
  bool ascii = true;
  for (char c : filename) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) continue;  // control characters: never in a header
    if (byte >= 0x80) {
      ascii = false;
      if ((byte & 0xC0) != 0x80) quoted += '_';  // one '_' per non-ASCII character
    } else {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    // attr-char (RFC 8187): ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" /
    // "_" / "`" / "|" / "~"; everything else is percent-encoded.
    const bool attr_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') ||
                           std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
    if (attr_char) {
      encoded += c;
    } else {
      encoded += fmt::format("%{:02X}", byte);
    }
  }
  if (quoted.empty()) quoted = "download";
  std::string header = "attachment; filename=\"" + quoted + "\"";
  if (!ascii) header += "; filename*=UTF-8''" + encoded;
  return header;
}

}  // namespace somlier::api
