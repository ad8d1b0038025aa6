// Fuzz target: JSON request bodies — somlier::ParseJson (core/json_parse.h), the API's
// field reader (api::Fields, both from a JSON body and from a GET query string) with its
// typed accessors, whose errors quote the offending value, and its unknown-field check.
//
// Invariants: a parsed value re-serialises without throwing (nlohmann's strict dump, which
// throws on invalid UTF-8) and parses back to itself, and its depth is what JsonNestingDepth
// said (of the text before any NUL byte, where nlohmann's parser stops).
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "somlier/api/fields.h"
#include "somlier/core/json_parse.h"

namespace {

using nlohmann::json;

int TreeDepth(const json& value) {
  if (!value.is_array() && !value.is_object()) return 0;
  int deepest = 0;
  for (const json& item : value) deepest = std::max(deepest, TreeDepth(item));
  return deepest + 1;
}

// Every accessor on a few names the API reads, so that the type errors (which quote the
// value) and the conversions run on whatever the input put there.
void ReadFields(const somlier::api::Fields& fields) {
  for (std::string_view name : {"name", "run_id", "experiment_id", "max_results", "value",
                                "timestamp", "step", "tags", "key", "order_by", "archive"}) {
    (void)fields.Has(name);
    (void)fields.String(name, "fallback");
    (void)fields.RequiredString(name);
    (void)fields.Int(name);
    (void)fields.Double(name);
    (void)fields.Bool(name);
    (void)fields.StringList(name);
    (void)fields.TagList(name);
    (void)fields.Raw(name);
  }
  static constexpr std::string_view kAccepted[] = {"name", "run_id", "tags"};
  (void)fields.OnlyKnown(kAccepted);
}

// A query string "k=v&k=v", unescaped as httplib does, into a GET request's params.
void ReadQuery(std::string_view text) {
  httplib::Request request;
  request.method = "GET";
  for (std::string_view pair : somlier::fuzz::SplitOn(text, '&')) {
    const size_t eq = pair.find('=');
    const std::string key(pair.substr(0, eq));
    const std::string value(eq == std::string_view::npos ? std::string_view()
                                                         : pair.substr(eq + 1));
    request.params.emplace(httplib::detail::decode_url(key, true),
                           httplib::detail::decode_url(value, true));
  }
  auto fields = somlier::api::Fields::From(request);
  if (fields.ok()) ReadFields(*fields);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = somlier::fuzz::AsText(data, size);

  const int depth = somlier::JsonNestingDepth(text);
  auto parsed = somlier::ParseJson(text, "the fuzz input");
  if (parsed.ok()) {
    FUZZ_CHECK(depth <= somlier::kMaxJsonDepth, "a value deeper than the limit was parsed");
    // nlohmann's parser stops at a NUL byte as at the end of the text ("[1]\0]]]" parses as
    // [1]), where JsonNestingDepth reads on: the depth is exact only for the text before it.
    const int tree_depth = TreeDepth(*parsed);
    FUZZ_CHECK(tree_depth <= depth, "JsonNestingDepth " + std::to_string(depth) +
                                        " but the tree is " + std::to_string(tree_depth) + " deep");
    const int before_nul = somlier::JsonNestingDepth(text.substr(0, text.find('\0')));
    FUZZ_CHECK(tree_depth == before_nul, "JsonNestingDepth " + std::to_string(before_nul) +
                                             " but the tree is " + std::to_string(tree_depth) +
                                             " deep");
    std::string again;
    somlier::fuzz::ExpectNoThrow("the parsed value's dump()", [&] { again = parsed->dump(); });
    auto reparsed = somlier::ParseJson(again, "the re-serialised input");
    FUZZ_CHECK(reparsed.ok() && *reparsed == *parsed, "the value does not survive dump+parse");
    (void)somlier::JsonPreview(*parsed);
  }
  (void)somlier::ParseJson<nlohmann::ordered_json>(text, "the fuzz input");
  (void)somlier::ParseJsonOrNull(text);

  for (auto dialect : {somlier::api::FieldDialect::kMlflow, somlier::api::FieldDialect::kSomlier}) {
    auto fields = somlier::api::Fields::FromJsonBody(text, dialect);
    if (fields.ok()) ReadFields(*fields);
  }

  if (size < 4096) ReadQuery(text);
  return 0;
}
