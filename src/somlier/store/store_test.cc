// One suite for the Store, run against SQLite and against a real PostgreSQL server.
//
// PostgreSQL: the URL is read from the file named by SOMLIER_TEST_POSTGRES_URL_FILE (CTest
// starts a server, see scripts/test-postgres.sh) or from SOMLIER_TEST_POSTGRES_URL. Each
// test gets its own schema. Without a URL the PostgreSQL cases are skipped, unless
// SOMLIER_TEST_REQUIRE_POSTGRES=1, when they fail.
#include "somlier/store/store.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "somlier/core/ids.h"
#include "somlier/core/time.h"
#include "somlier/store/query_sql.h"
#include "temp_dir.h"

namespace somlier {
namespace {

std::string PostgresUrl() {
  if (const char* url = std::getenv("SOMLIER_TEST_POSTGRES_URL"); url && *url) return url;
  if (const char* file = std::getenv("SOMLIER_TEST_POSTGRES_URL_FILE"); file && *file) {
    std::ifstream in(file);
    std::string url;
    std::getline(in, url);
    return url;
  }
  return "";
}

std::string WithSearchPath(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

// A run's tags without the `mlflow.runName` tag the store keeps in step with its name.
std::vector<Tag> UserTags(const std::vector<Tag>& tags) {
  std::vector<Tag> out;
  for (const Tag& t : tags) {
    if (t.key != "mlflow.runName") out.push_back(t);
  }
  return out;
}

class StoreTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    if (GetParam() == Dialect::kSqlite) {
      url_ = "sqlite:///" + dir_.file("somlier.db");
    } else {
      const std::string base = PostgresUrl();
      if (base.empty()) {
        const char* require = std::getenv("SOMLIER_TEST_REQUIRE_POSTGRES");
        if (require && std::string(require) == "1") {
          FAIL() << "SOMLIER_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL URL was given";
        }
        GTEST_SKIP() << "no PostgreSQL server (set SOMLIER_TEST_POSTGRES_URL)";
      }
      static std::atomic<int> counter{0};
      const std::string schema = "t" + NewRunId().substr(0, 12) + "_" + std::to_string(counter++);
      auto admin = Database::Open(base);
      ASSERT_TRUE(admin.ok()) << admin.status().ToString();
      ASSERT_TRUE(
          (*admin)
              ->Transaction(
                  true, [&](Connection& c) { return c.ExecuteScript("CREATE SCHEMA " + schema); })
              .ok());
      url_ = WithSearchPath(base, schema);
    }
    auto opened = Store::Open(url_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  int64_t NewExperiment(const std::string& name = "exp") {
    auto id = store_->CreateExperiment(name, "/artifacts/{experiment_id}");
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : -1;
  }

  std::string NewRun(int64_t experiment_id, int64_t start_time = 0) {
    RunInfo info;
    info.run_id = NewRunId();
    info.experiment_id = experiment_id;
    info.run_name = "run-" + info.run_id.substr(0, 6);
    info.status = RunStatus::kRunning;
    info.start_time = start_time ? start_time : NowMillis();
    Status s = store_->CreateRun(info);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return info.run_id;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

// ---- Schema ---------------------------------------------------------------------------

TEST_P(StoreTest, OpenMigratesToLatestAndReopenIsIdempotent) {
  auto version = store_->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_GE(*version, 1);
  NewExperiment("kept");
  store_.reset();
  auto again = Store::Open(url_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE((*again)->GetExperimentByName("kept").ok());
}

TEST_P(StoreTest, RefusesDatabaseNewerThanBinary) {
  auto db = Database::Open(url_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)
                  ->Transaction(true,
                                [](Connection& c) {
                                  return c.ExecuteScript("UPDATE somlier_schema SET version = 999");
                                })
                  .ok());
  auto reopened = Store::Open(url_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(reopened.status().message().find("999"), std::string::npos);
}

// ---- Experiments ----------------------------------------------------------------------

TEST_P(StoreTest, ExperimentLifecycle) {
  auto id = store_->CreateExperiment("example-projects/sklearn", "/art/{experiment_id}",
                                     {{"team", "ml"}});
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  auto got = store_->GetExperiment(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "example-projects/sklearn");
  EXPECT_EQ(got->artifact_location, "/art/" + std::to_string(*id));
  EXPECT_EQ(got->lifecycle_stage, LifecycleStage::kActive);
  EXPECT_GT(got->creation_time, 0);
  ASSERT_EQ(got->tags.size(), 1u);
  EXPECT_EQ(got->tags[0], (Tag{"team", "ml"}));

  auto dup = store_->CreateExperiment("example-projects/sklearn", "");
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateExperiment("", "").status().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(store_->SetExperimentTag(*id, {"team", "platform"}).ok());
  ASSERT_TRUE(store_->SetExperimentTag(*id, {"owner", "kim"}).ok());
  got = store_->GetExperimentByName("example-projects/sklearn");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tags, (std::vector<Tag>{{"owner", "kim"}, {"team", "platform"}}));

  auto other = NewExperiment("other");
  EXPECT_EQ(store_->RenameExperiment(other, "example-projects/sklearn").code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->RenameExperiment(other, "renamed").ok());
  EXPECT_TRUE(store_->GetExperimentByName("renamed").ok());
  EXPECT_EQ(store_->GetExperimentByName("other").status().code(), StatusCode::kNotFound);

  const std::string other_run = NewRun(other);
  ASSERT_TRUE(store_->SetExperimentLifecycle(other, LifecycleStage::kDeleted).ok());
  EXPECT_EQ(store_->GetRun(other_run)->info.lifecycle_stage, LifecycleStage::kDeleted)
      << "deleting an experiment deletes its runs";
  auto search = [&](ViewType view, std::vector<Filter> filters = {}, int64_t max = 100,
                    int64_t offset = 0) {
    ExperimentQuery q;
    q.view = view;
    q.filters = std::move(filters);
    q.max_results = max;
    q.offset = offset;
    return store_->SearchExperiments(q);
  };
  auto active = search(ViewType::kActiveOnly);
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].experiment_id, *id);
  auto deleted = search(ViewType::kDeletedOnly);
  ASSERT_EQ(deleted->size(), 1u);
  EXPECT_EQ((*deleted)[0].name, "renamed");
  EXPECT_EQ(search(ViewType::kAll)->size(), 2u);
  auto like = [](const char* pattern, CompareOp op = CompareOp::kLike) {
    return std::vector<Filter>{{FieldKind::kAttribute, "name", op, {std::string(pattern)}}};
  };
  EXPECT_EQ(search(ViewType::kAll, like("example-%"))->size(), 1u);
  EXPECT_EQ(search(ViewType::kAll, like("EXAMPLE-%"))->size(), 0u)
      << "LIKE is case-sensitive on both engines";
  EXPECT_EQ(search(ViewType::kAll, like("EXAMPLE-%", CompareOp::kILike))->size(), 1u);
  EXPECT_EQ(
      search(ViewType::kAll, {{FieldKind::kTag, "owner", CompareOp::kEq, {std::string("kim")}}})
          ->size(),
      1u);
  EXPECT_EQ(search(ViewType::kAll, {}, 1, 1)->size(), 1u);
  EXPECT_EQ(
      search(ViewType::kAll, {{FieldKind::kAttribute, "color", CompareOp::kEq, {std::string("x")}}})
          .status()
          .code(),
      StatusCode::kInvalidArgument);

  ASSERT_TRUE(store_->SetExperimentLifecycle(other, LifecycleStage::kActive).ok());
  EXPECT_EQ(search(ViewType::kActiveOnly)->size(), 2u);
  EXPECT_EQ(store_->GetRun(other_run)->info.lifecycle_stage, LifecycleStage::kActive);
  ASSERT_TRUE(store_->DeleteExperimentTag(*id, "owner").ok());
  EXPECT_EQ(store_->DeleteExperimentTag(*id, "owner").code(), StatusCode::kNotFound);

  EXPECT_EQ(store_->GetExperiment(424242).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetExperimentTag(424242, {"a", "b"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetExperimentLifecycle(424242, LifecycleStage::kDeleted).code(),
            StatusCode::kNotFound);
}

// ---- Runs -----------------------------------------------------------------------------

TEST_P(StoreTest, RunCreateGetUpdate) {
  const int64_t exp = NewExperiment();
  RunInfo info;
  info.run_id = NewRunId();
  info.experiment_id = exp;
  info.run_name = "grid-1";
  info.status = RunStatus::kScheduled;
  info.user_id = "kim";
  info.artifact_uri = "/artifacts/1/" + info.run_id;
  info.source = {"git@github.com:org/repo.git", "main", "a27738a0", "example-projects/sklearn",
                 "main"};
  ASSERT_TRUE(store_->CreateRun(info, {{"mlflow.user", "kim"}}).ok());
  EXPECT_EQ(store_->CreateRun(info).code(), StatusCode::kAlreadyExists);

  auto run = store_->GetRun(info.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->info.run_name, "grid-1");
  EXPECT_EQ(run->info.status, RunStatus::kScheduled);
  EXPECT_FALSE(run->info.start_time.has_value());
  EXPECT_EQ(run->info.source, info.source);
  EXPECT_EQ(run->info.user_id, "kim");
  EXPECT_EQ(run->tags, (std::vector<Tag>{{"mlflow.runName", "grid-1"}, {"mlflow.user", "kim"}}));

  RunUpdate update;
  update.status = RunStatus::kFailed;
  update.start_time = 1000;
  update.end_time = 2000;
  update.exit_code = 3;
  update.status_message = "exited with code 3";
  ASSERT_TRUE(store_->UpdateRun(info.run_id, update).ok());
  run = store_->GetRun(info.run_id);
  EXPECT_EQ(run->info.status, RunStatus::kFailed);
  EXPECT_EQ(run->info.start_time, 1000);
  EXPECT_EQ(run->info.end_time, 2000);
  EXPECT_EQ(run->info.exit_code, 3);
  EXPECT_EQ(run->info.status_message, "exited with code 3");
  EXPECT_EQ(run->info.run_name, "grid-1");

  EXPECT_EQ(store_->GetRun(NewRunId()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->UpdateRun(NewRunId(), update).code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, ExecutedRunsAreListedAndUpdatedByCompareAndSet) {
  const int64_t exp = NewExperiment();
  RunInfo info;
  info.run_id = NewRunId();
  info.experiment_id = exp;
  info.status = RunStatus::kScheduled;
  info.executor = "host:1:2:3";
  ASSERT_TRUE(store_->CreateRun(info, {}, {{"lr", "0.001"}, {"batch_size", "64"}}).ok());
  RunInfo unowned = info;
  unowned.run_id = NewRunId();
  unowned.executor = "";
  ASSERT_TRUE(store_->CreateRun(unowned).ok());  // a client's run: no executor

  auto executing = store_->ListHeldRuns();
  ASSERT_TRUE(executing.ok());
  ASSERT_EQ(executing->size(), 1u);
  EXPECT_EQ((*executing)[0].run_id, info.run_id);
  EXPECT_EQ((*executing)[0].executor, "host:1:2:3");
  auto run = store_->GetRun(info.run_id);
  EXPECT_EQ(run->params, (std::vector<Param>{{"batch_size", "64"}, {"lr", "0.001"}}));

  RunUpdate start;
  start.status = RunStatus::kRunning;
  start.pid = 4242;
  start.only_from = {RunStatus::kScheduled};
  ASSERT_TRUE(store_->UpdateRun(info.run_id, start).ok());
  EXPECT_EQ(store_->GetRun(info.run_id)->info.pid, 4242);
  // Started once only: the second compare-and-set finds RUNNING and changes nothing.
  start.pid = 1;
  Status again = store_->UpdateRun(info.run_id, start);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("is RUNNING"), std::string::npos) << again.message();
  EXPECT_EQ(store_->GetRun(info.run_id)->info.pid, 4242);

  RunUpdate end;
  end.status = RunStatus::kFinished;
  end.only_from = {RunStatus::kScheduled, RunStatus::kRunning};
  ASSERT_TRUE(store_->UpdateRun(info.run_id, end).ok());
  EXPECT_EQ(store_->ListHeldRuns()->size(), 1u) << "ended, but held until it is released";
  RunUpdate release;
  release.executor = "";
  ASSERT_TRUE(store_->UpdateRun(info.run_id, release).ok());
  EXPECT_TRUE(store_->ListHeldRuns()->empty());
}

TEST_P(StoreTest, RunNeedsValidIdAndLiveExperiment) {
  const int64_t exp = NewExperiment();
  RunInfo info;
  info.experiment_id = exp;
  info.run_id = "not-a-run-id";
  EXPECT_EQ(store_->CreateRun(info).code(), StatusCode::kInvalidArgument);
  info.run_id = NewRunId();
  info.experiment_id = 999999;
  EXPECT_EQ(store_->CreateRun(info).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->SetExperimentLifecycle(exp, LifecycleStage::kDeleted).ok());
  info.experiment_id = exp;
  EXPECT_EQ(store_->CreateRun(info).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetRun(info.run_id).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, DeletedRunRefusesWritesUntilRestored) {
  const std::string run = NewRun(NewExperiment());
  ASSERT_TRUE(store_->SetRunLifecycle(run, LifecycleStage::kDeleted).ok());
  EXPECT_EQ(store_->GetRun(run)->info.lifecycle_stage, LifecycleStage::kDeleted);
  EXPECT_EQ(store_->LogBatch(run, {{"m", 1, 1, 0}}, {}, {}).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->SetRunLifecycle(run, LifecycleStage::kActive).ok());
  EXPECT_TRUE(store_->LogBatch(run, {{"m", 1, 1, 0}}, {}, {}).ok());
}

TEST_P(StoreTest, ParamsAreWriteOnceAndABadBatchWritesNothing) {
  const std::string run = NewRun(NewExperiment());
  ASSERT_TRUE(store_->LogBatch(run, {}, {{"lr", "0.1"}, {"batch_size", "64"}}, {}).ok());
  // The same value again is fine.
  EXPECT_TRUE(store_->LogBatch(run, {}, {{"lr", "0.1"}}, {}).ok());

  // Another value is an error naming the key and both values, and nothing of the batch
  // (not the metric, tag or new param) is written.
  Status s =
      store_->LogBatch(run, {{"loss", 0.5, 10, 0}}, {{"new", "x"}, {"lr", "0.2"}}, {{"t", "v"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'lr'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("0.1"), std::string::npos);
  EXPECT_NE(s.message().find("0.2"), std::string::npos);
  auto got = store_->GetRun(run);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->params, (std::vector<Param>{{"batch_size", "64"}, {"lr", "0.1"}}));
  EXPECT_TRUE(got->metrics.empty());
  EXPECT_TRUE(UserTags(got->tags).empty());
  EXPECT_TRUE(store_->GetMetricHistory(run, "loss")->empty());

  // Two values for one key within a batch.
  EXPECT_EQ(store_->LogBatch(run, {}, {{"k", "1"}, {"k", "2"}}, {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->LogBatch(run, {}, {{"k", "1"}, {"k", "1"}}, {}).ok());
  EXPECT_EQ(store_->LogBatch(NewRunId(), {}, {{"a", "b"}}, {}).code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, MetricsKeepHistoryAndLatestValue) {
  const std::string run = NewRun(NewExperiment());
  ASSERT_TRUE(store_
                  ->LogBatch(run,
                             {{"loss", 0.9, 100, 0},
                              {"loss", 0.5, 200, 2},
                              {"loss", 0.7, 300, 1},  // older step: not the latest
                              {"acc", 0.25, 100, 0}},
                             {}, {})
                  .ok());
  // Same step, older timestamp: history only, not the latest value.
  ASSERT_TRUE(store_->LogBatch(run, {{"acc", 0.75, 50, 0}}, {}, {}).ok());
  auto got = store_->GetRun(run);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->metrics.size(), 2u);
  EXPECT_EQ(got->metrics[0].key, "acc");
  EXPECT_DOUBLE_EQ(got->metrics[0].value, 0.25) << "timestamp 50 < 100 at the same step";
  EXPECT_EQ(got->metrics[1].key, "loss");
  EXPECT_DOUBLE_EQ(got->metrics[1].value, 0.5);
  EXPECT_EQ(got->metrics[1].step, 2);

  ASSERT_TRUE(store_->LogBatch(run, {{"loss", 0.4, 150, 2}}, {}, {}).ok());
  EXPECT_DOUBLE_EQ(store_->GetRun(run)->metrics[1].value, 0.5) << "older timestamp, same step";
  ASSERT_TRUE(store_->LogBatch(run, {{"loss", 0.3, 200, 2}}, {}, {}).ok());
  EXPECT_DOUBLE_EQ(store_->GetRun(run)->metrics[1].value, 0.3) << "a tie goes to the later write";

  auto history = store_->GetMetricHistory(run, "loss");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 5u);
  EXPECT_EQ((*history)[0].step, 0);
  EXPECT_EQ((*history)[1].step, 1);
  EXPECT_EQ((*history)[4].step, 2);
  auto page = store_->GetMetricHistory(run, "loss", 2, 1);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_DOUBLE_EQ((*page)[0].value, 0.7);

  // Non-finite values round-trip.
  ASSERT_TRUE(store_
                  ->LogBatch(run,
                             {{"nan", std::nan(""), 1, 0},
                              {"inf", HUGE_VAL, 1, 0},
                              {"ninf", -HUGE_VAL, 1, 0},
                              {"precise", 0.1 + 0.2, 1, 0}},
                             {}, {})
                  .ok());
  got = store_->GetRun(run);
  std::map<std::string, double> latest;
  for (const Metric& m : got->metrics) latest[m.key] = m.value;
  EXPECT_TRUE(std::isnan(latest["nan"]));
  EXPECT_EQ(latest["inf"], HUGE_VAL);
  EXPECT_EQ(latest["ninf"], -HUGE_VAL);
  EXPECT_EQ(latest["precise"], 0.1 + 0.2) << "doubles are stored exactly";
  EXPECT_TRUE(std::isnan((*store_->GetMetricHistory(run, "nan"))[0].value));
  EXPECT_EQ(store_->GetMetricHistory(NewRunId(), "x").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, TagsOverwriteAndDelete) {
  const std::string run = NewRun(NewExperiment());
  ASSERT_TRUE(store_->LogBatch(run, {}, {}, {{"a", "1"}, {"b", "2"}, {"a", "3"}}).ok());
  EXPECT_EQ(UserTags(store_->GetRun(run)->tags), (std::vector<Tag>{{"a", "3"}, {"b", "2"}}));
  ASSERT_TRUE(store_->LogBatch(run, {}, {}, {{"b", "4"}}).ok());
  ASSERT_TRUE(store_->DeleteRunTag(run, "a").ok());
  EXPECT_EQ(UserTags(store_->GetRun(run)->tags), (std::vector<Tag>{{"b", "4"}}));
  EXPECT_EQ(store_->DeleteRunTag(run, "a").code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, RunNameAndItsTagMoveTogether) {
  const std::string run = NewRun(NewExperiment());
  RunUpdate rename;
  rename.run_name = "renamed";
  ASSERT_TRUE(store_->UpdateRun(run, rename).ok());
  auto got = store_->GetRun(run);
  EXPECT_EQ(got->info.run_name, "renamed");
  EXPECT_EQ(got->tags, (std::vector<Tag>{{"mlflow.runName", "renamed"}}));
  ASSERT_TRUE(store_->LogBatch(run, {}, {}, {{"mlflow.runName", "by-tag"}}).ok());
  EXPECT_EQ(store_->GetRun(run)->info.run_name, "by-tag");
}

TEST_P(StoreTest, MetricHistorySpansTheLogAndTheCompactedTable) {
  const std::string run = NewRun(NewExperiment());
  ASSERT_TRUE(
      store_->LogBatch(run, {{"m", 1, 10, 1}, {"m", 3, 30, 3}, {"other", 9, 1, 0}}, {}, {}).ok());
  auto moved = store_->CompactMetrics();
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_GE(*moved, 3);
  EXPECT_EQ(*store_->MetricLogBacklog(), 0);
  // A repeat of a compacted point, a new point between them, and a NaN, still in the log.
  ASSERT_TRUE(
      store_->LogBatch(run, {{"m", 1, 10, 1}, {"m", 2, 20, 2}, {"m", std::nan(""), 40, 4}}, {}, {})
          .ok());
  EXPECT_EQ(*store_->MetricLogBacklog(), 1);
  auto history = store_->GetMetricHistory(run, "m");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 4u) << "the repeated point is one point";
  EXPECT_EQ((*history)[0].step, 1);
  EXPECT_EQ((*history)[1].value, 2);
  EXPECT_EQ((*history)[2].value, 3);
  EXPECT_TRUE(std::isnan((*history)[3].value));
  auto page = store_->GetMetricHistory(run, "m", 2, 1);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].value, 2);
  EXPECT_EQ((*page)[1].value, 3);
  // After compaction the same answers come from the table alone.
  ASSERT_TRUE(store_->CompactMetrics().ok());
  EXPECT_EQ(*store_->MetricLogBacklog(), 0);
  auto compacted = store_->GetMetricHistory(run, "m");
  ASSERT_EQ(compacted->size(), 4u);
  EXPECT_TRUE(std::isnan((*compacted)[3].value));
  EXPECT_EQ(store_->GetMetricHistory(run, "m", 2, 1)->at(1).value, 3);
  EXPECT_EQ(store_->GetMetricHistory(run, "other")->size(), 1u);
}

TEST_P(StoreTest, ConcurrentBatchesFailAlone) {
  // Batches that commit together: the ones with a changed param or an unknown run fail,
  // the others are all stored.
  const int64_t exp = NewExperiment();
  const std::string run = NewRun(exp);
  ASSERT_TRUE(store_->LogBatch(run, {}, {{"fixed", "1"}}, {}).ok());
  constexpr int kThreads = 12;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string key = "t" + std::to_string(t);
        if (t % 3 == 1) {
          results[t] = store_->LogBatch(run, {{key, 1.0 * i, i, i}}, {{"fixed", "2"}}, {});
        } else if (t % 3 == 2) {
          results[t] = store_->LogBatch(NewRunId(), {{key, 1.0 * i, i, i}}, {}, {});
        } else {
          Status s = store_->LogBatch(run, {{key, 1.0 * i, i, i}}, {}, {});
          if (!s.ok()) results[t] = s;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    const std::string key = "t" + std::to_string(t);
    const auto history = store_->GetMetricHistory(run, key);
    if (t % 3 == 0) {
      EXPECT_TRUE(results[t].ok()) << results[t].ToString();
      EXPECT_EQ(history->size(), 20u) << key;
    } else {
      EXPECT_EQ(results[t].code(),
                t % 3 == 1 ? StatusCode::kInvalidArgument : StatusCode::kNotFound);
      EXPECT_TRUE(history->empty()) << key << ": nothing of a failed batch is written";
    }
  }
}

// ---- Search ---------------------------------------------------------------------------

class SearchFixture {
 public:
  // Five runs with rmse 0.5, 0.4, 0.3, 0.2 and (last) none; params lr and model.
  static std::vector<std::string> Populate(Store& store, int64_t exp) {
    std::vector<std::string> ids;
    const char* models[] = {"ridge", "lasso", "ridge", "Lasso", "ridge"};
    for (int i = 0; i < 5; ++i) {
      RunInfo info;
      info.run_id = NewRunId();
      info.experiment_id = exp;
      info.run_name = "run" + std::to_string(i);
      info.status = i == 3 ? RunStatus::kFailed : RunStatus::kFinished;
      info.start_time = 1000 + i;
      EXPECT_TRUE(store.CreateRun(info).ok());
      std::vector<Metric> metrics;
      if (i < 4) metrics.push_back({"rmse", 0.5 - 0.1 * i, 1, 0});
      EXPECT_TRUE(store
                      .LogBatch(info.run_id, metrics,
                                {{"lr", "0.00" + std::to_string(i + 1)}, {"model", models[i]}},
                                {{"fold", i % 2 ? "odd" : "even"}})
                      .ok());
      ids.push_back(info.run_id);
    }
    return ids;
  }
};

std::vector<std::string> Ids(const Result<std::vector<Run>>& runs) {
  std::vector<std::string> out;
  if (!runs.ok()) return {"error: " + runs.status().ToString()};
  for (const Run& r : *runs) out.push_back(r.info.run_id);
  return out;
}

TEST_P(StoreTest, SearchRunsFiltersOrdersAndPages) {
  const int64_t exp = NewExperiment();
  const auto id = SearchFixture::Populate(*store_, exp);
  const int64_t other = NewExperiment("other");
  NewRun(other);

  RunQuery q;
  q.experiment_ids = {exp};
  // Default order: newest start time first.
  EXPECT_EQ(Ids(store_->SearchRuns(q)),
            (std::vector<std::string>{id[4], id[3], id[2], id[1], id[0]}));

  q.order_by = {{FieldKind::kMetric, "rmse", true}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)),
            (std::vector<std::string>{id[3], id[2], id[1], id[0], id[4]}))
      << "a run without the metric sorts last";
  q.order_by = {{FieldKind::kMetric, "rmse", false}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)),
            (std::vector<std::string>{id[0], id[1], id[2], id[3], id[4]}));

  q.filters = {{FieldKind::kMetric, "rmse", CompareOp::kLt, {0.35}}};
  q.order_by = {{FieldKind::kMetric, "rmse", true}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3], id[2]}));

