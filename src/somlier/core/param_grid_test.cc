#include "somlier/core/param_grid.h"

#include <gtest/gtest.h>

namespace somlier {
namespace {

using Values = std::vector<std::string>;

Values Expand(const std::string& spec) {
  auto v = ExpandParamSpec("p", spec);
  return v.ok() ? *v : Values{"error: " + v.status().message()};
}

TEST(ParamGrid, RangesAreArangeInDecimal) {
  EXPECT_EQ(Expand("0.001..0.005..0.001"), (Values{"0.001", "0.002", "0.003", "0.004"}));
  EXPECT_EQ(Expand("0.1..0.4..0.1"), (Values{"0.1", "0.2", "0.3"})) << "not numpy's float 0.4";
  EXPECT_EQ(Expand("0.1..0.5..0.1"), (Values{"0.1", "0.2", "0.3", "0.4"}));
  EXPECT_EQ(Expand("1..10..3"), (Values{"1", "4", "7"})) << "integers stay integers";
  EXPECT_EQ(Expand("5..1..-2"), (Values{"5", "3"})) << "negative increments count down";
  EXPECT_EQ(Expand("-1..1..0.5"), (Values{"-1.0", "-0.5", "0.0", "0.5"}));
  EXPECT_EQ(Expand("0..1..0.3"), (Values{"0.0", "0.3", "0.6", "0.9"}));
  EXPECT_EQ(Expand("1.50..2..0.25"), (Values{"1.50", "1.75"})) << "the inputs' precision";
  EXPECT_EQ(Expand(" 1 .. 3 .. 1 "), (Values{"1", "2"}));
  EXPECT_EQ(Expand("0.00001..0.00003..0.00001"), (Values{"0.00001", "0.00002"}));
}

TEST(ParamGrid, ListsAndSingleValues) {
  EXPECT_EQ(Expand("64,128"), (Values{"64", "128"}));
  EXPECT_EQ(Expand("adam, sgd ,rmsprop"), (Values{"adam", "sgd", "rmsprop"}));
  EXPECT_EQ(Expand("3"), (Values{"3"}));
  EXPECT_EQ(Expand("relu"), (Values{"relu"}));
  EXPECT_EQ(Expand("0.5"), (Values{"0.5"}));
}

TEST(ParamGrid, Errors) {
  for (const char* bad : {"1..2", "1..2..3..4", "a..b..c", "1e-3..1..0.1", "1..5..0", "1..5..-1",
                          "5..1..1", "1..1..1", "1..2..", "..2..1", "a,,b", "a,", "0..1000000..1",
                          "1..2..0.0000000000000000001"}) {
    auto v = ExpandParamSpec("lr", bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(v.status().message().find("--lr"), std::string::npos) << v.status().message();
      EXPECT_NE(v.status().message().find(bad), std::string::npos) << v.status().message();
    }
  }
  EXPECT_NE(ExpandParamSpec("lr", "1..5..0").status().message().find("0"), std::string::npos);
  EXPECT_NE(ExpandParamSpec("lr", "5..1..1").status().message().find("away"), std::string::npos);
  EXPECT_NE(ExpandParamSpec("lr", "1..1..1").status().message().find("empty"), std::string::npos);
}

TEST(ParamGrid, TheSeedsEightCombinations) {
  auto grid = ExpandParamGrid(
      {{"learning_rate", "0.001..0.005..0.001"}, {"batch_size", "64,128"}, {"num_epochs", "3"}});
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  ASSERT_EQ(grid->size(), 8u);
  EXPECT_EQ(
      (*grid)[0],
      (ParamCombination{{"learning_rate", "0.001"}, {"batch_size", "64"}, {"num_epochs", "3"}}));
  EXPECT_EQ(
      (*grid)[1],
      (ParamCombination{{"learning_rate", "0.001"}, {"batch_size", "128"}, {"num_epochs", "3"}}));
  EXPECT_EQ(
      (*grid)[7],
      (ParamCombination{{"learning_rate", "0.004"}, {"batch_size", "128"}, {"num_epochs", "3"}}));
  auto none = ExpandParamGrid({});
  ASSERT_EQ(none->size(), 1u);
  EXPECT_TRUE((*none)[0].empty());
  EXPECT_FALSE(ExpandParamGrid({{"a", "1"}, {"a", "2"}}).ok());
  EXPECT_FALSE(ExpandParamGrid({{"a", "0..100..1"}, {"b", "0..100..1"}}, 1000).ok());
  EXPECT_EQ(ExpandParamGrid({{"a", "0..10..1"}, {"b", "0..100..1"}}, 1000)->size(), 1000u);
}

}  // namespace
}  // namespace somlier
