// JsonParse: the one way SoMLier parses JSON it did not write itself — request bodies,
// MLmodel and state files, answers of other servers and of child processes. Parsing is
// bounded by construction: text nested deeper than `max_depth` arrays/objects is refused
// by a linear scan before any tree is built, so nothing that later walks the tree
// recursively (dump(), copies, comparisons, error messages that quote a value) can recurse
// more than `max_depth` levels, whatever the input. Size limits are the caller's (bodies
// are bounded by the HTTP layer before they are read).
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier {

// Deeper than anything SoMLier's formats need (a 4-d tensor in a request is 6 levels),
// shallow enough for every recursive walk over a parsed value.
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, counting brackets outside strings;
// stops counting (and returns max_depth + 1) as soon as it passes `max_depth`. For valid
// JSON it is exactly the depth of the parsed tree; for invalid JSON an upper bound of
// what a parser would build before failing.
int JsonNestingDepth(std::string_view text, int max_depth = kMaxJsonDepth);

// The errors of ParseJson: InvalidArgument "<what> nests arrays and objects deeper than N
// levels" and "<what> is not valid JSON".
Status JsonTooDeep(std::string_view what, int max_depth);
Status JsonInvalid(std::string_view what);

// `text` parsed; `what` names it in errors ("the request body", "MLmodel").
template <typename Json = nlohmann::json>
Result<Json> ParseJson(std::string_view text, std::string_view what,
                       int max_depth = kMaxJsonDepth) {
  if (JsonNestingDepth(text, max_depth) > max_depth) return JsonTooDeep(what, max_depth);
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return JsonInvalid(what);
  return parsed;
}

// `text` parsed, or null when it is not valid JSON or nests too deeply — for callers that
// accept one shape only (an object, say) and report anything else alike.
template <typename Json = nlohmann::json>
Json ParseJsonOrNull(std::string_view text, int max_depth = kMaxJsonDepth) {
  if (JsonNestingDepth(text, max_depth) > max_depth) return Json();
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? Json() : parsed;
}

// `value` as compact JSON for an error message, cut to `max_chars` (with "..."); invalid
// UTF-8 is replaced, never thrown.
template <typename Json>
std::string JsonPreview(const Json& value, size_t max_chars = 60) {
  std::string shown = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (shown.size() > max_chars) shown = shown.substr(0, max_chars) + "...";
  return shown;
}

}  // namespace somlier