  q.filters = {{FieldKind::kParam, "model", CompareOp::kEq, {std::string("ridge")}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[2], id[0], id[4]}));
  q.filters = {{FieldKind::kParam, "model", CompareOp::kILike, {std::string("lasso")}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3], id[1]}));
  q.filters = {{FieldKind::kParam, "model", CompareOp::kLike, {std::string("L%")}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3]}));
  q.filters = {{FieldKind::kTag, "fold", CompareOp::kNe, {std::string("even")}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3], id[1]}));
  q.filters = {{FieldKind::kAttribute, "status", CompareOp::kEq, {std::string("FAILED")}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3]}));
  q.filters = {{FieldKind::kAttribute, "run_id", CompareOp::kIn, {id[0], id[4]}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[0], id[4]}))
      << "metric order ascending; the run without it last";
  q.filters = {{FieldKind::kAttribute, "start_time", CompareOp::kGe, {int64_t{1003}}},
               {FieldKind::kMetric, "rmse", CompareOp::kExists, {}}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3]}));

  // Paging is stable.
  q.filters.clear();
  q.max_results = 2;
  q.offset = 0;
  auto first = Ids(store_->SearchRuns(q));
  q.offset = 2;
  auto second = Ids(store_->SearchRuns(q));
  q.offset = 4;
  auto third = Ids(store_->SearchRuns(q));
  EXPECT_EQ(first, (std::vector<std::string>{id[3], id[2]}));
  EXPECT_EQ(second, (std::vector<std::string>{id[1], id[0]}));
  EXPECT_EQ(third, (std::vector<std::string>{id[4]}));

  // Deleted runs are only in the views that ask for them.
  ASSERT_TRUE(store_->SetRunLifecycle(id[3], LifecycleStage::kDeleted).ok());
  q = RunQuery{};
  q.experiment_ids = {exp};
  EXPECT_EQ(store_->SearchRuns(q)->size(), 4u);
  q.view = ViewType::kDeletedOnly;
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3]}));
  q.view = ViewType::kAll;
  q.experiment_ids = {exp, other};
  EXPECT_EQ(store_->SearchRuns(q)->size(), 6u);

  // Results carry the run's data.
  q = RunQuery{};
  q.experiment_ids = {exp};
  q.filters = {{FieldKind::kAttribute, "run_id", CompareOp::kEq, {id[0]}}};
  auto runs = store_->SearchRuns(q);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].params, (std::vector<Param>{{"lr", "0.001"}, {"model", "ridge"}}));
  EXPECT_EQ(UserTags((*runs)[0].tags), (std::vector<Tag>{{"fold", "even"}}));
  ASSERT_EQ((*runs)[0].metrics.size(), 1u);
}

