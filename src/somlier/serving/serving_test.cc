#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <thread>

#include "fake_clock.h"
#include "somlier/serving/dynamic_batcher.h"
#include "somlier/serving/local_deployments.h"
#include "somlier/serving/metrics.h"
#include "somlier/serving/model_input.h"
#include "temp_dir.h"

namespace somlier::serving {
namespace {

using namespace std::chrono_literals;

InputMatrix Parse(std::string_view body, std::string_view type = "application/json") {
  auto m = ParseInvocationsInput(type, body);
  EXPECT_TRUE(m.ok()) << body << ": " << m.status().message();
  return m.ok() ? *m : InputMatrix{};
}

std::string ErrorOf(std::string_view body, std::string_view type = "application/json") {
  auto m = ParseInvocationsInput(type, body);
  EXPECT_FALSE(m.ok()) << body;
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  return m.status().message();
}

TEST(ModelInput, EveryMlflowFormGivesTheSameMatrix) {
  const std::vector<double> expected = {1, 2, 3, 4, 5, 6};
  for (std::string_view body :
       {R"({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [4, 5, 6]]}})",
        R"({"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]})",
        R"({"instances": [[1, 2, 3], [4, 5, 6]]})",
        R"({"instances": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]})",
        R"({"inputs": [[1, 2, 3], [4, 5, 6]]})",
        R"({"inputs": {"a": [1, 4], "b": [2, 5], "c": [3, 6]}})"}) {
    InputMatrix m = Parse(body);
    EXPECT_EQ(m.rows, 2u) << body;
    EXPECT_EQ(m.cols, 3u) << body;
    EXPECT_EQ(m.values, expected) << body;
  }
  InputMatrix csv = Parse("a,b,c\r\n1,2,3\n4,5,6\n", "text/csv; charset=utf-8");
  EXPECT_EQ(csv.columns, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(csv.values, expected);
  // Booleans are 0/1, null is NaN, a flat list is one column.
  InputMatrix mixed = Parse(R"({"instances": [true, null, 2.5]})");
  EXPECT_EQ(mixed.cols, 1u);
  EXPECT_EQ(mixed.values[0], 1.0);
  EXPECT_TRUE(std::isnan(mixed.values[1]));
}

TEST(ModelInput, BadInputNamesWhatIsWrong) {
  EXPECT_EQ(ErrorOf(""), "the request body is empty");
  EXPECT_EQ(ErrorOf("{"), "the request body is not valid JSON");
  EXPECT_NE(ErrorOf(R"({"rows": []})").find("exactly one of"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"instances": [[1], [1]], "inputs": [[1]]})").find("'instances', 'inputs'"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(R"({"instances": [[1, 2], [3]]})"), "row 1 has 1 values, expected 2");
  EXPECT_EQ(ErrorOf(R"({"instances": [[1, "x"]]})"), "row 0, column 1: \"x\" is not a number");
  EXPECT_EQ(ErrorOf(R"({"dataframe_records": [{"a": "x"}]})"),
            "row 0, column 'a': \"x\" is not a number");
  EXPECT_EQ(ErrorOf(R"({"instances": []})"), "the input has no rows");
  EXPECT_NE(ErrorOf("a,b\n1,zz\n", "text/csv").find("CSV line 2, column 'b': 'zz'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("a,b\n1,2,3\n", "text/csv").find("has 3 values, expected 2"),
            std::string::npos);
  EXPECT_NE(ErrorOf("x=1", "application/x-www-form-urlencoded").find("not valid JSON"),
            std::string::npos);
}

TEST(ModelInput, V2InferRequestsFlatOrNested) {
  for (
      std::string_view body :
      {R"({"id": "r1", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]})",
       R"({"id": "r1", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}]})"}) {
    auto r = ParseV2InferRequest(body);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->id, "r1");
    EXPECT_EQ(r->matrix.rows, 2u);
    EXPECT_EQ(r->matrix.cols, 2u);
    EXPECT_EQ(r->matrix.values, (std::vector<double>{1, 2, 3, 4}));
  }
  auto wrong_shape = ParseV2InferRequest(
      R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4]}]})");
  EXPECT_EQ(wrong_shape.status().message(), "shape [2,3] needs 6 values, 'data' has 4");
  auto huge = ParseV2InferRequest(
      R"({"inputs": [{"name": "x", "shape": [4611686018427387904, 4], "datatype": "FP32", "data": []}]})");
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);  // 2^62 * 4 wraps to 0
  auto bytes = ParseV2InferRequest(
      R"({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["a"]}]})");
  EXPECT_NE(bytes.status().message().find("datatype 'BYTES' is not supported"), std::string::npos);
  EXPECT_NE(ParseV2InferRequest(R"({"inputs": []})").status().message().find("0 input tensors"),
            std::string::npos);
}

