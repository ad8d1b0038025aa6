// Fuzz target: MLflow's page tokens, DecodePageToken (tracking/paging.h), and the base64
// codec under it (core/base64.h).
//
// Invariants: a decoded offset is >= 0 and encodes to a token that decodes to it again;
// any bytes survive Base64Encode + Base64Decode; the first 8 bytes, as an offset >= 0,
// survive EncodePageToken + DecodePageToken.
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "somlier/core/base64.h"
#include "somlier/tracking/paging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = somlier::fuzz::AsText(data, size);

  auto offset = somlier::DecodePageToken(text);
  if (offset.ok()) {
    FUZZ_CHECK(*offset >= 0, "a negative offset was decoded");
    auto again = somlier::DecodePageToken(somlier::EncodePageToken(*offset));
    FUZZ_CHECK(again.ok() && *again == *offset,
               "offset " + std::to_string(*offset) + " does not survive its own token");
  }

  // The decoder ignores the unused bits of a last group ("QR==" is "A", like "QQ=="), so
  // decoding is not checked against encoding; its output must still re-encode losslessly.
  if (auto decoded = somlier::Base64Decode(text)) {
    auto again = somlier::Base64Decode(somlier::Base64Encode(*decoded));
    FUZZ_CHECK(again && *again == *decoded, "decoded bytes do not survive base64");
  }
  auto round = somlier::Base64Decode(somlier::Base64Encode(text));
  FUZZ_CHECK(round && *round == text, "bytes do not survive base64");

  if (size >= 8) {
    int64_t value;
    std::memcpy(&value, data, sizeof value);
    if (value >= 0) {
      auto back = somlier::DecodePageToken(somlier::EncodePageToken(value));
      FUZZ_CHECK(back.ok() && *back == value, "offset " + std::to_string(value) + " round trip");
    }
  }
  return 0;
}