TEST_P(StoreTest, OrderingByAMetricPagesThroughRunsWithAndWithoutIt) {
  // 7 runs with the metric and 5 without; pages of 3 must visit all 12 exactly once, those
  // with the metric first in metric order, the rest newest first.
  const int64_t exp = NewExperiment();
  std::vector<std::string> with, without;
  for (int i = 0; i < 12; ++i) {
    const std::string run = NewRun(exp, 1000 + i);
    if (i % 12 < 7) {
      ASSERT_TRUE(store_->LogBatch(run, {{"loss", 10.0 - i, 1, 0}}, {}, {}).ok());
      with.push_back(run);
    } else {
      without.push_back(run);
    }
  }
  std::vector<std::string> expected(with.rbegin(), with.rend());      // loss ascending
  expected.insert(expected.end(), without.rbegin(), without.rend());  // newest first
  for (int64_t page_size : {1, 3, 5, 7, 12, 20}) {
    std::vector<std::string> seen;
    for (int64_t offset = 0; offset < 14; offset += page_size) {
      RunQuery q;
      q.experiment_ids = {exp};
      q.order_by = {{FieldKind::kMetric, "loss", true}};
      q.max_results = page_size;
      q.offset = offset;
      auto page = Ids(store_->SearchRuns(q));
      seen.insert(seen.end(), page.begin(), page.end());
    }
    EXPECT_EQ(seen, expected) << "page size " << page_size;
  }
}