TEST(ConformToSchema, ReordersNamedColumnsAndChecksCounts) {
  ModelSchema schema{{"a", "b", "c"}, 3};
  InputMatrix m =
      Parse(R"({"dataframe_split": {"columns": ["c", "a", "b"], "data": [[3, 1, 2]]}})");
  ASSERT_TRUE(ConformToSchema(m, schema).ok());
  EXPECT_EQ(m.values, (std::vector<double>{1, 2, 3}));
  InputMatrix missing = Parse(R"({"dataframe_records": [{"a": 1, "b": 2, "z": 3}]})");
  EXPECT_EQ(ConformToSchema(missing, schema).message(),
            "the input's columns do not match the model's; missing: 'c'; unknown: 'z'; "
            "expected: a, b, c");
  InputMatrix twice =
      Parse(R"({"dataframe_split": {"columns": ["a", "a", "b"], "data": [[1, 2, 3]]}})");
  EXPECT_EQ(ConformToSchema(twice, schema).message(), "column 'a' is given twice");
  InputMatrix unnamed = Parse(R"({"instances": [[1, 2]]})");
  EXPECT_EQ(ConformToSchema(unnamed, schema).message(),
            "the model expects 3 features per row, the input has 2");
  InputMatrix positional = Parse(R"({"instances": [[1, 2, 3]]})");
  EXPECT_TRUE(ConformToSchema(positional, schema).ok());
  InputMatrix anything = Parse(R"({"instances": [[1, 2]]})");
  EXPECT_TRUE(ConformToSchema(anything, ModelSchema{}).ok());
}

InputMatrix Rows(size_t rows, double value = 0) {
  InputMatrix m;
  m.rows = rows;
  m.cols = 1;
  m.values.assign(rows, value);
  return m;
}

TEST(DynamicBatcher, RefusesWithoutAReadyWorkerAndWhenTheQueueIsFull) {
  DynamicBatcher batcher({4, 1000ms, 2});
  EXPECT_EQ(batcher.Submit(Rows(1)).status().code(), StatusCode::kUnavailable);
  batcher.WorkerReady();
  auto a = batcher.Submit(Rows(1));
  auto b = batcher.Submit(Rows(1));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = batcher.Submit(Rows(1));
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("queue is full"), std::string::npos);
  EXPECT_EQ(batcher.queue_depth(), 2u);
  // The last worker lost: the queued requests fail at once instead of waiting.
  batcher.WorkerLost(Unavailable("worker died"));
  EXPECT_EQ(a->get().status().message(), "worker died");
  EXPECT_EQ(b->get().status().message(), "worker died");
  EXPECT_EQ(batcher.queue_depth(), 0u);
}

TEST(DynamicBatcher, JoinsRequestsUpToTheMaximumAtOnceWithoutWaitingForTheDelay) {
  DynamicBatcher batcher({4, 10s, 100});
  batcher.WorkerReady();
  std::vector<std::future<Result<Prediction>>> futures;
  for (int i = 0; i < 4; ++i) {
    auto submitted = batcher.Submit(i < 3 ? Rows(1, i) : Rows(2, i));  // the last makes 5 rows
    ASSERT_TRUE(submitted.ok());
    futures.push_back(std::move(*submitted));
  }
  const auto start = std::chrono::steady_clock::now();
  auto batch = batcher.NextBatch();  // 5 rows queued >= 4: due now
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ASSERT_EQ(batch.size(), 3u);  // the fourth does not fit and waits for the next batch
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch[i]->input.values[0], double(i));
  EXPECT_EQ(batcher.queue_depth(), 1u);
}

