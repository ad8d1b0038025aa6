#include "somlier/core/json_number.h"

#include <gtest/gtest.h>

#include <climits>

namespace somlier {
namespace {

using nlohmann::json;

bool Contains(const Status& status, std::string_view fragment) {
  return status.message().find(fragment) != std::string::npos;
}

TEST(JsonNumber, AcceptsIntegersInRange) {
  EXPECT_EQ(*IntFromJson("n", json(42)), 42);
  EXPECT_EQ(*IntFromJson("n", json(-7)), -7);
  EXPECT_EQ(*IntFromJson("n", json(3.0)), 3) << "an integral double";
  EXPECT_EQ(*IntFromJson("n", json(1.7e12)), 1700000000000);
  EXPECT_EQ(*IntFromJson("n", json(INT64_MAX)), INT64_MAX);
  EXPECT_EQ(*IntFromJson("n", json(INT64_MIN)), INT64_MIN);
  EXPECT_EQ(*IntFromJson("n", json(uint64_t{INT64_MAX})), INT64_MAX) << "unsigned, in range";
  EXPECT_EQ(*IntFromJson("n", json("12"), {}, IntSpelling::kNumberOrString), 12);
  EXPECT_EQ(*IntFromJson("n", json("-9223372036854775808"), {}, IntSpelling::kNumberOrString),
            INT64_MIN);
  EXPECT_EQ(*IntFromJsonAs<int>("n", json(INT_MAX)), INT_MAX);
  EXPECT_EQ(*IntFromJsonAs<size_t>("n", json(5)), 5u);
  EXPECT_EQ(*IntFromJson("n", nlohmann::ordered_json(8), {0, 8}), 8) << "ordered_json too";
}

TEST(JsonNumber, RefusesWhatWouldWrapAndNamesFieldValueAndRange) {
  // The reported defects: a uint64 timestamp wrapped to a negative one, 2^31 workers to
  // INT_MIN.
  auto wrapped = IntFromJson("timestamp", json(uint64_t{18446744073709551615u}), kNonNegative);
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(wrapped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrapped.status().message(),
            "'timestamp' is 18446744073709551615, out of range: expected an integer from 0 to "
            "9223372036854775807");
  auto workers = IntFromJsonAs<int>("workers", json(int64_t{2147483648}), {1, INT64_MAX});
  ASSERT_FALSE(workers.ok());
  EXPECT_EQ(workers.status().message(),
            "'workers' is 2147483648, out of range: expected an integer from 1 to 2147483647");
  EXPECT_TRUE(Contains(IntFromJsonAs<int>("w", json(int64_t{-2147483649})).status(),
                       "from -2147483648 to 2147483647"));
  EXPECT_TRUE(Contains(IntFromJsonAs<size_t>("tail", json(-1)).status(), "'tail' is -1"));
  EXPECT_TRUE(Contains(IntFromJson("n", json(uint64_t{1} << 63)).status(), "9223372036854775808"));

  // Doubles: fractions, and magnitudes beyond int64 (converting those is undefined).
  EXPECT_TRUE(Contains(IntFromJson("n", json(2.5)).status(), "'n' is 2.5, not a whole number"));
  EXPECT_TRUE(Contains(IntFromJson("n", json(1e19)).status(), "out of range"));
  EXPECT_TRUE(Contains(IntFromJson("n", json(-1e19)).status(), "out of range"));
  EXPECT_TRUE(Contains(IntFromJson("n", json(9223372036854775808.0)).status(), "out of range"))
      << "2^63 is one past INT64_MAX";
  EXPECT_TRUE(Contains(IntFromJson("n", json(-1.0), kNonNegative).status(), "'n' is -1"));

  // Strings only where asked for; out-of-range text too.
  EXPECT_TRUE(
      Contains(IntFromJson("n", json("12")).status(), "'n' must be an integer, not \"12\""));
  EXPECT_TRUE(Contains(
      IntFromJson("n", json("99999999999999999999"), {}, IntSpelling::kNumberOrString).status(),
      "'n' is \"99999999999999999999\", out of range"));
  EXPECT_TRUE(Contains(IntFromJson("n", json("1x"), {0, 9}, IntSpelling::kNumberOrString).status(),
                       "'n' must be an integer from 0 to 9, not \"1x\""));
  EXPECT_FALSE(IntFromJson("n", json(""), {}, IntSpelling::kNumberOrString).ok());
  EXPECT_FALSE(IntFromJson("n", json(true)).ok()) << "booleans are not numbers";
  EXPECT_FALSE(IntFromJson("n", json(nullptr)).ok());
  EXPECT_FALSE(IntFromJson("n", json::array({1})).ok());
}

TEST(JsonNumber, RangesOfTypes) {
  static_assert(IntRange::Of<int>().min == INT_MIN && IntRange::Of<int>().max == INT_MAX);
  static_assert(IntRange::Of<uint64_t>().min == 0 && IntRange::Of<uint64_t>().max == INT64_MAX);
  static_assert(IntRange::Of<uint32_t>().max == UINT32_MAX);
  static_assert(IntRange{-5, INT64_MAX}.Within<uint16_t>().min == 0);
  static_assert(IntRange{-5, INT64_MAX}.Within<uint16_t>().max == 65535);
  static_assert(IntRange{1, 64}.Within<int>().max == 64);
}

}  // namespace
}  // namespace somlier
