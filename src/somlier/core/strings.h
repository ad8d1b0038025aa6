// Strings: small text helpers shared across layers. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace somlier {

std::string ToLower(std::string_view text);
std::string ToUpper(std::string_view text);

// Without leading and trailing ASCII whitespace.
std::string_view Trim(std::string_view text);

// `text` with every occurrence of `from` (not empty) replaced by `to`.
std::string ReplaceAll(std::string text, std::string_view from, std::string_view to);

// Splits on every `separator`; "a,,b" -> {"a", "", "b"}; "" -> {""}.
std::vector<std::string> Split(std::string_view text, char separator);

std::string Join(const std::vector<std::string>& parts, std::string_view separator);

// Python's repr() of a string ('a', "it's") and of a list of strings (['a', 'b']), for
// output that mirrors the Python tool SoMLier re-creates.
std::string PythonRepr(std::string_view text);
std::string PythonListRepr(const std::vector<std::string>& items);

// A double as Python's str() writes it: shortest round-trip digits, "1.0" not "1", "nan",
// "inf".
std::string PythonFloat(double value);

// The offset of the first byte of `text` that is not part of well-formed UTF-8 (overlong
// forms, surrogates and code points past U+10FFFF count as malformed), or npos.
size_t FindInvalidUtf8(std::string_view text);

}  // namespace somlier
