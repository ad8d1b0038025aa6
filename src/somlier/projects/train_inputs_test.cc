// Tests of what `online train` reads: git repositories (real ones, made here), MLproject
// files, entry point argv building, and Python environments.
#include <gtest/gtest.h>

#include <fstream>

#include "somlier/core/strings.h"
#include "somlier/execution/run_command.h"
#include "somlier/projects/git_cache.h"
#include "somlier/projects/project_spec.h"
#include "somlier/projects/python_env.h"
#include "temp_dir.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string Git(const fs::path& repo, std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "git", "-C", repo.string(), "-c", "user.name=t", "-c", "user.email=t@example.com"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = RunCommand(argv);
  EXPECT_TRUE(out.ok() && out->exit_code == 0)
      << (out.ok() ? out->stderr_text : out.status().ToString());
  return out.ok() ? out->stdout_text : "";
}

class GitCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = dir_.path() / "repo";
    fs::create_directories(repo_);
    Git(repo_, {"init", "-q", "-b", "main"});
    Write(repo_ / "example-projects" / "sklearn" / "train.py", "print('v1')\n");
    Write(repo_ / "example-projects" / "sklearn" / "data" / "x.csv", "1,2\n");
    Write(repo_ / "README.md", "top\n");
    Git(repo_, {"add", "."});
    Git(repo_, {"commit", "-q", "-m", "first"});
    first_ = std::string(Trim(Git(repo_, {"rev-parse", "HEAD"})));
    Git(repo_, {"tag", "v1"});
    Write(repo_ / "example-projects" / "sklearn" / "train.py", "print('v2')\n");
    Git(repo_, {"commit", "-q", "-am", "second"});
  }
  static std::string_view Trim(const std::string& s) {
    std::string_view v = s;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    return v;
  }
  std::string Read(const fs::path& p) {
    std::ifstream in(p);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s;
  }
  testing::TempDir dir_;
  fs::path repo_;
  std::string first_;
};

TEST_F(GitCacheTest, FetchesBranchesTagsAndCommits) {
  GitCache cache(dir_.path() / "cache", {{"PATH", std::getenv("PATH")}});
  const std::string uri = repo_.string();
  auto head = cache.Fetch(uri, "main");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size(), 40u);
  EXPECT_EQ(*cache.Fetch(uri, "v1"), first_);
  EXPECT_EQ(*cache.Fetch("file://" + uri, first_.substr(0, 7)), first_) << "abbreviated commit";
  ASSERT_TRUE(cache.CheckProject(uri, *head, "example-projects/sklearn").ok());
  ASSERT_TRUE(cache.Export(uri, first_, "example-projects/sklearn/", dir_.path() / "out1").ok());
  EXPECT_EQ(Read(dir_.path() / "out1" / "train.py"), "print('v1')\n");
  EXPECT_EQ(Read(dir_.path() / "out1" / "data" / "x.csv"), "1,2\n");
  EXPECT_FALSE(fs::exists(dir_.path() / "out1" / "README.md"));
  ASSERT_TRUE(cache.Export(uri, *head, "example-projects/sklearn", dir_.path() / "out2").ok());
  EXPECT_EQ(Read(dir_.path() / "out2" / "train.py"), "print('v2')\n");
  ASSERT_TRUE(cache.Export(uri, *head, ".", dir_.path() / "whole").ok());
  EXPECT_TRUE(fs::exists(dir_.path() / "whole" / "README.md"));

  // A new commit upstream is seen by the next fetch.
  Write(repo_ / "new.txt", "x");
  Git(repo_, {"add", "new.txt"});
  Git(repo_, {"commit", "-q", "-m", "third"});
  EXPECT_NE(*cache.Fetch(uri, "main"), *head);
}

