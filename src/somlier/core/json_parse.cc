#include "somlier/core/json_parse.h"

#include <fmt/core.h>

namespace somlier {

int JsonNestingDepth(std::string_view text, int max_depth) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > max_depth) return max_depth + 1;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Status JsonTooDeep(std::string_view what, int max_depth) {
  return InvalidArgument(
      fmt::format("{} nests arrays and objects deeper than {} levels", what, max_depth));
}

Status JsonInvalid(std::string_view what) {
  return InvalidArgument(fmt::format("{} is not valid JSON", what));
}

}  // namespace somlier
