// Fuzz target: the HTTP listener's request framing (net/request_framing.h) — the request
// head parser and the chunked-body decoder, the first code every byte from a client meets.
//
// The first byte chooses: even, the rest is a request head; odd, it is a chunked body fed
// in pieces cut at every 0x00 byte (0x00 never appears in valid framing), with a limit
// taken from the second byte.
//
// Invariants: a parsed head's method is 1-16 upper-case letters, its forwarded text starts
// with the request line and never carries the framing headers; the decoder never consumes
// more than it is given, never passes on more than the limit, and once done consumes
// nothing more.
#include "fuzz/fuzz_util.h"
#include "somlier/core/strings.h"
#include "somlier/net/request_framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool chunked = (data[0] & 1) != 0;
  const std::string_view text = somlier::fuzz::AsText(data + 1, size - 1);
  if (!chunked) {
    const somlier::ParsedHead parsed = somlier::ParseRequestHead(text);
    if (parsed.refusal) {
      const int s = parsed.refusal->status;
      // 415 refuses a Content-Encoding other than identity (found by fuzzing: the list of
      // refusals here had not followed request_framing when 415 was added).
      FUZZ_CHECK(s == 400 || s == 415 || s == 417 || s == 501,
                 "unexpected status " + std::to_string(s));
      return 0;
    }
    const somlier::RequestHead& h = parsed.head;
    FUZZ_CHECK(!h.method.empty() && h.method.size() <= 16, "method " + h.method);
    FUZZ_CHECK(text.starts_with(h.forwarded.substr(0, h.forwarded.find("\r\n"))),
               "the forwarded request line differs");
    const std::string forwarded = somlier::ToLower(h.forwarded);
    for (const char* framing : {"\r\ncontent-length:", "\r\ntransfer-encoding:", "\r\nexpect:"}) {
      FUZZ_CHECK(forwarded.find(framing) == std::string::npos,
                 std::string("a framing header was forwarded: ") + framing);
    }
    FUZZ_CHECK(!(h.chunked && h.content_length), "both chunked and a length");
    return 0;
  }
  const uint64_t limit = text.empty() ? 0 : static_cast<uint8_t>(text[0]) * 16;
  somlier::ChunkedDecoder decoder;
  uint64_t passed_on = 0;
  for (std::string_view piece :
       somlier::fuzz::SplitOn(text.empty() ? text : text.substr(1), '\0')) {
    const bool was_done = decoder.done();
    const somlier::ChunkedDecoder::Fed fed =
        decoder.Feed(piece, limit, "POST /fuzz", [&](std::string_view d) {
          passed_on += d.size();
          return true;
        });
    FUZZ_CHECK(fed.consumed <= piece.size(), "consumed more than given");
    FUZZ_CHECK(passed_on <= limit, "passed on more than the limit");
    FUZZ_CHECK(!was_done || fed.consumed == 0, "consumed input after the body ended");
    if (fed.refusal) {
      FUZZ_CHECK(fed.refusal->status == 400 || fed.refusal->status == 413, "unexpected status");
      break;
    }
  }
  FUZZ_CHECK(passed_on == decoder.decoded(), "decoded() disagrees with what was passed on");
  return 0;
}
