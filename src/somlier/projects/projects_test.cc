#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "somlier/projects/interpolation.h"
#include "somlier/projects/local_run.h"
#include "somlier/projects/project_spec.h"
#include "somlier/projects/requirements.h"
#include "temp_dir.h"

namespace somlier {
namespace {

TEST(Interpolate, References) {
  Environment env = {{"A", "1"}, {"EMPTY", ""}};
  EXPECT_EQ(*Interpolate("${A}", env), "1");
  EXPECT_EQ(*Interpolate("x-${A}-${B:two}-${EMPTY:unused}-$HOME-$", env), "x-1-two--$HOME-$");
  EXPECT_EQ(*Interpolate("${B:}", env), "");
  EXPECT_EQ(*Interpolate("${B:a:b}", env), "a:b");
  auto missing = Interpolate("gs://${BUCKET}/m", env);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("BUCKET"), std::string::npos);
  EXPECT_FALSE(Interpolate("${A", env).ok());
  EXPECT_FALSE(Interpolate("${1A}", env).ok());
  EXPECT_FALSE(Interpolate("${}", env).ok());
}

TEST(Interpolate, DefaultsMayHoldReferences) {
  Environment env = {{"A", "1"}, {"USER", "kim"}, {"EMPTY", ""}};
  EXPECT_EQ(*Interpolate("${MODEL:${USER}-model}", env), "kim-model");
  EXPECT_EQ(*Interpolate("${A:${NOT_SET}}", env), "1");  // an unused default is not expanded
  EXPECT_EQ(*Interpolate("${X:${Y:${EMPTY:z}}}/${X:${A}}", env), "/1");
  EXPECT_EQ(*Interpolate("${X:a:${Y:b}:c}", env), "a:b:c");
  EXPECT_EQ(*Interpolate("${X:{literal}}", env), "{literal}");
  // A variable's value is inserted as it is.
  EXPECT_EQ(*Interpolate("${V}", {{"V", "${A}"}}), "${A}");
  auto missing = Interpolate("${X:${Y}}", env);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("environment variable Y is not set"),
            std::string::npos);
  auto open = Interpolate("${X:${Y:z}", env);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("without its closing"), std::string::npos);
}

TEST(Interpolate, NestingIsBounded) {
  // ${X:${X:...${X:end}...}} with `depth` references.
  auto nested = [](int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += "${X:";
    return text + "end" + std::string(depth, '}');
  };
  EXPECT_EQ(*Interpolate(nested(kMaxInterpolationDepth), {}), "end");
  auto deep = Interpolate(nested(kMaxInterpolationDepth + 1), {});
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("more than 8 deep"), std::string::npos)
      << deep.status().message();
  // Even when the deep part would not be used, and far deeper: refused, no recursion.
  EXPECT_FALSE(Interpolate(nested(100'000), {}).ok());
  EXPECT_FALSE(Interpolate("${A:" + nested(9) + "}", {{"A", "set"}}).ok());
}

TEST(SplitCommandLine, ShellLikeWords) {
  EXPECT_EQ(*SplitCommandLine("python  -m 'my module' \"a \\\"b\\\"\" c\\ d"),
            (std::vector<std::string>{"python", "-m", "my module", "a \"b\"", "c d"}));
  EXPECT_EQ(*SplitCommandLine("''"), (std::vector<std::string>{""}));
  EXPECT_TRUE(SplitCommandLine("   ")->empty());
  EXPECT_FALSE(SplitCommandLine("echo 'open").ok());
  EXPECT_FALSE(SplitCommandLine("echo \"open").ok());
}

class RequirementsTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.file(name)) << text;
    return dir_.file(name);
  }
  testing::TempDir dir_;
};

TEST_F(RequirementsTest, ParsesWhatPipAccepts) {
  Write("base.txt", "six\n");
  auto reqs = ParseRequirementsFile(Write("r.txt",
                                          "pandas==1.2.1\n"
                                          "numpy >= 1.20 , < 2.0  # comment\n"
                                          "requests[security,socks]~=2.31\n"
                                          "torch==2.0.1 ; sys_platform == 'linux'\n"
                                          "pkg @ https://example.com/pkg-1.0.tar.gz\n"
                                          "https://example.com/other-2.0-py3-none-any.whl\n"
                                          "-e ./local-lib\n"
                                          "--extra-index-url https://mirror/simple\n"
                                          "-r base.txt\n"
                                          "scipy==1.10 \\\n  --hash=sha256:abc\n"
                                          "\n# only a comment\n"));
  ASSERT_TRUE(reqs.ok()) << reqs.status().ToString();
  std::vector<std::string> shown;
  for (const auto& r : *reqs) shown.push_back(r.Display());
  EXPECT_EQ(shown, (std::vector<std::string>{"pandas=1.2.1", "numpy>=1.20,<2.0",
                                             "requests[security,socks]~=2.31", "torch=2.0.1",
                                             "pkg @ https://example.com/pkg-1.0.tar.gz",
                                             "https://example.com/other-2.0-py3-none-any.whl",
                                             "-e ./local-lib", "six", "scipy=1.10"}));
  EXPECT_EQ((*reqs)[3].marker, "sys_platform == 'linux'");
  EXPECT_EQ((*reqs)[7].line, 1);
  EXPECT_EQ((*reqs)[8].line, 10) << "a continued line is reported at its first line";
}

