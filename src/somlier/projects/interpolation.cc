#include "somlier/projects/interpolation.h"

#include <fmt/core.h>

#include <cctype>

namespace somlier {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool StartsReference(std::string_view text, size_t i) {
  return text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{';
}

// The position of the '}' that closes the reference whose "${" is at `open`, skipping the
// references nested in its default; npos when there is none. Fails when the references
// nest deeper than kMaxInterpolationDepth.
Result<size_t> FindClose(std::string_view text, size_t open, int depth) {
  int nested = 0;
  for (size_t i = open + 2; i < text.size(); ++i) {
    if (StartsReference(text, i)) {
      if (depth + ++nested > kMaxInterpolationDepth) {
        return InvalidArgument(fmt::format("'{}' nests '${{' references more than {} deep", text,
                                           kMaxInterpolationDepth));
      }
      ++i;  // past the '{'
    } else if (text[i] == '}') {
      if (nested == 0) return i;
      --nested;
    }
  }
  return std::string_view::npos;
}

Result<std::string> InterpolateAt(std::string_view text, const Environment& env, int depth) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!StartsReference(text, i)) {
      out += text[i++];
      continue;
    }
    SOMLIER_ASSIGN_OR_RETURN(const size_t close, FindClose(text, i, depth));
    if (close == std::string_view::npos) {
      return InvalidArgument(fmt::format("'{}' has a '${{' without its closing '}}'", text));
    }
    const std::string_view body = text.substr(i + 2, close - i - 2);
    const size_t colon = body.find(':');
    const std::string_view name = body.substr(0, colon);
    bool valid = !name.empty() && IsNameStart(name[0]);
    for (char c : name) valid = valid && IsNameChar(c);
    if (!valid) {
      return InvalidArgument(
          fmt::format("'${{{}}}' does not name an environment variable (expected ${{NAME}} or "
                      "${{NAME:default}})",
                      body));
    }
    if (auto it = env.find(std::string(name)); it != env.end()) {
      out += it->second;
    } else if (colon != std::string_view::npos) {
      SOMLIER_ASSIGN_OR_RETURN(std::string value,
                               InterpolateAt(body.substr(colon + 1), env, depth + 1));
      out += value;
    } else {
      return InvalidArgument(
          fmt::format("environment variable {} is not set and '${{{}}}' has no default (write "
                      "${{{}:default}} to give one)",
                      name, name, name));
    }
    i = close + 1;
  }
  return out;
}

}  // namespace

Result<std::string> Interpolate(std::string_view text, const Environment& env) {
  return InterpolateAt(text, env, 1);
}

}  // namespace somlier