TEST(DynamicBatcher, ABatchIsDueWhenTheOldestHasWaitedTheDelay) {
  somlier::testing::FakeClock clock;
  DynamicBatcher batcher({64, 30ms, 100}, clock);
  batcher.WorkerReady();
  auto first = batcher.Submit(Rows(1, 1));
  clock.Advance(20ms);
  auto second = batcher.Submit(Rows(1, 2));
  EXPECT_TRUE(batcher.TryNextBatch().empty()) << "the oldest has waited 20 of 30 ms";
  clock.Advance(9ms);
  EXPECT_TRUE(batcher.TryNextBatch().empty());
  clock.Advance(1ms);  // the oldest's delay is over: it takes the younger one along
  auto batch = batcher.TryNextBatch();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1]->input.values[0], 2.0);
  EXPECT_TRUE(batcher.TryNextBatch().empty());
  // An oversized request is a batch of its own, due at once.
  auto big = batcher.Submit(Rows(100));
  batch = batcher.TryNextBatch();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]->input.rows, 100u);
}

TEST(DynamicBatcher, AWaitingWorkerTakesItsBatchWhenTheClockReachesTheDeadline) {
  somlier::testing::FakeClock clock;
  DynamicBatcher batcher({64, 10s, 100}, clock);
  batcher.WorkerReady();
  auto f = batcher.Submit(Rows(1));
  std::atomic<bool> taken{false};
  std::thread worker([&] { taken = batcher.NextBatch().size() == 1; });
  clock.Advance(10s);  // no real 10 s pass: the worker wakes on the fake clock
  worker.join();
  EXPECT_TRUE(taken.load());
}

TEST(DynamicBatcher, OnlyRequestsWithTheSameColumnsShareABatch) {
  DynamicBatcher batcher({64, 0us, 100});
  batcher.WorkerReady();
  InputMatrix two = Rows(1);
  two.cols = 2;
  two.values = {1, 2};
  auto a = batcher.Submit(Rows(1));
  auto b = batcher.Submit(two);
  EXPECT_EQ(batcher.NextBatch().size(), 1u);
  EXPECT_EQ(batcher.NextBatch().size(), 1u);
}

TEST(DynamicBatcher, ShutdownRefusesNewRequestsAndDrainsQueuedOnes) {
  DynamicBatcher batcher({64, 10s, 100});
  batcher.WorkerReady();
  auto a = batcher.Submit(Rows(1));
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    batcher.Shutdown();
  });
  auto batch = batcher.NextBatch();  // woken by the shutdown, long before the 10 s delay
  stopper.join();
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(batcher.Submit(Rows(1)).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(batcher.NextBatch().empty());
}