TEST_F(RequirementsTest, BadLinesNameFileAndLine) {
  for (const char* bad : {"pandas=>1.0\n", "-numpy\n", "num py==1\n", "numpy==\n", "numpy[extra\n",
                          "numpy==1 garbage\n", "numpy; \n"}) {
    auto reqs = ParseRequirementsFile(Write("bad.txt", std::string("ok==1\n") + bad));
    ASSERT_FALSE(reqs.ok()) << bad;
    EXPECT_EQ(reqs.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(reqs.status().message().find("bad.txt:2"), std::string::npos)
        << reqs.status().message();
  }
  Write("a.txt", "-r b.txt\n");
  Write("b.txt", "-r a.txt\n");
  EXPECT_EQ(ParseRequirementsFile(dir_.file("a.txt")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRequirementsFile(dir_.file("none.txt")).status().code(), StatusCode::kNotFound);
}

TEST_F(RequirementsTest, IncludesAndSizesAreBounded) {
  for (int i = 0; i < 40; ++i) {
    Write("chain" + std::to_string(i) + ".txt", "-r chain" + std::to_string(i + 1) + ".txt\n");
  }
  Write("chain40.txt", "six\n");
  auto deep = ParseRequirementsFile(dir_.file("chain0.txt"));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("more than 16 levels deep"), std::string::npos)
      << deep.status().message();
  EXPECT_TRUE(ParseRequirementsFile(dir_.file("chain30.txt")).ok());
  auto big = ParseRequirementsFile(Write("big.txt", std::string(2 << 20, '#')));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("at most 1048576 are read"), std::string::npos);
}

class ProjectSpecTest : public ::testing::Test {
 protected:
  Result<ProjectSpec> Load(const std::string& yaml, const Environment& env = {}) {
    std::ofstream(dir_.file("somlier.yaml")) << yaml;
    return LoadProjectSpec(dir_.file("somlier.yaml"), env);
  }
  testing::TempDir dir_;
};

TEST_F(ProjectSpecTest, NumbersPastDoublesRangeStayText) {
  auto spec = Load("model:\n  version: v1\n  config: {big: 1e999, small: 2.5}\n");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const std::string json = spec->ToJson();
  EXPECT_NE(json.find("\"big\": \"1e999\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"small\": 2.5"), std::string::npos) << json;
}

TEST_F(ProjectSpecTest, ReadsEverySection) {
  auto spec = Load(R"(
global: {env: DEV, logging: {format: TEXT}}
project:
  name: p
  python: {version: 3.11.2, requirements_txt: reqs.txt}
  docker: {name: img, tags: [latest, v1], volumes: [/data], env: [A=1]}
model:
  name: m
  version: v0.1.0
  tags: [dev]
  config: {depth: 3, ratio: 0.5, flag: yes, quoted: "12", nothing: ~, list: [1, two]}
  assets:
  - provider: HTTP
    files:
      weights: {remote_uri: "https://x/w.bin", local_path: model/w.bin}
      vocab: {remote_uri: "https://x/v.txt"}
entrypoints:
  main: {command: "python -u", args: [main.py, 3]}
  shell: {command: bash, args: "run.sh --fast"}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->log_format, LogFormat::kText);
  EXPECT_EQ(spec->RequirementsPath(), dir_.path() / "reqs.txt");
  EXPECT_EQ(spec->docker_tags, (std::vector<std::string>{"latest", "v1"}));
  ASSERT_EQ(spec->assets.size(), 1u);
  EXPECT_EQ(spec->assets[0].provider, "http");
  ASSERT_EQ(spec->assets[0].files.size(), 2u);
  EXPECT_EQ(spec->assets[0].files[0].local_path, "model/w.bin");
  EXPECT_EQ(spec->assets[0].files[1].local_path, "vocab");
  auto config = nlohmann::json::parse(spec->model_config_json);
  EXPECT_EQ(config["depth"], 3);
  EXPECT_EQ(config["ratio"], 0.5);
  EXPECT_EQ(config["quoted"], "12");
  EXPECT_TRUE(config["nothing"].is_null());
  EXPECT_EQ(config["list"], nlohmann::json::parse(R"([1, "two"])"));
  ASSERT_EQ(spec->entrypoints.size(), 2u);
  EXPECT_EQ(spec->entrypoints[0].argv, (std::vector<std::string>{"python", "-u", "main.py", "3"}));
  EXPECT_EQ(spec->entrypoints[1].argv, (std::vector<std::string>{"bash", "run.sh", "--fast"}));
  EXPECT_TRUE(spec->unknown_keys.empty());
  EXPECT_FALSE(spec->IsTestEnv());
  EXPECT_EQ(spec->FindEntrypoint("nope").status().code(), StatusCode::kNotFound);
  EXPECT_NE(spec->FindEntrypoint("nope").status().message().find("main, shell"), std::string::npos);
  auto json = nlohmann::json::parse(spec->ToJson());
  EXPECT_EQ(json["model"]["config"]["depth"], 3);
}

