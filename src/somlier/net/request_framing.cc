#include "somlier/net/request_framing.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

ParsedHead Refused(int status, std::string message) {
  ParsedHead parsed;
  parsed.refusal = HttpRefusal{status, std::move(message)};
  return parsed;
}

}  // namespace

ParsedHead ParseRequestHead(std::string_view text) {
  ParsedHead parsed;
  RequestHead& h = parsed.head;
  const size_t line_end = text.find("\r\n");
  const std::string_view line = text.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Refused(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (line.find_first_of(std::string_view("\n\0", 2)) != std::string_view::npos || method.empty() ||
      method.size() > 16 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) ||
      target.empty() || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return Refused(400, "malformed request line");
  }
  h.method = std::string(method);
  h.path = std::string(target.substr(0, target.find('?')));
  h.http10 = version == "HTTP/1.0";
  h.forwarded.append(line);
  h.forwarded += "\r\n";

  std::string transfer_encoding;
  std::string connection;
  size_t pos = line_end == std::string_view::npos ? text.size() : line_end + 2;
  while (pos < text.size()) {
    size_t next = text.find("\r\n", pos);
    if (next == std::string_view::npos) next = text.size();
    const std::string_view header = text.substr(pos, next - pos);
    pos = next + 2;
    const size_t colon = header.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(header.begin(), header.begin() + static_cast<long>(colon), IsTokenChar)) {
      return Refused(400, "malformed header line");  // also folded (obsolete) lines
    }
    const std::string name = ToLower(header.substr(0, colon));
    const std::string_view value = Trim(header.substr(colon + 1));
    // A bare CR, LF or NUL would split differently for the router than it did here.
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      return Refused(400, "malformed header value (a CR, LF or NUL inside it)");
    }
    if (name == "content-length") {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
          (h.content_length && *h.content_length != n)) {
        return Refused(400, "invalid Content-Length");
      }
      h.content_length = n;
    } else if (name == "transfer-encoding") {
      if (!transfer_encoding.empty()) transfer_encoding += ",";
      transfer_encoding += ToLower(value);
    } else if (name == "content-encoding") {
      // cpp-httplib would inflate gzip or brotli bodies past every size limit counted here.
      if (ToLower(value) != "identity") {
        return Refused(415, fmt::format("Content-Encoding '{}' is not accepted; send the body "
                                        "uncompressed",
                                        value.substr(0, 50)));
      }
    } else if (name == "expect") {
      if (ToLower(value) != "100-continue") {
        return Refused(417, "only 'Expect: 100-continue' is understood");
      }
      h.expect_continue = true;
    } else {
      if (name == "connection") connection = ToLower(value);
      h.forwarded.append(header);
      h.forwarded += "\r\n";
    }
  }
  h.close_after = connection.find("close") != std::string::npos ||
                  (h.http10 && connection.find("keep-alive") == std::string::npos) ||
                  (h.http10 && !transfer_encoding.empty());  // RFC 9112 6.1: faulty framing
  if (h.http10) h.expect_continue = false;  // RFC 9110 10.1.1: ignored for HTTP/1.0
  if (!transfer_encoding.empty()) {
    if (h.content_length) return Refused(400, "both Content-Length and Transfer-Encoding");
    std::vector<std::string> codings;
    for (const std::string& coding : Split(transfer_encoding, ',')) {
      if (!Trim(coding).empty()) codings.emplace_back(Trim(coding));
    }
    if (codings.size() != 1 || codings[0] != "chunked") {
      return Refused(501, fmt::format("Transfer-Encoding '{}' is not supported (only chunked)",
                                      transfer_encoding.substr(0, 100)));
    }
    h.chunked = true;
  }
  return parsed;
}

ChunkedDecoder::Fed ChunkedDecoder::Feed(std::string_view input, uint64_t limit,
                                         std::string_view what,
                                         const std::function<bool(std::string_view)>& sink) {
  Fed fed;
  size_t pos = 0;
  auto refuse = [&](int status, std::string message) {
    fed.consumed = pos;
    fed.refusal = HttpRefusal{status, std::move(message)};
    return fed;
  };
  while (pos < input.size() && phase_ != Phase::kDone) {
    if (phase_ == Phase::kData) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(input.size() - pos, remaining_));
      if (!sink(input.substr(pos, n))) {
        fed.consumed = pos;
        fed.stopped = true;
        return fed;
      }
      pos += n;
      remaining_ -= n;
      decoded_ += n;
      if (remaining_ == 0) phase_ = Phase::kDataEnd;
      continue;
    }
    // A line: a chunk's size, the CRLF after its data, or a trailer. Its CRLF may arrive
    // split between two pieces.
    std::string line;
    if (!line_.empty() && line_.back() == '\r' && input[pos] == '\n') {
      line_.pop_back();
      line = std::move(line_);
      line_.clear();
      pos += 1;
    } else {
      const size_t eol = input.find("\r\n", pos);
      const size_t available = (eol == std::string_view::npos ? input.size() : eol) - pos;
      if (line_.size() + available > kMaxLineBytes) {
        return refuse(400, "malformed chunked body: a line is too long");
      }
      line_.append(input.substr(pos, available));
      if (eol == std::string_view::npos) {
        pos = input.size();
        break;
      }
      pos = eol + 2;
      line = std::move(line_);
      line_.clear();
    }
    switch (phase_) {
      case Phase::kDataEnd:
        if (!line.empty()) return refuse(400, "malformed chunked body: no CRLF after a chunk");
        phase_ = Phase::kSize;
        break;
      case Phase::kSize: {
        const std::string_view text = Trim(std::string_view(line).substr(0, line.find(';')));
        uint64_t size = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size, 16);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
          return refuse(400, "malformed chunked body: a chunk size is not hexadecimal");
        }
        if (size > limit || decoded_ + size > limit) {
          return refuse(413,
                        fmt::format("request bodies of {} are limited to {} bytes", what, limit));
        }
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailer : Phase::kData;
        break;
      }
      case Phase::kTrailer:
        trailer_bytes_ += line.size() + 2;
        if (trailer_bytes_ > kMaxTrailerBytes) {
          return refuse(400, "malformed chunked body: the trailers are too large");
        }
        if (line.empty()) phase_ = Phase::kDone;
        break;
      case Phase::kData:
      case Phase::kDone:
        break;
    }
  }
  fed.consumed = pos;
  return fed;
}

}  // namespace somlier