TEST_P(StoreTest, SearchRunsRejectsBadQueries) {
  const int64_t exp = NewExperiment();
  RunQuery q;
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
  q.experiment_ids = {exp};
  q.filters = {{FieldKind::kAttribute, "no_such_attribute", CompareOp::kEq, {std::string("x")}}};
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
  q.filters = {{FieldKind::kMetric, "m", CompareOp::kGt, {std::string("not a number")}}};
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
  q.filters = {{FieldKind::kMetric, "m", CompareOp::kLike, {1.0}}};
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
  q.filters = {{FieldKind::kParam, "p", CompareOp::kEq, {}}};
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
  q.filters.clear();
  q.order_by = {{FieldKind::kAttribute, "bogus", true}};
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
  q.order_by.clear();
  q.max_results = -1;
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
}

// ---- Dataset inputs -------------------------------------------------------------------

DatasetInput Input(const std::string& name, const std::string& digest, const std::string& context,
                   const std::string& source = "{\"uri\": \"/data/x.csv\"}") {
  std::vector<Tag> tags;
  if (!context.empty()) tags = {{std::string(kDatasetContextTag), context}};
  return DatasetInput(Dataset{name, digest, "local", source, "{\"mlflow_colspec\": []}", ""},
                      std::move(tags));
}

