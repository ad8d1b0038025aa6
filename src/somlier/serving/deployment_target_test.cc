// Tests of the deployment state machine (serving/deployment_target.h): every transition
// from every state (and from none) is allowed or refused as the header's table says. The
// local target's use of it is tested end to end (tests/e2e/test_serving.py: deploy, a
// supervisor that gives up, list after its supervisor died, stop).
#include "somlier/serving/deployment_target.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace somlier {
namespace {

using S = DeploymentStatus;

TEST(DeploymentTransitions, EveryPairIsAllowedOrRefusedAsDocumented) {
  // The table of the header: to -> the states it may come from (nullopt: a new deployment).
  const std::map<S, std::set<std::optional<S>>> allowed = {
      {S::kStarting, {std::nullopt, S::kStarting, S::kStopped, S::kFailed}},
      {S::kRunning, {S::kStarting}},
      {S::kFailed, {S::kStarting, S::kRunning}},
      {S::kStopped, {S::kStarting, S::kRunning, S::kStopped, S::kFailed}},
  };
  const std::optional<S> froms[] = {std::nullopt, S::kStarting, S::kRunning, S::kStopped,
                                    S::kFailed};
  for (const auto& [to, sources] : allowed) {
    for (const std::optional<S>& from : froms) {
      EXPECT_EQ(DeploymentTransitionAllowed(from, to), sources.count(from) > 0)
          << (from ? ToString(*from) : "new") << " -> " << ToString(to);
    }
  }
}

TEST(DeploymentTransitions, MoveStampsAndRefusesWhatTheTableRefuses) {
  Deployment d;
  d.name = "price-v1";
  EXPECT_EQ(MoveDeployment(d, S::kRunning, "").code(), StatusCode::kInternal)
      << "a new deployment starts first";
  ASSERT_TRUE(MoveDeployment(d, S::kStarting, "project p").ok());
  EXPECT_GT(d.creation_time, 0);
  EXPECT_EQ(d.message, "project p");
  ASSERT_TRUE(MoveDeployment(d, S::kRunning, "up").ok());
  const Status again = MoveDeployment(d, S::kStarting, "");
  EXPECT_EQ(again.code(), StatusCode::kInternal);
  EXPECT_NE(again.message().find("cannot go from RUNNING to STARTING"), std::string::npos);
  EXPECT_EQ(d.status, S::kRunning) << "a refused move changes nothing";
  ASSERT_TRUE(MoveDeployment(d, S::kStopped, "").ok());
  ASSERT_TRUE(MoveDeployment(d, S::kStarting, "redeployed").ok());
}

}  // namespace
}  // namespace somlier
