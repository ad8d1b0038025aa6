#include "somlier/net/request_framing.h"

#include <gtest/gtest.h>

#include <string>

namespace somlier {
namespace {

TEST(RequestFramingTest, ParsesAndRewritesAHead) {
  ParsedHead p = ParseRequestHead(
      "POST /api/x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nExpect: 100-Continue\r\n"
      "Connection: Close");
  ASSERT_FALSE(p.refusal);
  EXPECT_EQ(p.head.method, "POST");
  EXPECT_EQ(p.head.path, "/api/x");
  EXPECT_EQ(p.head.content_length, 12u);
  EXPECT_TRUE(p.head.expect_continue);
  EXPECT_TRUE(p.head.close_after);
  EXPECT_TRUE(p.head.has_body());
  // Framing headers are resolved here, never handed on.
  EXPECT_EQ(p.head.forwarded, "POST /api/x?y=1 HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n");

  ParsedHead old = ParseRequestHead("GET / HTTP/1.0\r\nHost: a");
  ASSERT_FALSE(old.refusal);
  EXPECT_TRUE(old.head.close_after);
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.0\r\nConnection: keep-alive").head.close_after);
  EXPECT_TRUE(ParseRequestHead("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED").head.chunked);
  EXPECT_FALSE(ParseRequestHead("POST / HTTP/1.1\r\nContent-Encoding: identity").refusal);
  // HTTP/1.0 ignores Expect, and a chunked HTTP/1.0 body closes the connection after it.
  ParsedHead chunked10 = ParseRequestHead(
      "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue");
  ASSERT_FALSE(chunked10.refusal);
  EXPECT_TRUE(chunked10.head.close_after);
  EXPECT_FALSE(chunked10.head.expect_continue);
}

TEST(RequestFramingTest, RefusesWhatItCannotFrame) {
  const std::pair<const char*, int> cases[] = {
      {"", 400},
      {"GET", 400},
      {"get / HTTP/1.1", 400},
      {"GET / HTTP/2", 400},
      {"GET /  HTTP/1.1", 400},
      {"GET / HTTP/1.1\r\nNo colon here", 400},
      {"GET / HTTP/1.1\r\n: empty name", 400},
      {"GET / HTTP/1.1\r\nBad Name: x", 400},
      {"GET / HTTP/1.1\r\n folded: x", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", 400},
      {"POST / HTTP/1.1\r\nContent-Length: +1", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked", 501},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: identity", 501},
      {"POST / HTTP/1.1\r\nExpect: 200-ok", 417},
      {"POST / HTTP/1.1\r\nX: a\nContent-Length: 0", 400},
      {"POST / HTTP/1.1\r\nX: a\rb", 400},
      {"POST / HTTP/1.1\r\nContent-Encoding: gzip", 415},
      {"POST / HTTP/1.1\r\nContent-Encoding: br", 415},
  };
  for (const auto& [text, status] : cases) {
    ParsedHead p = ParseRequestHead(text);
    ASSERT_TRUE(p.refusal) << text;
    EXPECT_EQ(p.refusal->status, status) << text;
  }
  constexpr std::string_view kNul("POST / HTTP/1.1\r\nX: a\0b", 23);
  ParsedHead nul = ParseRequestHead(kNul);
  ASSERT_TRUE(nul.refusal);
  EXPECT_EQ(nul.refusal->status, 400);
}

std::string Decode(ChunkedDecoder& d, const std::string& input, uint64_t limit,
                   ChunkedDecoder::Fed* last = nullptr) {
  std::string out;
  ChunkedDecoder::Fed fed = d.Feed(input, limit, "POST /x", [&](std::string_view data) {
    out.append(data);
    return true;
  });
  if (last) *last = fed;
  return out;
}

TEST(RequestFramingTest, DecodesChunksSplitAnywhereAndStopsAtTheBodysEnd) {
  const std::string body =
      "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
      "0\r\nExpires: never\r\n\r\n";
  const std::string next = "GET /next HTTP/1.1\r\n\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    ChunkedDecoder d;
    ChunkedDecoder::Fed fed;
    std::string out = Decode(d, body.substr(0, split), 1000, &fed);
    EXPECT_EQ(fed.consumed, split);
    out += Decode(d, body.substr(split) + next, 1000, &fed);
    ASSERT_FALSE(fed.refusal) << split;
    EXPECT_TRUE(d.done());
    EXPECT_EQ(out, "Wikipedia in\r\n\r\nchunks.");
    EXPECT_EQ(fed.consumed, body.size() - split) << "the pipelined request stays unread";
  }
}

TEST(RequestFramingTest, RefusesMalformedAndOversizedChunks) {
  const std::pair<std::string, int> cases[] = {
      {"zz\r\n", 400},
      {"\r\n", 400},
      {"-1\r\n", 400},
      {"4\r\nabcdX\r\n", 400},
      {std::string(2000, '1'), 400},
      {"ffffffffffffffffff\r\n", 400},
      {"65\r\n", 413},  // 101 bytes announced, limit 100
      {"0\r\n" + std::string(9000, 'x'), 400},
  };
  for (const auto& [input, status] : cases) {
    ChunkedDecoder d;
    ChunkedDecoder::Fed fed;
    Decode(d, input, 100, &fed);
    ASSERT_TRUE(fed.refusal) << input.substr(0, 20);
    EXPECT_EQ(fed.refusal->status, status) << input.substr(0, 20);
  }
  // Several chunks that together pass the limit.
  ChunkedDecoder d;
  ChunkedDecoder::Fed fed;
  Decode(d, "32\r\n" + std::string(50, 'a') + "\r\n33\r\n", 100, &fed);
  ASSERT_TRUE(fed.refusal);
  EXPECT_EQ(fed.refusal->status, 413);
}

}  // namespace
}  // namespace somlier