TEST_P(StoreTest, DatasetInputsAreLoggedOnceAndAllOrNothing) {
  const int64_t exp = NewExperiment();
  const std::string run = NewRun(exp);
  DatasetInput train = Input("iris", "abc123", "training");
  train.tags.push_back({"a.note", "first"});
  const DatasetInput eval = Input("iris-eval", "def456", "eval");
  ASSERT_TRUE(store_->LogInputs(run, {train, eval}).ok());
  auto got = store_->GetRun(run);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->inputs.size(), 2u);
  EXPECT_EQ(*got->inputs[0].dataset, *train.dataset) << "in the order logged";
  EXPECT_EQ(got->inputs[0].tags,
            (std::vector<Tag>{{"a.note", "first"}, {"mlflow.data.context", "training"}}))
      << "tags sorted by key";
  EXPECT_EQ(got->inputs[1], eval);

  // The same (name, digest) again — in another call or twice in one — adds nothing: the
  // first input, its tags and its dataset's fields stand.
  ASSERT_TRUE(
      store_->LogInputs(run, {Input("iris", "abc123", "eval", "{\"uri\": \"/elsewhere\"}")}).ok());
  const std::string second = NewRun(exp);
  ASSERT_TRUE(store_
                  ->LogInputs(second, {Input("iris", "abc123", "testing", "other source"),
                                       Input("iris", "abc123", "eval")})
                  .ok());
  EXPECT_EQ(store_->GetRun(run)->inputs, got->inputs);
  auto shared = store_->GetRun(second);
  ASSERT_EQ(shared->inputs.size(), 1u);
  EXPECT_EQ(*shared->inputs[0].dataset, *train.dataset)
      << "the experiment's dataset is the one first logged";
  EXPECT_EQ(shared->inputs[0].tags, (std::vector<Tag>{{"mlflow.data.context", "testing"}}));
  // Another experiment has its own datasets.
  const std::string elsewhere = NewRun(NewExperiment("other"));
  ASSERT_TRUE(store_->LogInputs(elsewhere, {Input("iris", "abc123", "", "its own")}).ok());
  EXPECT_EQ(store_->GetRun(elsewhere)->inputs[0].dataset->source, "its own");
  EXPECT_TRUE(store_->GetRun(elsewhere)->inputs[0].tags.empty());

  // A bad input refuses the whole request.
  DatasetInput no_digest = Input("wine", "", "training");
  EXPECT_EQ(store_->LogInputs(run, {Input("new", "0001", "training"), no_digest}).code(),
            StatusCode::kInvalidArgument);
  DatasetInput keyless = Input("wine", "0002", "");
  keyless.tags = {{"", "v"}};
  EXPECT_EQ(store_->LogInputs(run, {Input("new", "0001", "training"), keyless}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetRun(run)->inputs, got->inputs);

  // Unknown and deleted runs are refused; a finished run takes inputs.
  EXPECT_EQ(store_->LogInputs(NewRunId(), {eval}).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->SetRunLifecycle(run, LifecycleStage::kDeleted).ok());
  EXPECT_EQ(store_->LogInputs(run, {Input("new", "0001", "")}).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->SetRunLifecycle(run, LifecycleStage::kActive).ok());
  RunUpdate finish;
  finish.status = RunStatus::kFinished;
  ASSERT_TRUE(store_->UpdateRun(run, finish).ok());
  ASSERT_TRUE(store_->LogInputs(run, {Input("new", "0001", "")}).ok());
  EXPECT_EQ(store_->GetRun(run)->inputs.size(), 3u);
  EXPECT_TRUE(store_->LogInputs(run, {}).ok());
}

TEST_P(StoreTest, DatasetInputTagsAreWrittenInBatches) {
  const std::string run = NewRun(NewExperiment());
  DatasetInput many = Input("iris", "d1", "training");
  for (int i = 0; i < 700; ++i) many.tags.push_back({fmt::format("k{:04}", i), "v"});
  DatasetInput more = Input("wine", "d2", "");
  for (int i = 0; i < 300; ++i) more.tags.push_back({fmt::format("w{:04}", i), "x"});
  more.tags.push_back({"w0000", "the last value of a key wins"});
  ASSERT_TRUE(store_->LogInputs(run, {many, more}).ok());
  auto got = store_->GetRun(run);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->inputs.size(), 2u);
  EXPECT_EQ(got->inputs[0].tags.size(), 701u);
  EXPECT_EQ(got->inputs[0].tags.front(), (Tag{"k0000", "v"}));
  EXPECT_EQ(got->inputs[0].tags.back(), (Tag{std::string(kDatasetContextTag), "training"}));
  ASSERT_EQ(got->inputs[1].tags.size(), 300u);
  EXPECT_EQ(got->inputs[1].tags[0], (Tag{"w0000", "the last value of a key wins"}));
  EXPECT_EQ(store_->LogInputs(run, {DatasetInput()}).code(), StatusCode::kInvalidArgument)
      << "an input without a dataset";
}

TEST_P(StoreTest, SearchRunsReadsEachDatasetOnceAndKeepsToItsBudget) {
  const int64_t exp = NewExperiment();
  // Four runs (newest first) share one large dataset; the second also has its own.
  const std::string big(10000, 'p');
  DatasetInput shared(Dataset{"big", "d1", "local", "{}", "", big}, {});
  std::vector<std::string> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(NewRun(exp, 2000 - i));
    ASSERT_TRUE(store_->LogInputs(runs.back(), {shared}).ok());
  }
  ASSERT_TRUE(store_->LogInputs(runs[1], {Input("small", "d2", "eval")}).ok());
  const std::string bare = NewRun(exp, 1000);  // no inputs

  RunQuery q;
  q.experiment_ids = {exp};
  q.with_inputs = true;
  bool cut = true;
  auto all = store_->SearchRuns(q, &cut);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_FALSE(cut);
  ASSERT_EQ(all->size(), 5u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE((*all)[i].inputs.empty());
    EXPECT_EQ((*all)[i].inputs[0], shared);
    EXPECT_EQ((*all)[i].inputs[0].dataset.get(), (*all)[0].inputs[0].dataset.get())
        << "one copy of the dataset, shared by the runs that used it";
  }
  ASSERT_EQ((*all)[1].inputs.size(), 2u);
  EXPECT_EQ((*all)[1].inputs[1].dataset->name, "small");
  EXPECT_TRUE((*all)[4].inputs.empty());

  // Each run counts its copy: about 2.5 runs' worth keeps two runs, and says so.
  q.max_input_chars = 25000;
  auto cut_page = store_->SearchRuns(q, &cut);
  ASSERT_TRUE(cut_page.ok());
  EXPECT_TRUE(cut);
  EXPECT_EQ(Ids(cut_page), (std::vector<std::string>{runs[0], runs[1]}));
  EXPECT_EQ((*cut_page)[1].inputs.size(), 2u) << "the runs kept are whole";
  EXPECT_FALSE((*cut_page)[1].tags.empty()) << "with their tags";
  // The next page starts after them.
  q.offset = 2;
  EXPECT_EQ(Ids(store_->SearchRuns(q, &cut)), (std::vector<std::string>{runs[2], runs[3], bare}));
  EXPECT_FALSE(cut);
  // The first run is kept even when it alone passes the budget.
  q.offset = 0;
  q.max_input_chars = 10;
  EXPECT_EQ(Ids(store_->SearchRuns(q, &cut)), (std::vector<std::string>{runs[0]}));
  EXPECT_TRUE(cut);
  // Without inputs there is no budget to keep.
  q.with_inputs = false;
  auto plain = store_->SearchRuns(q, &cut);
  EXPECT_FALSE(cut);
  ASSERT_EQ(plain->size(), 5u);
  for (const somlier::Run& run : *plain) EXPECT_TRUE(run.inputs.empty());
}

