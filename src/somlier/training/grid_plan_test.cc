// Tests of grid planning (training/grid_plan.h: pure functions, no processes) and of the
// local executor through the RunExecutor seam (real git, real processes).
#include "somlier/training/grid_plan.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "somlier/execution/run_command.h"
#include "somlier/projects/git_cache.h"
#include "somlier/training/local_run_executor.h"
#include "temp_dir.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

TrainRequest Request(std::vector<ParamSpec> params = {}) {
  TrainRequest r;
  r.project_name = "projects/grid/";
  r.project_ref = "main";
  r.github_uri = "https://user:secret@git.example/team/models.git";
  r.params = std::move(params);
  return r;
}

bool Says(const Status& status, std::string_view fragment) {
  return status.message().find(fragment) != std::string::npos;
}

TEST(GridPlan, ChecksTheRequestBeforeAnythingIsFetched) {
  auto checked = CheckTrainRequest(Request({{"lr", "0.1,0.2"}, {"depth", "1..3..1"}}), "", 2);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->project_path, "projects/grid");
  EXPECT_EQ(checked->max_parallel, 2) << "the number of cores by default";
  ASSERT_EQ(checked->grid.size(), 4u) << "a range's end is excluded";
  EXPECT_EQ(checked->grid[0], (ParamCombination{{"lr", "0.1"}, {"depth", "1"}}));
  EXPECT_EQ(checked->grid[3], (ParamCombination{{"lr", "0.2"}, {"depth", "2"}}));
  EXPECT_EQ(ExperimentNameFor(*checked), "projects/grid");

  TrainRequest r = Request();
  r.project_name = ".";
  auto root = CheckTrainRequest(r, "", 1);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(ExperimentNameFor(*root), "models") << "the repository's name, never its secret";

  auto refused = [](TrainRequest request, std::string_view default_uri = "") {
    return CheckTrainRequest(request, std::string(default_uri), 2).status();
  };
  r = Request();
  r.project_name = "";
  EXPECT_TRUE(Says(refused(r), "project_name is required"));
  r = Request();
  r.project_ref = "";
  EXPECT_TRUE(Says(refused(r), "project_ref is required"));
  r = Request();
  r.github_uri = "";
  EXPECT_TRUE(Says(refused(r), "no repository to train from"));
  EXPECT_TRUE(refused(r, "https://git.example/default.git").ok());
  r = Request();
  r.max_parallel = kMaxParallelRuns + 1;
  EXPECT_TRUE(Says(refused(r), "max_parallel 257 is not between 1 and 256"));
  r = Request();
  r.timeout = kMaxRunTimeout + std::chrono::seconds(1);
  EXPECT_TRUE(Says(refused(r), "timeout"));
  EXPECT_EQ(refused(Request({{"bad name!", "1"}})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused(Request({{"lr", "1..0..1"}})).code(), StatusCode::kInvalidArgument);
}

TEST(GridPlan, EachCombinationGetsItsCommandAndItsRun) {
  TrainRequest r = Request({{"lr", "0.1,0.2"}});
  r.user = "ana";
  auto checked = CheckTrainRequest(r, "", 2);
  ASSERT_TRUE(checked.ok());
  EntrypointSpec entrypoint;
  entrypoint.name = "main";
  entrypoint.argv = {"python", "train.py", "--lr={lr}"};
  GridRunsContext context{"abc123", "local", "virtualenv", "train42", "host:1:2"};
  auto runs = PlanGridRuns(r, *checked, entrypoint, context);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[1].argv, (std::vector<std::string>{"python", "train.py", "--lr=0.2"}));
  const CreateRunRequest& create = (*runs)[1].create;
  EXPECT_EQ(create.executor, "host:1:2");
  EXPECT_EQ(create.user_id, "ana");
  EXPECT_EQ(create.params, (std::vector<Param>{{"lr", "0.2"}}));
  EXPECT_EQ(create.source.git_uri, "https://user:***@git.example/team/models.git") << "no password";
  std::map<std::string, std::string> tags;
  for (const Tag& tag : create.tags) tags[tag.key] = tag.value;
  EXPECT_EQ(tags["mlflow.source.git.commit"], "abc123");
  EXPECT_EQ(tags["mlflow.project.backend"], "local");
  EXPECT_EQ(tags["mlflow.project.env"], "virtualenv");
  EXPECT_EQ(tags["somlier.train_id"], "train42");
  EXPECT_EQ(tags["mlflow.user"], "ana");
  EXPECT_EQ(tags["mlflow.source.name"].find("secret"), std::string::npos);

  entrypoint.declares_parameters = true;  // declares none: lr is refused
  EXPECT_EQ(PlanGridRuns(r, *checked, entrypoint, context).status().code(),
            StatusCode::kInvalidArgument);
}

