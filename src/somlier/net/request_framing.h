// RequestFraming: the framing of one HTTP/1.1 request as the listener (net/http_listener.h)
// reads it from a connection — the request line and headers, and a chunked body — before
// any handler sees it. Both are pure parsers of untrusted bytes: bounded (the caller caps
// the head's size; chunk lines and trailers are capped here), never recursive, and every
// refusal carries the HTTP status to answer with and a message for the client.
//
// Value types; not synchronised (one connection's reader uses one decoder).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace somlier {

// Why a request is refused: 400, 413, 415, 417 or 501, and what to tell the client.
struct HttpRefusal {
  int status = 400;
  std::string message;
};

struct RequestHead {
  std::string method;  // upper-case letters
  std::string path;    // the target up to '?'
  bool http10 = false;
  // The request line and headers handed on to the handler, each ending in CRLF, without
  // the framing headers (Content-Length, Transfer-Encoding, Expect) the listener resolves.
  std::string forwarded;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool close_after = false;  // `Connection: close`, or HTTP/1.0 without keep-alive
  bool expect_continue = false;

  bool has_body() const { return chunked || (content_length && *content_length > 0); }
};

struct ParsedHead {
  RequestHead head;
  std::optional<HttpRefusal> refusal;  // set when the head is refused
};

// Parses a request head: `text` is everything before the empty line that ends it.
// Refusals: 400 for a malformed request line or header, conflicting or invalid lengths,
// or both a length and a transfer coding, and for a CR, LF or NUL inside a header; 415 for
// a Content-Encoding other than identity (the router would inflate it past every limit);
// 417 for an Expect other than 100-continue; 501 for a transfer coding other than chunked
// (in any spelling).
ParsedHead ParseRequestHead(std::string_view text);

// Decodes `Transfer-Encoding: chunked` as its bytes arrive, in pieces split anywhere.
class ChunkedDecoder {
 public:
  static constexpr size_t kMaxLineBytes = 1024;     // a chunk-size line (with extensions)
  static constexpr size_t kMaxTrailerBytes = 8192;  // all trailer lines together

  struct Fed {
    size_t consumed = 0;  // bytes of the input that belonged to the body
    std::optional<HttpRefusal> refusal;
    bool stopped = false;  // the sink said stop
  };

  // Feeds `input`; data goes to `sink` (which returns false to stop). Consumes input up to
  // the end of the body and no further, so what follows (a pipelined request) stays with
  // the caller. Refusals: 400 for malformed framing, 413 when the data would pass `limit`
  // bytes (`what` names the request in the message).
  Fed Feed(std::string_view input, uint64_t limit, std::string_view what,
           const std::function<bool(std::string_view)>& sink);

  bool done() const { return phase_ == Phase::kDone; }
  uint64_t decoded() const { return decoded_; }

 private:
  enum class Phase { kSize, kData, kDataEnd, kTrailer, kDone };
  Phase phase_ = Phase::kSize;
  uint64_t remaining_ = 0;  // of the current chunk's data
  uint64_t decoded_ = 0;
  std::string line_;  // a line read in part
  size_t trailer_bytes_ = 0;
};

}  // namespace somlier