TEST_P(StoreTest, SearchRunsByDataset) {
  const int64_t exp = NewExperiment();
  const std::string a = NewRun(exp, 1003);  // iris (training), wine (eval)
  const std::string b = NewRun(exp, 1002);  // iris (eval)
  const std::string c = NewRun(exp, 1001);  // no inputs
  ASSERT_TRUE(
      store_->LogInputs(a, {Input("iris", "d1", "training"), Input("wine", "d2", "eval")}).ok());
  ASSERT_TRUE(store_->LogInputs(b, {Input("iris", "d1", "eval")}).ok());
  auto search = [&](std::vector<Filter> filters) {
    RunQuery q;
    q.experiment_ids = {exp};
    q.filters = std::move(filters);
    return Ids(store_->SearchRuns(q));
  };
  auto text = [](const char* v) { return SqlValue(std::string(v)); };
  using V = std::vector<std::string>;
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kEq, {text("iris")}}}), (V{a, b}));
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kEq, {text("wine")}}}), (V{a}));
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kNe, {text("iris")}}}), (V{a}))
      << "any input of the run may match";
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kIn, {text("wine"), text("x")}}}),
            (V{a}));
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kNotIn, {text("wine")}}}), (V{a, b}));
  EXPECT_EQ(search({{FieldKind::kDataset, "digest", CompareOp::kEq, {text("d2")}}}), (V{a}));
  EXPECT_EQ(search({{FieldKind::kDataset, "context", CompareOp::kEq, {text("eval")}}}), (V{a, b}));
  EXPECT_EQ(search({{FieldKind::kDataset, "context", CompareOp::kILike, {text("TRAIN%")}}}),
            (V{a}));
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kLike, {text("w%")}},
                    {FieldKind::kDataset, "context", CompareOp::kEq, {text("training")}}}),
            (V{a}))
      << "each filter on its own input";
  EXPECT_EQ(search({{FieldKind::kDataset, "name", CompareOp::kEq, {text("iris' OR 1=1 --")}}}), V{})
      << "values are bound";
  EXPECT_EQ(search({}), (V{a, b, c}));

  // Results carry their inputs when asked, and only then.
  RunQuery q;
  q.experiment_ids = {exp};
  q.filters = {{FieldKind::kDataset, "digest", CompareOp::kEq, {text("d2")}}};
  auto runs = store_->SearchRuns(q);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_TRUE((*runs)[0].inputs.empty()) << "not asked for";
  q.with_inputs = true;
  runs = store_->SearchRuns(q);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ((*runs)[0].inputs.size(), 2u);
  EXPECT_EQ((*runs)[0].inputs[1].dataset->name, "wine");

  for (const Filter& bad :
       {Filter{FieldKind::kDataset, "size", CompareOp::kEq, {text("1")}},
        Filter{FieldKind::kDataset, "name", CompareOp::kGt, {text("a")}},
        Filter{FieldKind::kDataset, "name", CompareOp::kExists, {}},
        Filter{FieldKind::kDataset, "name", CompareOp::kEq, {SqlValue(int64_t{1})}}}) {
    q.filters = {bad};
    EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument) << bad.key;
  }
  q.filters.clear();
  q.order_by = {{FieldKind::kDataset, "name", true}};
  EXPECT_EQ(store_->SearchRuns(q).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, BestRunByMetricUsesTheIndex) {
  const int64_t exp = NewExperiment();
  const auto id = SearchFixture::Populate(*store_, exp);
  RunQuery q;
  q.experiment_ids = {exp};
  q.filters = {{FieldKind::kMetric, "rmse", CompareOp::kExists, {}}};
  q.order_by = {{FieldKind::kMetric, "rmse", true}};
  q.max_results = 1;
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[3]}));
  q.order_by = {{FieldKind::kMetric, "rmse", false}};
  EXPECT_EQ(Ids(store_->SearchRuns(q)), (std::vector<std::string>{id[0]}));
  q.filters = {{FieldKind::kMetric, "no_such_metric", CompareOp::kExists, {}}};
  EXPECT_TRUE(store_->SearchRuns(q)->empty());
  q.filters = {{FieldKind::kMetric, "rmse", CompareOp::kExists, {}}};

  if (GetParam() != Dialect::kSqlite) return;  // PostgreSQL plans by table statistics
  // The query plan reads latest_metrics through its (experiment_id, key, value) index,
  // in order, instead of sorting all runs of the experiment.
  auto db = Database::Open(url_);
  ASSERT_TRUE(db.ok());
  auto statement = store_internal::BuildRunSearch(q);  // the first part SearchRuns reads
  ASSERT_TRUE(statement.ok());
  std::string plan;
  ASSERT_TRUE((*db)
                  ->Transaction(false,
                                [&](Connection& c) -> Status {
                                  auto r = c.Execute("EXPLAIN QUERY PLAN " + statement->sql,
                                                     statement->values);
                                  if (!r.ok()) return r.status();
                                  for (const auto& row : r->rows) plan += AsText(row.back()) + "\n";
                                  return OkStatus();
                                })
                  .ok());
  EXPECT_NE(plan.find("latest_metrics_by_value"), std::string::npos) << plan;
  // Only ties on the metric value are sorted ("RIGHT PART OF ORDER BY"), never all rows.
  EXPECT_EQ(plan.find("TEMP B-TREE FOR ORDER BY"), std::string::npos) << plan;
}

TEST_P(StoreTest, AStatusThisVersionDoesNotKnowIsAnErrorNeverAGuess) {
  auto experiment = store_->CreateExperiment("future", "/artifacts/{experiment_id}");
  ASSERT_TRUE(experiment.ok());
  const std::string run_id = NewRun(*experiment);
  auto db = Database::Open(url_);
  ASSERT_TRUE(db.ok());
  const std::vector<SqlValue> id = {run_id};
  const Status written = (*db)->Transaction(true, [&](Connection& c) -> Status {
    return c.Execute("UPDATE runs SET status = 'PAUSED' WHERE run_uuid = ?", id).status();
  });
  ASSERT_TRUE(written.ok()) << written.ToString();
  auto run = store_->GetRun(run_id);
  ASSERT_FALSE(run.ok()) << "read as " << ToString(run->info.status);
  EXPECT_EQ(run.status().code(), StatusCode::kInternal);
  EXPECT_NE(run.status().message().find("status 'PAUSED'"), std::string::npos)
      << run.status().message();
}

// ---- Registry -------------------------------------------------------------------------

TEST_P(StoreTest, RegisteredModelLifecycle) {
  auto created = store_->CreateRegisteredModel("price", "predicts prices", {{"team", "ml"}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->description, "predicts prices");
  EXPECT_EQ(created->tags, (std::vector<Tag>{{"team", "ml"}}));
  EXPECT_EQ(store_->CreateRegisteredModel("price", "").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateRegisteredModel("", "").status().code(), StatusCode::kInvalidArgument);

  auto updated = store_->UpdateRegisteredModel("price", "new text");
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->description, "new text");
  ASSERT_TRUE(store_->SetRegisteredModelTag("price", {"stage", "beta"}).ok());
  ASSERT_TRUE(store_->DeleteRegisteredModelTag("price", "team").ok());
  EXPECT_TRUE(store_->DeleteRegisteredModelTag("price", "team").ok()) << "already gone is fine";
  EXPECT_EQ(store_->DeleteRegisteredModelTag("nope", "team").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetRegisteredModel("price")->tags, (std::vector<Tag>{{"stage", "beta"}}));

  const std::string run = NewRun(NewExperiment());
  ModelVersion req;
  req.name = "price";
  req.source = "runs:/" + run + "/model";
  req.run_id = run;
  req.tags = {{"validated", "yes"}};
  auto v1 = store_->CreateModelVersion(req);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->current_stage, "None");
  EXPECT_EQ(v1->status, "READY");
  EXPECT_EQ(v1->tags, (std::vector<Tag>{{"validated", "yes"}}));
  auto v2 = store_->CreateModelVersion(req);
  ASSERT_EQ(v2->version, 2);

  ASSERT_TRUE(store_->SetModelAlias("price", "champion", 1).ok());
  EXPECT_EQ(store_->SetModelAlias("price", "champion", 9).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetModelVersionByAlias("price", "champion")->version, 1);
  ASSERT_TRUE(store_->SetModelAlias("price", "champion", 2).ok());
  EXPECT_EQ(store_->GetModelVersionByAlias("price", "champion")->version, 2);
  EXPECT_EQ(store_->GetModelVersion("price", 2)->aliases, (std::vector<std::string>{"champion"}));
  EXPECT_EQ(store_->GetRegisteredModel("price")->aliases,
            (std::vector<ModelAlias>{{"champion", 2}}));

  // Renaming carries versions, tags and aliases along.
  auto renamed = store_->RenameRegisteredModel("price", "house-price");
  ASSERT_TRUE(renamed.ok()) << renamed.status().ToString();
  EXPECT_EQ(store_->GetRegisteredModel("price").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(renamed->tags, (std::vector<Tag>{{"stage", "beta"}}));
  EXPECT_EQ(store_->GetModelVersionByAlias("house-price", "champion")->version, 2);
  EXPECT_EQ(store_->GetModelVersion("house-price", 1)->tags,
            (std::vector<Tag>{{"validated", "yes"}}));
  ASSERT_TRUE(store_->CreateRegisteredModel("taken", "").ok());
  EXPECT_EQ(store_->RenameRegisteredModel("house-price", "taken").status().code(),
            StatusCode::kAlreadyExists);

  // Search.
  ASSERT_TRUE(store_->CreateRegisteredModel("House-Rent", "").ok());
  RegisteredModelQuery mq;
  mq.filters = {{FieldKind::kAttribute, "name", CompareOp::kLike, {std::string("house%")}}};
  EXPECT_EQ(store_->SearchRegisteredModels(mq)->size(), 1u);
  mq.filters[0].op = CompareOp::kILike;
  auto found = store_->SearchRegisteredModels(mq);
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].name, "House-Rent");
  mq.order_by = {{FieldKind::kAttribute, "name", false}};
  EXPECT_EQ((*store_->SearchRegisteredModels(mq))[0].name, "house-price");
  mq = RegisteredModelQuery{};
  mq.filters = {{FieldKind::kTag, "stage", CompareOp::kEq, {std::string("beta")}}};
  ASSERT_EQ(store_->SearchRegisteredModels(mq)->size(), 1u);
  mq = RegisteredModelQuery{};
  mq.max_results = 2;
  mq.offset = 2;
  EXPECT_EQ(store_->SearchRegisteredModels(mq)->size(), 1u);

  // Deleting the model deletes its versions.
  ASSERT_TRUE(store_->DeleteRegisteredModel("house-price").ok());
  EXPECT_EQ(store_->GetModelVersion("house-price", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteRegisteredModel("house-price").code(), StatusCode::kNotFound);
  ModelVersionQuery vq;
  vq.filters = {{FieldKind::kAttribute, "run_id", CompareOp::kEq, {run}}};
  EXPECT_TRUE(store_->SearchModelVersions(vq)->empty());
}

