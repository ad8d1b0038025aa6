// Tests of the run lifecycle (tracking/run_lifecycle.h) on a real SQLite store: every
// transition from every status, allowed or refused as its header's table says; a kill that
// comes before the executor's end stands; clients cannot end a held run; kills go through
// the registered stopper (a fake here — the real one, TrainService, is tested end to end by
// tests/e2e/test_train.py's kills); logs are read in whole lines.
#include "somlier/tracking/run_lifecycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "somlier/tracking/tracking_service.h"
#include "temp_dir.h"
#include "tracking_fixture.h"

namespace somlier {
namespace {

constexpr RunStatus kAllStatuses[] = {RunStatus::kScheduled, RunStatus::kRunning,
                                      RunStatus::kFinished, RunStatus::kFailed, RunStatus::kKilled};
constexpr RunTransition kAllTransitions[] = {RunTransition::kSchedule, RunTransition::kStart,
                                             RunTransition::kFinish,   RunTransition::kFailToStart,
                                             RunTransition::kKill,     RunTransition::kAbandon,
                                             RunTransition::kWait,     RunTransition::kAdopt};

class FakeStopper : public RunStopper {
 public:
  Status CanStop(const RunInfo&) override { return can_stop; }
  void Stop(const RunInfo& run, const std::string& reason) override {
    stopped.push_back(run.run_id + ": " + reason);
  }
  Status can_stop = OkStatus();
  std::vector<std::string> stopped;
};

class RunLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.Open();
    if (HasFatalFailure()) return;
    lifecycle().SetStopper(&stopper_);
  }
  void TearDown() override { lifecycle().ClearStopper(&stopper_); }

  RunLifecycle& lifecycle() { return tracking_->lifecycle(); }

  std::string Scheduled() {
    CreateRunRequest create;
    create.experiment_id = "0";
    create.executor = "test-executor";
    auto run = lifecycle().Schedule(create);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? run->info.run_id : "";
  }

  // A held run in `status`, reached through the lifecycle's own transitions.
  std::string RunIn(RunStatus status) {
    const std::string id = Scheduled();
    Status done = OkStatus();
    switch (status) {
      case RunStatus::kScheduled:
        break;
      case RunStatus::kRunning:
        done = lifecycle().Start(id, 42);
        break;
      case RunStatus::kFinished:
        done = lifecycle().Finish(id, {RunEnd::Kind::kExited, 0, ""}).status();
        break;
      case RunStatus::kFailed:
        done = lifecycle().Abandon(id, "gone");
        break;
      case RunStatus::kKilled:
        done = lifecycle().Kill(id, "asked");
        break;
    }
    EXPECT_TRUE(done.ok()) << done.ToString();
    EXPECT_EQ(Info(id).status, status);
    return id;
  }

  RunInfo Info(const std::string& id) {
    auto run = tracking_->GetRun(id);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? run->info : RunInfo{};
  }

  Status Apply(RunTransition transition, const std::string& id) {
    switch (transition) {
      case RunTransition::kSchedule:
        return Scheduled().empty() ? Internal("not scheduled") : OkStatus();
      case RunTransition::kStart:
        return lifecycle().Start(id, 7);
      case RunTransition::kFinish:
        return lifecycle().Finish(id, {RunEnd::Kind::kExited, 1, ""}).status();
      case RunTransition::kFailToStart:
        return lifecycle().Finish(id, {RunEnd::Kind::kFailedToStart, {}, "no python"}).status();
      case RunTransition::kKill:
        return lifecycle().Kill(id, "asked again");
      case RunTransition::kAbandon:
        return lifecycle().Abandon(id, "executor died");
      case RunTransition::kWait:
        return lifecycle().Wait(id, "ImagePullBackOff");
      case RunTransition::kAdopt:
        return lifecycle().Adopt(id, "kubernetes:ns@another");
    }
    return Internal("?");
  }

