// Tests of TrainService's recovery of runs whose executing process has died (the grid
// itself is tested end to end: tests/e2e/test_train.py).
#include "somlier/training/train_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "somlier/core/strings.h"
#include "somlier/execution/process_identity.h"
#include "somlier/tracking/tracking_service.h"
#include "temp_dir.h"
#include "tracking_fixture.h"

namespace somlier {
namespace {

using namespace std::chrono_literals;

// This process's identity with another start time: a process of this host that is gone.
std::string DeadIdentity() {
  std::vector<std::string> parts = Split(ThisProcessIdentity(), ':');
  parts[parts.size() - 2] = "1";
  return Join(parts, ":");
}

class OrphanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.Open();
    if (HasFatalFailure()) return;
    TrainServiceConfig config;
    config.home = dir_.path() / "home";
    train_ = std::make_unique<TrainService>(*tracking_, config);
  }

  std::string NewExecutedRun(const std::string& executor) {
    CreateRunRequest r;
    r.status = RunStatus::kRunning;
    r.executor = executor;
    auto run = tracking_->CreateRun(r);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? run->info.run_id : "";
  }

  RunStatus StatusOf(const std::string& run_id) { return tracking_->GetRun(run_id)->info.status; }

  somlier::testing::TrackingFixture fixture_;
  somlier::testing::TempDir& dir_ = fixture_.dir;
  std::unique_ptr<Store>& store_ = fixture_.store;
  std::unique_ptr<ArtifactStore>& artifacts_ = fixture_.artifacts;
  std::unique_ptr<TrackingService>& tracking_ = fixture_.tracking;
  std::unique_ptr<TrainService> train_;
};

TEST_F(OrphanTest, RecoverFailsOnlyTheRunsOfDeadExecutors) {
  const std::string orphan = NewExecutedRun(DeadIdentity());
  const std::string alive = NewExecutedRun(ThisProcessIdentity());
  const std::string elsewhere = NewExecutedRun("another-host:1:2:3");
  ASSERT_EQ(CheckProcess(DeadIdentity()), ProcessState::kGone);
  EXPECT_EQ(*train_->RecoverOrphanedRuns(), 1);
  auto failed = tracking_->GetRun(orphan);
  EXPECT_EQ(failed->info.status, RunStatus::kFailed);
  EXPECT_TRUE(failed->info.end_time.has_value());
  EXPECT_TRUE(failed->info.executor.empty()) << "released";
  EXPECT_NE(failed->info.status_message.find("ended before the run did"), std::string::npos);
  EXPECT_EQ(StatusOf(alive), RunStatus::kRunning);
  EXPECT_EQ(StatusOf(elsewhere), RunStatus::kRunning) << "another host's: cannot tell";
  EXPECT_EQ(*train_->RecoverOrphanedRuns(), 0) << "once";
}

TEST_F(OrphanTest, AKilledRunWhoseExecutorIsGoneIsReleasedNotHeldForEver) {
  // Killed by a user after its executor died: nobody will report its end, so the kill
  // releases it at once.
  const std::string killed_now = NewExecutedRun(DeadIdentity());
  ASSERT_TRUE(tracking_->lifecycle().Kill(killed_now, "asked").ok());
  auto run = tracking_->GetRun(killed_now);
  EXPECT_EQ(run->info.status, RunStatus::kKilled);
  EXPECT_TRUE(RunLifecycle::Ended(run->info)) << "released";
  // Killed while its executor lived, which then died before it saw the end: recovery
  // releases it, and the kill stands.
  CreateRunRequest r;
  r.status = RunStatus::kKilled;
  r.executor = DeadIdentity();
  auto held = tracking_->CreateRun(r);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*train_->RecoverOrphanedRuns(), 0) << "nothing failed";
  run = tracking_->GetRun(held->info.run_id);
  EXPECT_EQ(run->info.status, RunStatus::kKilled);
  EXPECT_TRUE(RunLifecycle::Ended(run->info));
}

TEST_F(OrphanTest, TheWatchFailsRunsOrphanedWhileItRunsAndStopsWithTheService) {
  train_->WatchForOrphanedRuns(50ms);
  const std::string alive = NewExecutedRun(ThisProcessIdentity());
  const std::string orphan = NewExecutedRun(DeadIdentity());  // its executor died meanwhile
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (StatusOf(orphan) != RunStatus::kFailed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(StatusOf(orphan), RunStatus::kFailed);
  EXPECT_EQ(StatusOf(alive), RunStatus::kRunning);

  const auto started = std::chrono::steady_clock::now();
  train_.reset();  // stops the watch at once, not after a period
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  const std::string later = NewExecutedRun(DeadIdentity());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(StatusOf(later), RunStatus::kRunning) << "no watch after the service is gone";
}

TEST_F(OrphanTest, ALongPeriodDoesNotDelayDestruction) {
  train_->WatchForOrphanedRuns(1h);
  const auto started = std::chrono::steady_clock::now();
  train_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

}  // namespace
}  // namespace somlier