TEST_P(StoreTest, ModelVersionsStagesTagsAndSearch) {
  ASSERT_TRUE(store_->CreateRegisteredModel("m", "").ok());
  ModelVersion req;
  req.name = "m";
  std::vector<std::string> runs;
  const int64_t exp = NewExperiment();
  for (int i = 0; i < 4; ++i) {
    runs.push_back(NewRun(exp));
    req.run_id = runs.back();
    req.source = "runs:/" + runs.back() + "/model";
    ASSERT_TRUE(store_->CreateModelVersion(req).ok());
  }
  auto staged = store_->TransitionModelVersionStage("m", 1, "production", false);
  ASSERT_TRUE(staged.ok());
  EXPECT_EQ(staged->current_stage, "Production");
  ASSERT_TRUE(store_->TransitionModelVersionStage("m", 2, "Production", false).ok());
  ASSERT_TRUE(store_->TransitionModelVersionStage("m", 3, "Production", true).ok());
  EXPECT_EQ(store_->GetModelVersion("m", 1)->current_stage, "Archived");
  EXPECT_EQ(store_->GetModelVersion("m", 2)->current_stage, "Archived");
  EXPECT_EQ(store_->TransitionModelVersionStage("m", 3, "Live", false).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->TransitionModelVersionStage("m", 42, "Staging", false).status().code(),
            StatusCode::kNotFound);

  auto latest = store_->GetLatestVersions("m", {});
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 3u);  // Archived: 2, Production: 3, None: 4
  EXPECT_EQ((*latest)[0].version, 2);
  EXPECT_EQ((*latest)[1].version, 3);
  EXPECT_EQ((*latest)[2].version, 4);
  latest = store_->GetLatestVersions("m", {"Production"});
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].version, 3);
  EXPECT_EQ(store_->GetLatestVersions("nope", {}).status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->UpdateModelVersion("m", 4, "candidate").ok());
  EXPECT_EQ(store_->GetModelVersion("m", 4)->description, "candidate");
  ASSERT_TRUE(store_->SetModelVersionTag("m", 4, {"k", "v"}).ok());
  EXPECT_EQ(store_->GetModelVersion("m", 4)->tags, (std::vector<Tag>{{"k", "v"}}));
  ASSERT_TRUE(store_->DeleteModelVersionTag("m", 4, "k").ok());
  EXPECT_TRUE(store_->DeleteModelVersionTag("m", 4, "k").ok());
  EXPECT_EQ(store_->DeleteModelVersionTag("m", 9, "k").code(), StatusCode::kNotFound);

  ModelVersionQuery q;
  q.filters = {{FieldKind::kAttribute, "name", CompareOp::kEq, {std::string("m")}}};
  q.order_by = {{FieldKind::kAttribute, "version_number", false}};
  auto all = store_->SearchModelVersions(q);
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].version, 4);
  q.filters.push_back({FieldKind::kAttribute, "run_id", CompareOp::kIn, {runs[1], runs[2]}});
  EXPECT_EQ(store_->SearchModelVersions(q)->size(), 2u);
  q = ModelVersionQuery{};
  q.filters = {
      {FieldKind::kAttribute, "source_path", CompareOp::kEq, {"runs:/" + runs[0] + "/model"}}};
  ASSERT_EQ(store_->SearchModelVersions(q)->size(), 1u);
  q.filters = {{FieldKind::kAttribute, "version_number", CompareOp::kGe, {int64_t{3}}}};
  EXPECT_EQ(store_->SearchModelVersions(q)->size(), 2u);

  // Deleting a version removes its aliases; the number is never reused.
  ASSERT_TRUE(store_->SetModelAlias("m", "a", 4).ok());
  ASSERT_TRUE(store_->DeleteModelVersion("m", 4).ok());
  EXPECT_EQ(store_->GetModelVersionByAlias("m", "a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteModelVersion("m", 4).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CreateModelVersion(req)->version, 5);
  ASSERT_TRUE(store_->SetModelAlias("m", "b", 5).ok());
  ASSERT_TRUE(store_->DeleteModelAlias("m", "b").ok());
  EXPECT_TRUE(store_->DeleteModelAlias("m", "b").ok());
  EXPECT_EQ(store_->DeleteModelAlias("nope", "b").code(), StatusCode::kNotFound);
  req.name = "missing";
  EXPECT_EQ(store_->CreateModelVersion(req).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, RegisteringARunTwiceReturnsTheSameVersion) {
  const std::string run = NewRun(NewExperiment());
  ModelVersion req;
  req.name = "seed-model";
  req.run_id = run;
  req.source = "mlflow-artifacts:/1/" + run + "/artifacts/model";
  auto first = store_->RegisterRunModel(req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->version.version, 1);
  auto again = store_->RegisterRunModel(req);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->version.version, 1);
  req.run_id = NewRun(store_->GetRun(run)->info.experiment_id);
  auto other = store_->RegisterRunModel(req);
  EXPECT_TRUE(other->created);
  EXPECT_EQ(other->version.version, 2);

  // Concurrent registrations of one new run under one name: one version, all agree.
  req.run_id = NewRunId();
  std::vector<int64_t> versions(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto r = store_->RegisterRunModel(req);
      versions[t] = r.ok() ? r->version.version : -1;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<int64_t>(versions.begin(), versions.end()), std::set<int64_t>{3});
}

// ---- Deployments ----------------------------------------------------------------------

TEST_P(StoreTest, Deployments) {
  Deployment d;
  d.name = "price-1";
  d.model_name = "price";
  d.model_version = "1";
  d.target = DeploymentTargetKind::kLocal;
  d.url = "http://127.0.0.1:5001";
  d.status = DeploymentStatus::kRunning;
  d.pid = 4321;
  ASSERT_TRUE(store_->PutDeployment(d).ok());
  auto got = store_->GetDeployment("price-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->url, "http://127.0.0.1:5001");
  EXPECT_EQ(got->pid, 4321);
  const int64_t created = got->creation_time;

  d.status = DeploymentStatus::kStopped;
  d.pid.reset();
  ASSERT_TRUE(store_->PutDeployment(d).ok());
  got = store_->GetDeployment("price-1");
  EXPECT_EQ(got->status, DeploymentStatus::kStopped);
  EXPECT_FALSE(got->pid.has_value());
  EXPECT_EQ(got->creation_time, created);

  d.name = "another";
  ASSERT_TRUE(store_->PutDeployment(d).ok());
  auto all = store_->ListDeployments();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "another");
  ASSERT_TRUE(store_->DeleteDeployment("another").ok());
  EXPECT_EQ(store_->DeleteDeployment("another").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetDeployment("another").status().code(), StatusCode::kNotFound);
}

// ---- Concurrency ----------------------------------------------------------------------

TEST_P(StoreTest, ConcurrentRegistrationsGetDistinctVersions) {
  ASSERT_TRUE(store_->CreateRegisteredModel("contended", "").ok());
  constexpr int kThreads = 8;
  std::vector<int64_t> versions(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ModelVersion req;
      req.name = "contended";
      req.source = "runs:/x/model";
      auto v = store_->CreateModelVersion(req);
      if (v.ok()) {
        versions[t] = v->version;
      } else {
        errors[t] = v.status().ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  std::set<int64_t> distinct(versions.begin(), versions.end());
  EXPECT_EQ(distinct, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_P(StoreTest, ConcurrentDatasetInputsNeitherDeadlockNorDuplicate) {
  // On PostgreSQL a deadlock would be detected after deadlock_timeout and retried, which
  // hides it: here it waits an hour instead, and lock_timeout turns it into an error.
  Store* store = store_.get();
  std::unique_ptr<Store> patient;
  if (GetParam() == Dialect::kPostgres) {
    auto opened = Store::Open(url_ + "%20-cdeadlock_timeout%3D1h%20-clock_timeout%3D20s");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    patient = std::move(*opened);
    store = patient.get();
  }
  const int64_t exp = NewExperiment();
  // Runs `a` and `b` at once (as near as threads start), and returns their statuses.
  auto together = [](const std::function<Status()>& a, const std::function<Status()>& b) {
    std::atomic<int> ready{0};
    Status sa, sb;
    auto run = [&](const std::function<Status()>& fn, Status& out) {
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
      out = fn();
    };
    std::thread ta(run, std::cref(a), std::ref(sa));
    std::thread tb(run, std::cref(b), std::ref(sb));
    ta.join();
    tb.join();
    return std::pair(sa, sb);
  };
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const DatasetInput a = Input(fmt::format("a{}", round), "d", "training");
    const DatasetInput b = Input(fmt::format("b{}", round), "d", "eval");
    // One dataset logged to two runs: both take it, and it is stored once.
    const std::string first = NewRun(exp);
    const std::string second = NewRun(exp);
    auto [s1, s2] = together([&] { return store->LogInputs(first, {a}); },
                             [&] { return store->LogInputs(second, {a}); });
    EXPECT_TRUE(s1.ok()) << s1.ToString();
    EXPECT_TRUE(s2.ok()) << s2.ToString();
    // [a, b] and [b, a] logged to one run: both succeed, each input once. Both datasets
    // exist already, so that nothing but the run orders the two requests.
    ASSERT_TRUE(store->LogInputs(second, {b}).ok());
    const std::string both = NewRun(exp);
    auto [s3, s4] = together(
        [&] {
          return store->LogInputs(both, {a, b});
        },
        [&] {
          return store->LogInputs(both, {b, a});
        });
    EXPECT_TRUE(s3.ok()) << s3.ToString();
    EXPECT_TRUE(s4.ok()) << s4.ToString();
    EXPECT_EQ(store->GetRun(first)->inputs, std::vector<DatasetInput>{a});
    EXPECT_EQ(store->GetRun(second)->inputs, (std::vector<DatasetInput>{a, b}));
    auto got = store->GetRun(both);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->inputs.size(), 2u);
    EXPECT_NE(*got->inputs[0].dataset, *got->inputs[1].dataset);
    for (const DatasetInput& input : got->inputs) {
      EXPECT_TRUE(input == a || input == b) << input.dataset->name;
    }
  }
  auto db = Database::Open(url_);
  ASSERT_TRUE(db.ok());
  auto count = [&](const std::string& sql) {
    int64_t n = -1;
    EXPECT_TRUE((*db)
                    ->Transaction(false,
                                  [&](Connection& c) -> Status {
                                    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, c.Execute(sql, {}));
                                    n = AsInt(r.rows.at(0)[0]);
                                    return OkStatus();
                                  })
                    .ok());
    return n;
  };
  EXPECT_EQ(count("SELECT COUNT(*) FROM datasets"), 2 * kRounds);
  EXPECT_EQ(count("SELECT COUNT(*) FROM run_inputs"), 5 * kRounds);
  EXPECT_EQ(count("SELECT COUNT(*) FROM run_input_tags"), 5 * kRounds);
}

TEST_P(StoreTest, SixteenThreadsOfMetricWritesLoseNothing) {
  constexpr int kThreads = 16;
  constexpr int kWrites = 1000;
  const int64_t exp = NewExperiment();
  std::vector<std::string> runs;
  for (int t = 0; t < kThreads; ++t) runs.push_back(NewRun(exp));
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex error_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share one run, half write their own: both must hold.
      const std::string& run = runs[t % 2 ? t : 0];
      for (int i = 0; i < kWrites; ++i) {
        Status s = store_->LogBatch(
            run, {{"m" + std::to_string(t), static_cast<double>(i), 1000 + i, i}}, {}, {});
        if (!s.ok()) {
          if (failures++ == 0) {
            std::lock_guard<std::mutex> lock(error_mu);
            first_error = s.ToString();
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
  for (int t = 0; t < kThreads; ++t) {
    const std::string& run = runs[t % 2 ? t : 0];
    auto history = store_->GetMetricHistory(run, "m" + std::to_string(t));
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), static_cast<size_t>(kWrites)) << "thread " << t;
    for (int i = 0; i < kWrites; ++i) EXPECT_EQ((*history)[i].value, i);
  }
  auto shared = store_->GetRun(runs[0]);
  EXPECT_EQ(shared->metrics.size(), static_cast<size_t>(kThreads / 2));
  for (const Metric& m : shared->metrics) EXPECT_EQ(m.value, kWrites - 1) << m.key;
}

TEST_P(StoreTest, TwoStoresOnOneDatabaseWriteConcurrently) {
  // Two Store objects stand for two processes (a server and a CLI) on one database file.
  auto second = Store::Open(url_);
  ASSERT_TRUE(second.ok());
  const std::string run = NewRun(NewExperiment());
  std::atomic<int> failures{0};
  auto writer = [&](Store* store, const std::string& key) {
    for (int i = 0; i < 300; ++i) {
      if (!store->LogBatch(run, {{key, 1.0 * i, i, i}}, {}, {}).ok()) ++failures;
    }
  };
  std::thread a(writer, store_.get(), "a");
  std::thread b(writer, second->get(), "b");
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->GetMetricHistory(run, "a")->size(), 300u);
  EXPECT_EQ((*second)->GetMetricHistory(run, "b")->size(), 300u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Dialect::kSqlite, Dialect::kPostgres),
                         [](const ::testing::TestParamInfo<Dialect>& info) {
                           return info.param == Dialect::kSqlite ? "SQLite" : "PostgreSQL";
                         });

// ---- Opening --------------------------------------------------------------------------

TEST(StoreOpen, RejectsUnknownSchemes) {
  auto s = Store::Open("mysql://user:secret@host/db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message().find("secret"), std::string::npos) << "password leaked";
  EXPECT_EQ(Store::Open("sqlite:///").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Store::Open("sqlite:///x.db?journal=off").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(StoreOpen, UnreachablePostgresIsUnavailableWithoutPassword) {
  auto s = Store::Open("postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.status().message().find("hunter2"), std::string::npos) << s.status().message();
}

TEST(StoreOpen, SqliteCreatesMissingDirectories) {
  testing::TempDir dir;
  auto s = Store::Open("sqlite:///" + dir.file("a/b/c.db"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir.file("a/b/c.db")));
}

}  // namespace
}  // namespace somlier