  somlier::testing::TrackingFixture fixture_;
  somlier::testing::TempDir& dir_ = fixture_.dir;
  std::unique_ptr<Store>& store_ = fixture_.store;
  std::unique_ptr<ArtifactStore>& artifacts_ = fixture_.artifacts;
  std::unique_ptr<TrackingService>& tracking_ = fixture_.tracking;
  FakeStopper stopper_;
};

TEST_F(RunLifecycleTest, EveryTransitionFromEveryStatusIsAllowedOrRefusedAsDocumented) {
  // What each allowed transition leads to (Finish here: exit code 1).
  auto expected = [](RunTransition t, RunStatus from) {
    switch (t) {
      case RunTransition::kStart:
        return RunStatus::kRunning;
      case RunTransition::kFinish:
      case RunTransition::kFailToStart:  // an ended run stays as it ended
        return IsTerminal(from) ? from : RunStatus::kFailed;
      case RunTransition::kKill:
        return RunStatus::kKilled;
      case RunTransition::kWait:  // the status stays
      case RunTransition::kAdopt:
        return from;
      default:
        return RunStatus::kFailed;
    }
  };
  for (RunTransition transition : kAllTransitions) {
    if (transition == RunTransition::kSchedule) continue;  // from no status: below
    const auto allowed = AllowedFrom(transition);
    for (RunStatus from : kAllStatuses) {
      SCOPED_TRACE(std::string(ToString(transition)) + " from " + std::string(ToString(from)));
      const std::string id = RunIn(from);
      const bool should = std::find(allowed.begin(), allowed.end(), from) != allowed.end();
      const Status applied = Apply(transition, id);
      if (should) {
        EXPECT_TRUE(applied.ok()) << applied.ToString();
        EXPECT_EQ(Info(id).status, expected(transition, from));
      } else {
        EXPECT_EQ(applied.code(), StatusCode::kFailedPrecondition) << applied.ToString();
        EXPECT_EQ(Info(id).status, from) << "a refused transition changes nothing";
      }
    }
  }
  EXPECT_TRUE(AllowedFrom(RunTransition::kSchedule).empty());
  EXPECT_EQ(Info(Scheduled()).status, RunStatus::kScheduled);
  CreateRunRequest unheld;
  EXPECT_EQ(lifecycle().Schedule(unheld).status().code(), StatusCode::kInvalidArgument)
      << "a scheduled run names its executor";
}

TEST_F(RunLifecycleTest, WhyARunWaitsIsItsStatusMessageUntilItStarts) {
  const std::string id = Scheduled();
  ASSERT_TRUE(lifecycle().Wait(id, "ErrImagePull: pull access denied").ok());
  EXPECT_EQ(Info(id).status, RunStatus::kScheduled);
  EXPECT_EQ(Info(id).status_message, "ErrImagePull: pull access denied");
  ASSERT_TRUE(lifecycle().Start(id, std::nullopt).ok());
  EXPECT_EQ(Info(id).status, RunStatus::kRunning);
  EXPECT_EQ(Info(id).status_message, "");
}

TEST_F(RunLifecycleTest, TheExecutorsEndReleasesTheRunAndAKillThatCameFirstStands) {
  const std::string finished = RunIn(RunStatus::kRunning);
  auto outcome = lifecycle().Finish(finished, {RunEnd::Kind::kExited, 0, ""});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, RunStatus::kFinished);
  EXPECT_TRUE(RunLifecycle::Ended(Info(finished)));
  EXPECT_EQ(*Info(finished).exit_code, 0);

  const std::string failed = RunIn(RunStatus::kRunning);
  outcome = lifecycle().Finish(failed, {RunEnd::Kind::kExited, 137, ""});
  EXPECT_EQ(outcome->status, RunStatus::kFailed);
  EXPECT_EQ(outcome->message, "ended by signal 9 (SIGKILL)");

  const std::string killed = RunIn(RunStatus::kRunning);
  ASSERT_TRUE(lifecycle().Kill(killed, "killed by a user").ok());
  EXPECT_EQ(stopper_.stopped, std::vector<std::string>{killed + ": killed by a user"});
  EXPECT_FALSE(RunLifecycle::Ended(Info(killed))) << "held until its executor sees the end";
  outcome = lifecycle().Finish(killed, {RunEnd::Kind::kExited, 0, ""});
  EXPECT_EQ(outcome->status, RunStatus::kKilled) << "the process exiting 0 after the kill";
  EXPECT_EQ(outcome->message, "killed by a user");
  EXPECT_TRUE(RunLifecycle::Ended(Info(killed)));
  EXPECT_EQ(*Info(killed).exit_code, 0);
}