// Records what an executor reports, and lets a test wait for the ends.
class RecordingObserver : public ExecutionObserver {
 public:
  bool Cancelled() override { return false; }
  void OnNote(std::string_view) override {}
  Status MayStart(const std::string& run_id) override {
    std::lock_guard lock(mutex_);
    return refused_.count(run_id) ? FailedPrecondition("refused") : OkStatus();
  }
  Status OnStart(const std::string& run_id, std::optional<int64_t> pid) override {
    std::lock_guard lock(mutex_);
    started_[run_id] = pid.value_or(-1);
    return OkStatus();
  }
  void OnLine(const std::string& run_id, OutputStream, std::string_view line) override {
    std::lock_guard lock(mutex_);
    lines_[run_id] += std::string(line) + "\n";
  }
  void OnWaiting(const std::string&, std::string_view) override {}
  void OnEnd(const std::string& run_id, const RunEnd& end) override {
    std::lock_guard lock(mutex_);
    ends_[run_id] = end;
    ended_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable ended_;
  std::set<std::string> refused_;
  std::map<std::string, int64_t> started_;
  std::map<std::string, std::string> lines_;
  std::map<std::string, RunEnd> ends_;
};

void Git(const fs::path& repo, std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "git", "-C", repo.string(), "-c", "user.name=t", "-c", "user.email=t@example.com"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = RunCommand(argv);
  ASSERT_TRUE(out.ok() && out->exit_code == 0)
      << (out.ok() ? out->stderr_text : out.status().ToString());
}

TEST(LocalRunExecutor, RunsAGridThroughTheSeam) {
  testing::TempDir dir;
  const fs::path repo = dir.path() / "repo";
  fs::create_directories(repo / "p");
  std::ofstream(repo / "p" / "somlier.yaml") << "name: p\nentry_points:\n  main: sh run.sh\n";
  std::ofstream(repo / "p" / "run.sh") << "echo \"hello $1 from $MLFLOW_RUN_ID\"\nexit $2\n";
  Git(repo, {"init", "-q", "-b", "main"});
  Git(repo, {"add", "."});
  Git(repo, {"commit", "-q", "-m", "first"});
  const Environment env = {{"PATH", std::getenv("PATH")}};
  // TrainService fetches the project into the git cache the executor exports it from.
  auto commit = GitCache(dir.path() / "home" / "repos", env).Fetch(repo.string(), "main");
  ASSERT_TRUE(commit.ok()) << commit.status().ToString();
  LocalRunExecutor executor({dir.path() / "home", env, std::chrono::milliseconds(500)});
  EXPECT_EQ(executor.name(), "local");
  GridJob job;
  job.uri = repo.string();
  job.commit = *commit;
  job.project_path = "p";
  job.spec.file = repo / "p" / "somlier.yaml";
  job.spec.directory = repo / "p";
  job.env_request.configured_python = "/usr/bin/python3";
  job.tracking_uri = "http://127.0.0.1:1";
  job.experiment_id = "7";
  job.max_parallel = 2;
  for (const auto& [id, code] : {std::pair{"ok", "0"}, {"bad", "3"}, {"refused", "0"}}) {
    job.runs.push_back({id, {"sh", "run.sh", id, code}, dir.path() / "logs" / id});
  }
  RecordingObserver observer;
  observer.refused_ = {"refused"};
  auto execution = executor.Submit(job, observer);
  ASSERT_TRUE(execution.ok()) << execution.status().ToString();
  ASSERT_TRUE((*execution)->WaitFor(std::chrono::seconds(60)));

  std::lock_guard lock(observer.mutex_);
  EXPECT_EQ(observer.ends_["ok"].kind, RunEnd::Kind::kExited) << observer.ends_["ok"].message;
  EXPECT_EQ(observer.ends_["ok"].exit_code, 0);
  EXPECT_EQ(observer.ends_["bad"].exit_code, 3);
  EXPECT_NE(observer.lines_["ok"].find("hello ok from ok"), std::string::npos)
      << "MLFLOW_RUN_ID is the run's";
  EXPECT_GT(observer.started_["ok"], 0) << "a local run has a pid";
  EXPECT_EQ(observer.ends_["refused"].kind, RunEnd::Kind::kFailedToStart);
  EXPECT_EQ(observer.started_.count("refused"), 0u) << "a run the observer refused never starts";
  std::ifstream log(dir.path() / "logs" / "bad");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "hello bad from bad\n");

  // Recovery is by process identity: this process's runs are alive, a stranger's unknown.
  RunInfo mine;
  mine.executor = executor.Handle();
  EXPECT_EQ(executor.Check(mine), ExecutorLiveness::kAlive);
  RunInfo foreign;
  foreign.executor = "another-host:1:2";
  EXPECT_EQ(executor.Check(foreign), ExecutorLiveness::kUnknown);
}

}  // namespace
}  // namespace somlier
