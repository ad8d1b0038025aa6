#include "somlier/core/yaml_load.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <string>

#include "somlier/core/settings.h"
#include "temp_dir.h"

namespace somlier {
namespace {

::testing::AssertionResult Contains(const std::string& text, const std::string& fragment) {
  if (text.find(fragment) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" lacks \"" << fragment << "\"";
}

// `levels` anchors, each a list of nine aliases of the one before: 9^levels scalars.
std::string BillionLaughs(int levels) {
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < levels; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 9; ++j) text += (j ? ", " : "") + prev;
    text += "]\n";
  }
  return text;
}

std::string FlowNesting(int depth) {
  return std::string(depth, '[') + "x" + std::string(depth, ']');
}

Status Refusal(std::string_view text, const YamlLimits& limits = {}) {
  auto node = LoadYamlBounded(text, "somlier.yaml", limits);
  return node.ok() ? OkStatus() : node.status();
}

TEST(LoadYamlBounded, AcceptsAnchorsAndAliases) {
  auto root = LoadYamlBounded(
      "base: &base {image: py, tags: [a, b]}\n"
      "name: &n model\n"
      "dev: *base\n"
      "prod: [*base, *n, *n]\n",
      "somlier.yaml");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ((*root)["dev"]["image"].as<std::string>(), "py");
  EXPECT_EQ((*root)["dev"]["tags"][1].as<std::string>(), "b");
  EXPECT_EQ((*root)["prod"][0]["tags"][0].as<std::string>(), "a");
  EXPECT_EQ((*root)["prod"][2].as<std::string>(), "model");
}

TEST(LoadYamlBounded, EmptyTextIsNull) {
  auto root = LoadYamlBounded("# nothing here\n", "somlier.yaml");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_TRUE(root->IsNull());
  EXPECT_TRUE(LoadYamlBounded("", "somlier.yaml")->IsNull());
}

TEST(LoadYamlBounded, RefusesTextThatIsNotUtf8RawOrOnceUnescaped) {
  EXPECT_TRUE(Contains(Refusal("project:\n  name: caf\xe9\n").message(),
                       "somlier.yaml:2: not valid UTF-8 (byte 0xe9)"));
  // Valid bytes whose scalar decodes to bytes that are not UTF-8 (found by fuzzing).
  const std::string found(
      "model: {versionname999,999, config: {x: 184467A "
      "\x22"
      "\x5c"
      "ud800"
      "\x22"
      "\x0a"
      "m5"
      "\x00"
      "_616, y: .inf,.22337#03654775809}}"
      "\x0a",
      95);
  EXPECT_TRUE(Contains(Refusal(found).message(), "not valid UTF-8")) << Refusal(found).message();
  EXPECT_TRUE(LoadYamlBounded("name: \"caf\\u00e9 \\U0001F600\"\n", "somlier.yaml").ok());
}

TEST(LoadYamlBounded, RefusesAliasCycles) {
  Status s = Refusal("a: &x\n  b: *x\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "somlier.yaml: alias '*x' at line 2 refers to its own enclosing node (a cycle); YAML "
            "anchors must not contain themselves");
  // Deeper inside, in a sequence, and as a map key.
  EXPECT_TRUE(Contains(Refusal("top: &t\n  - [1, 2, {c: [*t]}]\n").message(), "'*t' at line 2"));
  EXPECT_TRUE(Contains(Refusal("m: &k {*k : 1}\n").message(), "a cycle"));
  // A name defined again inside its first definition's node: the alias means the new one,
  // whose node is still open.
  EXPECT_TRUE(Contains(Refusal("a: &x [1]\nb: &x [2, *x]\n").message(), "a cycle"));
  // An alias to an earlier, finished definition of the same name is fine.
  auto ok = LoadYamlBounded("a: &x [1]\nb: [&x 2, *x]\n", "somlier.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)["b"][1].as<int>(), 2);
}

TEST(LoadYamlBounded, RefusesBillionLaughsQuickly) {
  const auto start = std::chrono::steady_clock::now();
  Status s = Refusal(BillionLaughs(9));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "somlier.yaml: expands to more than 100000 nodes through aliases (a 'billion laughs' "
            "document?)");
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  // 9^5 scalars already exceed the limit; 9^4 do not.
  EXPECT_FALSE(Refusal(BillionLaughs(6)).ok());
  EXPECT_TRUE(Refusal(BillionLaughs(4)).ok());
}

TEST(LoadYamlBounded, CountsSaturateInsteadOfOverflowing) {
  // 9^40 overflows 64 bits many times over; a wrapped count could pass any limit.
  YamlLimits limits;
  limits.max_nodes = std::numeric_limits<std::size_t>::max() - 1;
  EXPECT_TRUE(Contains(Refusal(BillionLaughs(40), limits).message(), "billion laughs"));
}

TEST(LoadYamlBounded, NodeLimitCountsEveryNode) {
  YamlLimits limits;
  limits.max_nodes = 5;  // the mapping, two keys, two values
  EXPECT_TRUE(Refusal("a: 1\nb: 2\n", limits).ok());
  EXPECT_EQ(Refusal("a: 1\nb: [2]\n", limits).message(),
            "somlier.yaml: has more than 5 nodes, the most a YAML file may have");
  // An alias counts as the nodes it stands for: the mapping, keys a and b, and
  // {x: [1, 2]} (5 nodes) twice.
  limits.max_nodes = 13;
  EXPECT_TRUE(Refusal("a: &a {x: [1, 2]}\nb: *a\n", limits).ok());
  EXPECT_FALSE(Refusal("a: &a {x: [1, 2]}\nb: *a\nc: 3\n", limits).ok());
}

TEST(LoadYamlBounded, RefusesDeepNesting) {
  EXPECT_TRUE(Refusal(FlowNesting(64)).ok());
  EXPECT_EQ(Refusal(FlowNesting(65)).message(),
            "somlier.yaml: nested deeper than 64 levels at line 1");
  // Far deeper than yaml-cpp's own guard: refused as quickly, no stack overflow.
  EXPECT_TRUE(Contains(Refusal(FlowNesting(100'000)).message(), "nested deeper than 64"));
  EXPECT_TRUE(Contains(Refusal(std::string(100'000, '[')).message(), "nested deeper than 64"));
  std::string block;
  for (int i = 0; i < 100; ++i) block += std::string(i, ' ') + "k:\n";
  EXPECT_EQ(Refusal(block).message(), "somlier.yaml: nested deeper than 64 levels at line 65");
  std::string dashes;
  for (int i = 0; i < 100; ++i) dashes += "- ";
  EXPECT_TRUE(Contains(Refusal(dashes + "x\n").message(), "nested deeper than 64"));
}

TEST(LoadYamlBounded, DepthCountsAliasesExpandedInPlace) {
  // An anchor 40 levels deep, used 30 levels down: 70 levels once expanded.
  const std::string text = "a: &deep " + FlowNesting(40) + "\nb: " + std::string(30, '[') +
                           "*deep" + std::string(30, ']') + "\n";
  EXPECT_EQ(Refusal(text).message(),
            "somlier.yaml: nested deeper than 64 levels once alias '*deep' at line 2 is expanded");
  const std::string shallow = "a: &deep " + FlowNesting(40) + "\nb: " + std::string(20, '[') +
                              "*deep" + std::string(20, ']') + "\n";
  EXPECT_TRUE(Refusal(shallow).ok());
}

TEST(LoadYamlBounded, SyntaxErrorsNameFileLineAndColumn) {
  Status s = Refusal("model:\n  name: x\n  tags: [a, b\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "somlier.yaml:4:1: YAML syntax error: "));
  EXPECT_TRUE(Contains(Refusal("a: *nowhere\n").message(), "somlier.yaml:1:4: YAML syntax error"));
}

TEST(LoadYamlFileBounded, ReadsWithASizeCap) {
  testing::TempDir dir;
  std::ofstream(dir.file("ok.yaml")) << "a: [1, 2]\n";
  auto root = LoadYamlFileBounded(dir.file("ok.yaml"));
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ((*root)["a"][1].as<int>(), 2);

  YamlLimits limits;
  limits.max_bytes = 8;
  EXPECT_EQ(
      LoadYamlFileBounded(dir.file("ok.yaml"), limits).status().message(),
      dir.file("ok.yaml") + ": is larger than 8 bytes, the most SoMLier reads of a YAML file");
  limits.max_bytes = std::size_t{1} << 20;
  EXPECT_EQ(LoadYamlFileBounded("/dev/zero", limits).status().message(),
            "/dev/zero: is larger than 1 MiB, the most SoMLier reads of a YAML file");

  auto missing = LoadYamlFileBounded(dir.file("missing.yaml"));
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(missing.status().message(), "missing.yaml: cannot read: "));
  EXPECT_TRUE(Contains(LoadYamlFileBounded(dir.path()).status().message(), "cannot read"));

  std::ofstream(dir.file("cycle.yaml")) << "a: &x\n  b: *x\n";
  EXPECT_TRUE(Contains(LoadYamlFileBounded(dir.file("cycle.yaml")).status().message(),
                       dir.file("cycle.yaml") + ": alias '*x' at line 2"));
}

TEST(LoadYamlFileBounded, SettingsFileIsBounded) {
  testing::TempDir dir;
  std::ofstream(dir.file("config.yaml")) << BillionLaughs(9);
  auto s = LoadSettings({{"SOMLIER_CONFIG", dir.file("config.yaml")}});
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.status().message(), dir.file("config.yaml") + ": expands to more than"));
  std::ofstream(dir.file("keys.yaml")) << "? [a]\n: b\n";
  s = LoadSettings({{"SOMLIER_CONFIG", dir.file("keys.yaml")}});
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace somlier