TEST_F(ProjectSpecTest, EmptyFileIsAnEmptyProject) {
  auto spec = Load("");
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->entrypoints.empty());
  EXPECT_EQ(spec->log_format, LogFormat::kJson);
}

TEST_F(ProjectSpecTest, ErrorsNameTheKey) {
  struct Case {
    const char* yaml;
    const char* fragment;
  } cases[] = {
      {"model: {version: 1.0}", "model.version"},
      {"global: {logging: {format: yaml}}", "global.logging.format"},
      {"global: {logging: text}", "global.logging"},
      {"entrypoints: {main: {command: ''}}", "entrypoints.main.command"},
      {"entrypoints: {main: {command: \"echo 'x\"}}", "entrypoints.main.command"},
      {"entrypoints: {main: {command: echo, args: {a: 1}}}", "entrypoints.main.args"},
      {"entrypoints: {main: {command: echo, args: [[1]]}}", "entrypoints.main.args[0]"},
      {"entrypoints: {main: }", "entrypoints.main"},
      {"model: {assets: {}}", "model.assets"},
      {"model: {assets: [{provider: http, files: {w: {local_path: x}}}]}",
       "model.assets[0].files.w.remote_uri"},
      {"model: {assets: [{provider: http, files: {w: {remote_uri: u, local_path: /etc/x}}}]}",
       "model.assets[0].files.w.local_path"},
      {"model: {config: [1]}", "model.config"},
      {"project: {docker: {tags: latest}}", "project.docker.tags"},
      {"model: {name: '${UNSET_VAR}'}", "model.name"},
      {"entrypoints: {a: {command: x}}\nentrypoint: {b: {command: y}}", "entrypoint"},
      {"[1, 2]", "top level"},
  };
  for (const Case& c : cases) {
    auto spec = Load(c.yaml);
    ASSERT_FALSE(spec.ok()) << c.yaml;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(spec.status().message().find(c.fragment), std::string::npos)
        << c.yaml << " -> " << spec.status().message();
  }
}

TEST_F(ProjectSpecTest, FindsTheFile) {
  EXPECT_EQ(FindProjectFile(dir_.path(), "").status().code(), StatusCode::kNotFound);
  std::ofstream(dir_.file("somlier")) << "";
  EXPECT_EQ(*FindProjectFile(dir_.path(), ""), dir_.path() / "somlier");
  std::ofstream(dir_.file("somlier.yml")) << "";
  EXPECT_EQ(*FindProjectFile(dir_.path(), ""), dir_.path() / "somlier.yml");
  std::ofstream(dir_.file("somlier.yaml")) << "";
  EXPECT_EQ(*FindProjectFile(dir_.path(), ""), dir_.path() / "somlier.yaml");
  EXPECT_EQ(FindProjectFile(dir_.path(), dir_.file("x.yaml")).status().code(),
            StatusCode::kNotFound);
}

TEST(FormatOutputLine, JsonAndText) {
  const int64_t t = 1660729824775569;
  const std::string json =
      FormatOutputLine(LogFormat::kJson, "main", OutputStream::kStdout, "hello world!!\n", t);
  EXPECT_TRUE(json.starts_with(R"({"name": "main", "stdout": "hello world!!\n", "timestamp": ")"))
      << json;
  auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["stdout"], "hello world!!\n");
  EXPECT_EQ(parsed["timestamp"].get<std::string>().size(), 26u);
  auto err = nlohmann::json::parse(
      FormatOutputLine(LogFormat::kJson, "m", OutputStream::kStderr, "bad \xff byte\n", t));
  EXPECT_TRUE(err.contains("stderr"));
  const std::string text =
      FormatOutputLine(LogFormat::kText, "main", OutputStream::kStdout, "hi\n", t);
  EXPECT_TRUE(text.starts_with("main | ")) << text;
  EXPECT_TRUE(text.ends_with(" | hi")) << text;
}

TEST(EntrypointArgv, InterpreterRule) {
  EntrypointSpec ep;
  ep.name = "main";
  ep.command = "python";
  ep.argv = {"python", "main.py"};
  LocalRunOptions options;
  options.python = "/usr/bin/python3";
  options.extra_args = {"--x"};
  EXPECT_EQ(EntrypointArgv(ep, options, {}),
            (std::vector<std::string>{"/usr/bin/python3", "main.py", "--x"}));
  options = {};
  EXPECT_EQ(EntrypointArgv(ep, options, {{"PATH", "/nonexistent"}})[0], "python3");
  ep.argv = {"bash", "x.sh"};
  options.python = "/opt/py";
  EXPECT_EQ(EntrypointArgv(ep, options, {})[0], "bash");
}

}  // namespace
}  // namespace somlier