TEST_F(RunLifecycleTest, KillsNeedAnExecutorThatCanStopTheRun) {
  const std::string id = RunIn(RunStatus::kRunning);
  stopper_.can_stop = FailedPrecondition("another machine executes it");
  EXPECT_EQ(lifecycle().Kill(id, "x").message(), "another machine executes it");
  EXPECT_EQ(Info(id).status, RunStatus::kRunning) << "nothing recorded";
  stopper_.can_stop = OkStatus();
  lifecycle().ClearStopper(&stopper_);
  EXPECT_EQ(lifecycle().Kill(id, "x").code(), StatusCode::kFailedPrecondition);
  lifecycle().SetStopper(&stopper_);
  EXPECT_EQ(lifecycle().Kill("0123456789abcdef0123456789abcdef", "x").code(),
            StatusCode::kNotFound);
  CreateRunRequest by_a_client;
  by_a_client.experiment_id = "0";
  auto client_run = tracking_->CreateRun(by_a_client);
  ASSERT_TRUE(client_run.ok());
  EXPECT_NE(lifecycle().Kill(client_run->info.run_id, "x").message().find("no process to kill"),
            std::string::npos);
  EXPECT_TRUE(stopper_.stopped.empty());
}

TEST_F(RunLifecycleTest, ClientsCannotEndAHeldRunButCanOnceItIsReleased) {
  const std::string id = RunIn(RunStatus::kRunning);
  RunUpdateRequest finish;
  finish.status = RunStatus::kFinished;
  ASSERT_TRUE(tracking_->UpdateRun(id, finish).ok());
  EXPECT_EQ(Info(id).status, RunStatus::kRunning);
  ASSERT_TRUE(lifecycle().Finish(id, {RunEnd::Kind::kExited, 3, ""}).ok());
  ASSERT_TRUE(tracking_->UpdateRun(id, finish).ok());
  EXPECT_EQ(Info(id).status, RunStatus::kFinished);
}

TEST_F(RunLifecycleTest, LogsAreReadInWholeLinesUntilTheRunHasEnded) {
  const std::string id = RunIn(RunStatus::kRunning);
  auto file = lifecycle().LogFile(Info(id));
  ASSERT_TRUE(file.ok());
  std::filesystem::create_directories(file->parent_path());
  std::ofstream(*file) << "one\ntwo\nthr";
  auto log = lifecycle().ReadLog(id, 0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->text, "one\ntwo\n");
  EXPECT_EQ(log->next_offset, 8);
  EXPECT_FALSE(log->ended);
  ASSERT_TRUE(lifecycle().Finish(id, {RunEnd::Kind::kExited, 0, ""}).ok());
  log = lifecycle().ReadLog(id, 8);
  EXPECT_EQ(log->text, "thr") << "once ended, the last partial line comes too";
  EXPECT_EQ(log->status, RunStatus::kFinished);
  EXPECT_TRUE(log->ended);
  EXPECT_EQ(lifecycle().ReadLog(id, 4, 3)->text, "two") << "pieces are bounded";
}

}  // namespace
}  // namespace somlier
