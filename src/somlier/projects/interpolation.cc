#include "somlier/projects/interpolation.h"

#include <fmt/core.h>

#include <cctype>

namespace somlier {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

Result<std::string> Interpolate(std::string_view text, const Environment& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
      out += text[i++];
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument(fmt::format("'{}' has a '${{' without its closing '}}'", text));
    }
    const std::string_view body = text.substr(i + 2, close - i - 2);
    const size_t colon = body.find(':');
    const std::string_view name = body.substr(0, colon);
    bool valid = !name.empty() && IsNameStart(name[0]);
    for (char c : name) valid = valid && IsNameChar(c);
    if (!valid) {
      return InvalidArgument(fmt::format(
          "'${{{}}}' does not name an environment variable (expected ${{NAME}} or "
          "${{NAME:default}})",
          body));
    }
    if (auto it = env.find(std::string(name)); it != env.end()) {
      out += it->second;
    } else if (colon != std::string_view::npos) {
      out += body.substr(colon + 1);
    } else {
      return InvalidArgument(fmt::format(
          "environment variable {} is not set and '${{{}}}' has no default (write "
          "${{{}:default}} to give one)",
          name, name, name));
    }
    i = close + 1;
  }
  return out;
}

}  // namespace somlier