TEST(ServerMetrics, RendersPrometheusText) {
  ServerMetrics metrics;
  metrics.RecordRequest("/invocations", 200);
  metrics.RecordRequest("/invocations", 400);
  metrics.RecordLatency(ServerMetrics::kInvocations, 0.003);
  metrics.RecordBatch(5);
  metrics.RecordWorkerRestart();
  const std::string text = metrics.Render(7, 1);
  for (const char* line :
       {"somlier_requests_total{path=\"/invocations\",code=\"400\"} 1",
        "somlier_request_errors_total{path=\"/invocations\"} 1",
        "somlier_request_duration_seconds_bucket{endpoint=\"invocations\",le=\"0.005\"} 1",
        "somlier_request_duration_seconds_bucket{endpoint=\"invocations\",le=\"0.002\"} 0",
        "somlier_request_duration_seconds_count{endpoint=\"invocations\"} 1",
        "somlier_batch_size_rows_bucket{le=\"8\"} 1", "somlier_batch_size_rows_sum 5",
        "somlier_queue_depth 7", "somlier_workers_ready 1", "somlier_worker_restarts_total 1"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

// ---- The deployment supervisor's restart policy, with fake processes and a fake clock ----

// Children that run for a few polls, then exit with a code, or on any signal.
class FakeRunner : public ProcessRunner {
 public:
  struct Child : ChildProcess {
    FakeRunner* runner = nullptr;  // outlives its children: signals are recorded there
    int polls_left = 0;
    int exit_code = 1;
    bool signalled = false;
    pid_t pid() const override { return 4242; }
    bool HasExited() override { return signalled || polls_left-- <= 0; }
    void Signal(int signal) override {
      signalled = true;
      exit_code = 128 + signal;
      runner->signals.push_back(signal);
    }
    Result<int> Wait() override { return exit_code; }
  };

  Result<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options) override {
    argvs.push_back(options.argv);
    auto child = std::make_unique<Child>();
    child->runner = this;
    child->polls_left = polls;
    child->exit_code = exit_code;
    return std::unique_ptr<ChildProcess>(std::move(child));
  }

  int polls = 2;
  int exit_code = 1;
  std::vector<std::vector<std::string>> argvs;
  std::vector<int> signals;  // what the children were sent, in order
};

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorOptions Options() {
    SupervisorOptions o;
    o.server_argv = {"somlier", "serve-model", "models:/m/1"};
    o.ready_file = dir_.file("ready.json");
    o.runner = &runner_;
    o.clock = &clock_;
    // Time passes only here: each wait moves the fake clock by what was asked.
    o.wait_for_stop = [this](std::chrono::milliseconds timeout) {
      waits_.push_back(timeout);
      clock_.Advance(timeout);
      return stop_after_spawns_ && runner_.argvs.size() >= stop_after_spawns_ ? SIGTERM : 0;
    };
    return o;
  }
  void Ready(int port) { std::ofstream(dir_.file("ready.json")) << "{\"port\": " << port << "}"; }

  somlier::testing::TempDir dir_;
  somlier::testing::FakeClock clock_;
  FakeRunner runner_;
  std::vector<std::chrono::milliseconds> waits_;
  size_t stop_after_spawns_ = 0;
};

TEST_F(SupervisorTest, GivesUpAfterFiveCrashesWithinAMinuteBackingOffBetween) {
  Ready(8123);
  const Status outcome = RunSupervisor(Options());
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.message().find("exited 5 times within a minute (last exit code 1)"),
            std::string::npos)
      << outcome.message();
  ASSERT_EQ(runner_.argvs.size(), 5u);
  // A restarted server keeps the port the first one got.
  EXPECT_NE(std::find(runner_.argvs[4].begin(), runner_.argvs[4].end(), "8123"),
            runner_.argvs[4].end());
  std::vector<std::chrono::milliseconds> backoffs;
  for (auto w : waits_) {
    if (w != 200ms) backoffs.push_back(w);  // 200 ms: polling a running server
  }
  EXPECT_EQ(backoffs, (std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms, 4000ms}));
}

TEST_F(SupervisorTest, CrashesSpreadOverMoreThanAMinuteAreRestartedUntilStopped) {
  Ready(8123);
  runner_.polls = 400;  // 400 polls of 200 ms: each server runs 80 s before it crashes
  stop_after_spawns_ = 8;
  const Status outcome = RunSupervisor(Options());
  EXPECT_TRUE(outcome.ok()) << outcome.ToString();
  EXPECT_EQ(runner_.argvs.size(), 8u);
  ASSERT_FALSE(runner_.signals.empty());
  EXPECT_EQ(runner_.signals.front(), SIGTERM) << "stopping drains the running server first";
}

TEST_F(SupervisorTest, AServerThatExitsBeforeEverBeingReadyIsNotRestarted) {
  const Status outcome = RunSupervisor(Options());  // no ready file is ever written
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.message().find("before it was ready"), std::string::npos);
  EXPECT_EQ(runner_.argvs.size(), 1u);
}

}  // namespace
}  // namespace somlier::serving
