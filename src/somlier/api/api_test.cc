#include <gtest/gtest.h>

#include <cmath>

#include "somlier/api/api_server.h"
#include "somlier/api/log_batch_parser.h"
#include "somlier/net/listen_socket.h"

namespace somlier::api {
namespace {

TEST(LogBatchParser, ReadsEveryForm) {
  auto r = ParseLogBatch(R"({
    "run_uuid": "ignored-when-run_id-given", "run_id": "abc", "unknown": [1, {"x": 2}],
    "metrics": [
      {"key": "m", "value": 1.5, "timestamp": 10, "step": 2},
      {"key": "n", "value": "NaN", "timestamp": "11"},
      {"key": "i", "value": "-Infinity", "timestamp": 12, "step": null},
      {"key": "e", "value": 2, "timestamp": 1.7e12}
    ],
    "params": [{"key": "lr", "value": "0.1"}, {"key": "empty"}],
    "tags": [{"key": "t", "value": "v", "extra": true}]
  })");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->run_id, "abc");
  ASSERT_EQ(r->metrics.size(), 4u);
  EXPECT_EQ(r->metrics[0].value, 1.5);
  EXPECT_EQ(r->metrics[0].step, 2);
  EXPECT_TRUE(std::isnan(r->metrics[1].value));
  EXPECT_EQ(r->metrics[1].timestamp, 11);
  EXPECT_EQ(r->metrics[2].value, -HUGE_VAL);
  EXPECT_EQ(r->metrics[3].timestamp, 1700000000000);
  EXPECT_EQ(r->params, (std::vector<Param>{{"lr", "0.1"}, {"empty", ""}}));
  EXPECT_EQ(r->tags, (std::vector<Tag>{{"t", "v"}}));
  EXPECT_EQ(ParseLogBatch(R"({"run_uuid": "old"})")->run_id, "old");
}

TEST(LogBatchParser, ErrorsNameTheElement) {
  struct Case {
    const char* body;
    const char* fragment;
  } cases[] = {
      {"", "JSON"},
      {"not json", "JSON"},
      {"[1]", "object"},
      {R"({"metrics": []})", "run_id"},
      {R"({"run_id": 5})", "run_id"},
      {R"({"run_id": "r", "metrics": {}})", "metrics"},
      {R"({"run_id": "r", "metrics": [{"key": "m", "timestamp": 1}]})", "metrics[0]"},
      {R"({"run_id": "r", "metrics": [{"key": "m", "value": 1, "timestamp": 1}, {"key": "m", "value": "x", "timestamp": 1}]})",
       "metrics[1].value"},
      {R"({"run_id": "r", "metrics": [{"key": "m", "value": true, "timestamp": 1}]})",
       "metrics[0].value"},
      {R"({"run_id": "r", "metrics": [{"key": "m", "value": 1}]})", "timestamp"},
      {R"({"run_id": "r", "metrics": [{"key": "m", "value": 1, "timestamp": 1.5}]})", "timestamp"},
      {R"({"run_id": "r", "metrics": [{"value": 1, "timestamp": 1}]})", "key"},
      {R"({"run_id": "r", "params": [{"value": "x"}]})", "params[0]"},
      {R"({"run_id": "r", "tags": [{"key": 3}]})", "tags[0].key"},
  };
  for (const Case& c : cases) {
    auto r = ParseLogBatch(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos)
        << c.body << " -> " << r.status().message();
  }
}

TEST(ApiServer, LoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
}

}  // namespace
}  // namespace somlier::api
