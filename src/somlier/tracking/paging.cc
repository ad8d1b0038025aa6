#include "somlier/tracking/paging.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "somlier/core/base64.h"
#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"

namespace somlier {

std::string EncodePageToken(int64_t offset) {
  return Base64Encode(fmt::format("{{\"offset\": {}}}", offset));
}

Result<int64_t> DecodePageToken(std::string_view token) {
  if (token.empty()) return int64_t{0};
  const auto bad = [&] {
    return InvalidArgument(
        fmt::format("invalid page token '{}': pass the next_page_token of the "
                    "previous page unchanged",
                    token));
  };
  auto decoded = Base64Decode(token);
  if (!decoded) return bad();
  auto json = ParseJsonOrNull(*decoded);
  if (!json.is_object() || !json.contains("offset")) return bad();
  auto offset = IntFromJson("offset", json["offset"], kNonNegative);
  if (!offset.ok()) return bad();
  return offset;
}

}  // namespace somlier