TEST_F(GitCacheTest, ErrorsSayWhatIsMissing) {
  GitCache cache(dir_.path() / "cache", {{"PATH", std::getenv("PATH")}});
  const std::string uri = repo_.string();
  auto unknown_repo = cache.Fetch((dir_.path() / "no-such-repo").string(), "main");
  EXPECT_EQ(unknown_repo.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown_repo.status().message().find("could not be fetched"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_.path() / "cache") &&
               fs::directory_iterator(dir_.path() / "cache") != fs::directory_iterator() &&
               [&] {
                 for (auto& e : fs::directory_iterator(dir_.path() / "cache")) {
                   if (e.path().extension() == ".git") return true;
                 }
                 return false;
               }())
      << "a failed clone leaves no mirror";
  auto unknown_ref = cache.Fetch(uri, "no-such-branch");
  EXPECT_EQ(unknown_ref.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown_ref.status().message().find("version does not exist"), std::string::npos);
  auto head = cache.Fetch(uri, "main");
  auto missing = cache.CheckProject(uri, *head, "example-projects/torch");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("project does not exist"), std::string::npos);
  EXPECT_EQ(cache.CheckProject(uri, *head, "README.md").code(), StatusCode::kNotFound);
  for (const char* bad : {"../outside", "/etc", "-x", "a/../b"}) {
    EXPECT_EQ(cache.CheckProject(uri, *head, bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(cache.Fetch("--upload-pack=touch /tmp/x", "main").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Fetch(uri, "--output=/tmp/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Fetch("ext::sh -c touch% /tmp/pwned", "main").status().code(),
            StatusCode::kNotFound)
      << "command-running transports are not allowed";
  EXPECT_FALSE(fs::exists("/tmp/pwned"));
}

TEST(Mlproject, EntryPointsAndParameters) {
  testing::TempDir dir;
  Write(dir.path() / "MLproject", R"(
name: tutorial
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      l1_ratio: {type: float, default: 0.1}
      epochs: int
    command: "python train.py --alpha {alpha} --l1 {l1_ratio} --epochs={epochs}"
  free:
    command: python free.py
)");
  Write(dir.path() / "python_env.yaml",
        "python: 3.11\ndependencies:\n  - -r requirements.txt\n  - numpy\n");
  auto spec = LoadProjectDirectory(dir.path(), {});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->project_name, "tutorial");
  EXPECT_EQ(spec->python_version, "3.11");
  EXPECT_EQ(spec->pip_dependencies, (std::vector<std::string>{"-r requirements.txt", "numpy"}));
  auto main = spec->FindEntrypoint("main");
  ASSERT_TRUE(main.ok());
  EXPECT_TRUE((*main)->declares_parameters);

  auto argv = BuildEntrypointArgv(**main, {{"alpha", "0.3"}, {"epochs", "3"}});
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, (std::vector<std::string>{"python", "train.py", "--alpha", "0.3", "--l1", "0.1",
                                             "--epochs=3"}));
  EXPECT_EQ(BuildEntrypointArgv(**main, {{"alpha", "0.3"}}).status().code(),
            StatusCode::kInvalidArgument)
      << "epochs has no default";
  auto undeclared = BuildEntrypointArgv(**main, {{"epochs", "3"}, {"dropout", "0.2"}});
  EXPECT_NE(undeclared.status().message().find("dropout"), std::string::npos);
  EXPECT_EQ(BuildEntrypointArgv(**main, {{"epochs", "three"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildEntrypointArgv(**main, {{"epochs", "3"}, {"alpha", "high"}}).status().code(),
            StatusCode::kInvalidArgument);

  auto free = spec->FindEntrypoint("free");
  EXPECT_EQ(*BuildEntrypointArgv(**free, {{"lr", "0.1"}, {"name", "a b"}}),
            (std::vector<std::string>{"python", "free.py", "--lr", "0.1", "--name", "a b"}))
      << "undeclared parameters are appended as --name value";

  Write(dir.path() / "somlier.yaml", "entrypoints: {main: {command: python, args: [other.py]}}\n");
  EXPECT_EQ((*LoadProjectDirectory(dir.path(), {})->FindEntrypoint("main"))->argv[1], "other.py")
      << "somlier.yaml wins over MLproject";
  testing::TempDir empty;
  EXPECT_EQ(LoadProjectDirectory(empty.path(), {}).status().code(), StatusCode::kNotFound);
}

TEST(Mlproject, BadFilesNameTheKey) {
  testing::TempDir dir;
  for (const auto& [text, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"name: x\n", "entry_points"},
           {"entry_points: {main: {}}\n", "entry_points.main"},
           {"entry_points: {main: {command: ''}}\n", "entry_points.main.command"},
           {"entry_points: {main: {command: x, parameters: {a: {type: tensor}}}}\n",
            "parameters.a.type"},
           {"entry_points: {main: {command: x, parameters: {a: {type: float, default: abc}}}}\n",
            "parameters.a.default"},
       }) {
    Write(dir.path() / "MLproject", text);
    auto spec = LoadMlproject(dir.path() / "MLproject", {});
    ASSERT_FALSE(spec.ok()) << text;
    EXPECT_NE(spec.status().message().find(fragment), std::string::npos) << spec.status().message();
  }
}

TEST(EntrypointArgv, PlaceholdersInSomlierYamlCommands) {
  EntrypointSpec ep;
  ep.name = "main";
  ep.argv = {"python", "train.py", "--lr={learning_rate}", "{data}"};
  EXPECT_EQ(*BuildEntrypointArgv(ep, {{"learning_rate", "0.01"}, {"data", "x y"}, {"seed", "1"}}),
            (std::vector<std::string>{"python", "train.py", "--lr=0.01", "x y", "--seed", "1"}));
  auto missing = BuildEntrypointArgv(ep, {{"learning_rate", "0.01"}});
  EXPECT_NE(missing.status().message().find("{data}"), std::string::npos);
  ep.argv = {"sh", "-c", "echo {x}"};
  EXPECT_EQ((*BuildEntrypointArgv(ep, {{"x", "$(rm -rf /)"}}))[2], "echo $(rm -rf /)")
      << "values are words, never shell text";
}

TEST(PythonEnv, LocalAndCachedVirtualenv) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  testing::TempDir dir;
  Environment env = {{"PATH", std::getenv("PATH")}};
  PythonEnvManager manager(dir.path() / "envs", env);
  PythonEnvRequest request;
  request.configured_python = "/usr/bin/python3";
  request.python_version = "9.9";
  auto local = manager.Prepare(request, nullptr);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local->python, "/usr/bin/python3");
  ASSERT_EQ(local->warnings.size(), 1u);
  EXPECT_NE(local->warnings[0].find("9.9"), std::string::npos);

  // The configured interpreter wins when it is the version asked for, even when another
  // pythonX.Y comes first on PATH.
  auto version =
      RunCommand({"/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"});
  ASSERT_TRUE(version.ok());
  fs::create_directories(dir.path() / "bin");
  const std::string other = "python" + std::string(Trim(version->stdout_text));
  Write(dir.path() / "bin" / other, "#!/bin/sh\nexit 1\n");
  fs::permissions(dir.path() / "bin" / other, fs::perms::owner_all);
  PythonEnvManager shadowed(dir.path() / "envs",
                            {{"PATH", (dir.path() / "bin").string() + ":" + std::getenv("PATH")}});
  request.python_version = std::string(Trim(version->stdout_text));
  auto chosen = shadowed.Prepare(request, nullptr);
  ASSERT_TRUE(chosen.ok()) << chosen.status().ToString();
  EXPECT_EQ(chosen->python, "/usr/bin/python3");
  EXPECT_TRUE(chosen->warnings.empty());

  Write(dir.path() / "requirements.txt", "# satisfied by the system's packages\n");
  request.manager = EnvManager::kVirtualenv;
  request.python_version = "";
  request.requirements_file = dir.path() / "requirements.txt";
  std::vector<std::string> notes;
  auto first = manager.Prepare(request, [&](std::string_view n) { notes.emplace_back(n); });
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_TRUE(fs::exists(fs::path(first->python)));
  EXPECT_FALSE(notes.empty());
  auto again = manager.Prepare(request, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created) << "reused";
  EXPECT_EQ(again->python, first->python);

  Write(dir.path() / "bad.txt", "this-package-does-not-exist-anywhere==9.9\n");
  request.requirements_file = dir.path() / "bad.txt";
  auto bad = manager.Prepare(request, nullptr);
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseEnvManager("conda").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace somlier
