#include "somlier/training/kubernetes_execution.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/kubernetes/job_manifest.h"
#include "somlier/kubernetes/job_status.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;
using kubernetes::JobName;
using kubernetes::JobState;
using kubernetes::Kubectl;
using kubernetes::ReadJobState;
using nlohmann::json;

// The most of a pod's log read at once; the rest comes at the next poll.
constexpr int64_t kLogChunk = 8 << 20;

// The value at `path` in `object` (null when any step is missing), without copying.
const json& At(const json& object, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return kNull;
    auto found = at->find(key);
    if (found == at->end()) return kNull;
    at = &*found;
  }
  return *at;
}

std::string Text(const json& object, std::initializer_list<const char*> path) {
  const json& value = At(object, path);
  return value.is_string() ? value.get<std::string>() : std::string();
}

int IntAnnotation(const json& object, const char* key, int fallback) {
  const std::string text = Text(object, {"metadata", "annotations", key});
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() ? value : fallback;
}

// One run an execution follows.
struct Followed {
  std::string run_id;
  fs::path log_file;
  std::mutex log_mutex;    // one writer of its log at a time (the poller, a kill)
  int64_t log_offset = 0;  // bytes of the pod's log in the file; guarded by log_mutex
  std::string partial;     // a line not yet ended; guarded by log_mutex
  // Guarded by the execution's mutex:
  bool started = false;
  bool ended = false;               // claimed by whoever reports its end (once)
  std::optional<std::string> kill;  // asked to be killed (why); retried until its Job is gone
  std::string waiting;
  std::string pod;  // its newest pod, once it has one
};

class KubeExecution final : public Execution {
 public:
  KubeExecution(FollowCallback follow, Kubectl kubectl, std::string selector,
                std::vector<GridJob::Run> runs, ExecutionObserver& observer, bool resumed)
      : follow_(std::move(follow)),
        kubectl_(std::move(kubectl)),
        selector_(std::move(selector)),
        observer_(observer) {
    for (const GridJob::Run& run : runs) {
      Followed& f = runs_.emplace_back();
      f.run_id = run.run_id;
      f.log_file = run.log_file;
      f.started = run.running;
      if (resumed) {  // its log goes on where the file ends
        std::error_code ec;
        const auto size = fs::file_size(f.log_file, ec);
        f.log_offset = ec ? 0 : static_cast<int64_t>(size);
      }
      follow_(f.run_id, true);
    }
  }

  void Start() {
    poller_ = std::thread([this] { Poll(); });
  }

  ~KubeExecution() override {  // stops following; the Jobs go on
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (poller_.joinable()) poller_.join();
    for (Followed& f : runs_) follow_(f.run_id, false);
  }

  bool Kill(const std::string& run_id, const std::string& reason) override {
    Followed* f = Find(run_id);
    if (f == nullptr) return false;
    {
      std::lock_guard lock(mutex_);
      if (f->ended) return false;
      if (!f->kill) f->kill = reason;
    }
    TryKill(*f);
    return true;
  }

  void KillAll(const std::string& reason) override {
    for (Followed& f : runs_) Kill(f.run_id, reason);
  }

  void Wait() override {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return ended_ == runs_.size(); });
  }

  bool WaitFor(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    return done_.wait_for(lock, timeout, [this] { return ended_ == runs_.size(); });
  }

 private:
  Followed* Find(const std::string& run_id) {
    for (Followed& f : runs_) {
      if (f.run_id == run_id) return &f;
    }
    return nullptr;
  }

  // True for the one caller that reports the run's end.
  bool Claim(Followed& f) {
    std::lock_guard lock(mutex_);
    if (f.ended) return false;
    f.ended = true;
    return true;
  }

  // Reports the end of a claimed run (as started first, when nobody saw it run: it ended
  // between two polls).
  void Report(Followed& f, const RunEnd& end) {
    bool started = false;
    {
      std::lock_guard lock(mutex_);
      std::swap(started, f.started);
      f.started = true;
    }
    if (!started && end.kind != RunEnd::Kind::kKilled) {
      (void)observer_.OnStart(f.run_id, std::nullopt);
    }
    observer_.OnEnd(f.run_id, end);
    {
      std::lock_guard lock(mutex_);
      ++ended_;
    }
    done_.notify_all();
  }

  // Saves the log, deletes the Job and reports the kill; when kubectl fails, the run stays
  // followed and the next poll tries again (a Job left behind would hold its resources).
  void TryKill(Followed& f) {
    std::string reason;
    {
      std::lock_guard lock(mutex_);
      if (f.ended || !f.kill) return;
      reason = *f.kill;
    }
    SaveLog(f, true);
    if (Status deleted = Delete(f); !deleted.ok()) {
      LogWarning("run {}: {} (trying again)", f.run_id, deleted.message());
      return;
    }
    if (Claim(f)) Report(f, {RunEnd::Kind::kKilled, {}, reason});
  }

  Status Delete(const Followed& f) {
    return kubectl_
        .Run(fmt::format("deleting the Job of run {}", f.run_id),
             {"delete", "job", JobName(f.run_id), "--cascade=background", "--ignore-not-found",
              "--wait=false"})
        .status();
  }

  // Appends what the pod's log has beyond what the file holds; at the end, all of it (in
  // pieces) and the last unfinished line.
  void SaveLog(Followed& f, bool final) {
    std::string pod;
    {
      std::lock_guard lock(mutex_);
      pod = f.pod;
    }
    std::lock_guard lock(f.log_mutex);
    for (int piece = 0; !pod.empty() && piece < (final ? 64 : 1); ++piece) {
      auto text = kubectl_.Run(
          fmt::format("reading the log of run {}", f.run_id),
          {"logs", pod, "-c", "run", fmt::format("--limit-bytes={}", f.log_offset + kLogChunk)});
      if (!text.ok() || static_cast<int64_t>(text->size()) <= f.log_offset) break;
      const std::string_view fresh = std::string_view(*text).substr(f.log_offset);
      std::error_code ec;
      fs::create_directories(f.log_file.parent_path(), ec);
      std::ofstream out(f.log_file, std::ios::binary | std::ios::app);
      out.write(fresh.data(), static_cast<std::streamsize>(fresh.size()));
      out.flush();
      if (!out) break;
      f.log_offset += static_cast<int64_t>(fresh.size());
      f.partial.append(fresh);
      size_t start = 0;
      for (size_t nl; (nl = f.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        observer_.OnLine(f.run_id, OutputStream::kStdout,
                         std::string_view(f.partial).substr(start, nl - start));
      }
      f.partial.erase(0, start);
      if (static_cast<int64_t>(fresh.size()) < kLogChunk) break;  // all of it
    }
    if (final && !f.partial.empty()) {
      observer_.OnLine(f.run_id, OutputStream::kStdout, f.partial);
      f.partial.clear();
    }
  }

  bool Stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  void Poll() {
    bool failing = false;
    std::unique_lock lock(mutex_);
    while (!stop_ && ended_ < runs_.size()) {
      lock.unlock();
      Status polled;
      try {
        polled = PollOnce();
      } catch (const std::exception& e) {  // JSON of an unexpected shape: try again later
        polled = Internal(fmt::format("reading the runs' Jobs: {}", e.what()));
      }
      if (!polled.ok() && !failing) {
        LogWarning("following Kubernetes Jobs (retrying every {} ms): {}",
                   kubectl_.settings().poll_ms, polled.message());
      }
      failing = !polled.ok();
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(kubectl_.settings().poll_ms),
                     [this] { return stop_ || ended_ == runs_.size(); });
    }
  }

  Status PollOnce() {
    SOMLIER_ASSIGN_OR_RETURN(std::string out,
                             kubectl_.Run("listing the runs' Jobs",
                                          {"get", "jobs,pods", "-l", selector_, "-o", "json"}));
    json list = ParseJsonOrNull(out);
    if (!At(list, {"items"}).is_array()) {
      return Unavailable("listing the runs' Jobs: kubectl answered something that is not a List");
    }
    std::map<std::string, const json*> jobs;  // by run id
    std::map<std::string, const json*> pods;  // the newest, by run id
    for (const json& item : list["items"]) {
      const std::string run_id = Text(item, {"metadata", "labels", "somlier.io/run-id"});
      if (run_id.empty()) continue;
      const std::string kind = Text(item, {"kind"});
      if (kind == "Job") {
        jobs[run_id] = &item;
      } else if (kind == "Pod") {
        const json*& newest = pods[run_id];
        if (newest == nullptr || Text(item, {"metadata", "creationTimestamp"}) >=
                                     Text(*newest, {"metadata", "creationTimestamp"})) {
          newest = &item;
        }
      }
    }
    static const json kNone;
    for (Followed& f : runs_) {
      if (Stopping()) return OkStatus();
      bool ended = false, started = false, killing = false;
      std::string waiting;
      {
        std::lock_guard lock(mutex_);
        if (pods.count(f.run_id)) f.pod = Text(*pods[f.run_id], {"metadata", "name"});
        ended = f.ended;
        started = f.started;
        killing = f.kill.has_value();
        waiting = f.waiting;
      }
      if (ended) continue;
      if (killing) {
        TryKill(f);
        continue;
      }
      auto job = jobs.find(f.run_id);
      if (job == jobs.end()) {
        if (Claim(f)) {
          SaveLog(f, true);
          Report(f, {RunEnd::Kind::kKilled,
                     {},
                     fmt::format("its Job '{}' was deleted outside SoMLier", JobName(f.run_id))});
        }
        continue;
      }
      const JobState state =
          ReadJobState(*job->second, pods.count(f.run_id) ? *pods[f.run_id] : kNone);
      switch (state.phase) {
        case JobState::Phase::kQueued:
          break;
        case JobState::Phase::kPending:
          if (state.message != waiting) {
            observer_.OnWaiting(f.run_id, state.message);
            std::lock_guard lock(mutex_);
            f.waiting = state.message;
          }
          break;
        case JobState::Phase::kRunning:
          if (!started) {
            {
              std::lock_guard lock(mutex_);
              f.started = true;
            }
            if (!observer_.OnStart(f.run_id, std::nullopt).ok()) {
              Kill(f.run_id, "the run was ended as it started");
              continue;
            }
          }
          SaveLog(f, false);
          break;
        case JobState::Phase::kSucceeded:
        case JobState::Phase::kFailed:
          if (!Claim(f)) break;
          SaveLog(f, true);
          RunEnd end;
          end.exit_code = state.exit_code;
          if (state.phase == JobState::Phase::kSucceeded) {
            end.exit_code = state.exit_code.value_or(0);
          } else if (state.deadline_exceeded) {
            end.kind = RunEnd::Kind::kKilled;
            end.message = "timed out: " + state.message;
          } else if (!state.exit_code) {
            end.kind = RunEnd::Kind::kFailedToStart;
            end.message = "its Job failed: " + state.message;
          } else {
            if (*state.exit_code == 0) end.exit_code = 1;  // failed although it said 0
            end.message = "its Job failed: " + state.message;
          }
          Report(f, end);
          break;
      }
    }
    return Admit(list["items"]);
  }

  // Lets suspended Jobs start, in their grid's order, while fewer than its limit run.
  Status Admit(const json& items) {
    struct Grid {
      int limit = 1;
      int active = 0;
      std::vector<std::pair<int, const json*>> queued;
    };
    std::map<std::string, Grid> grids;
    for (const json& item : items) {
      if (Text(item, {"kind"}) != "Job") continue;
      Grid& grid = grids[Text(item, {"metadata", "labels", "somlier.io/grid"})];
      grid.limit = std::max(1, IntAnnotation(item, "somlier.io/max-parallel", 1));
      const JobState state = ReadJobState(item, json());
      if (state.phase == JobState::Phase::kQueued) {
        grid.queued.emplace_back(IntAnnotation(item, "somlier.io/index", 0), &item);
      } else if (state.phase != JobState::Phase::kSucceeded &&
                 state.phase != JobState::Phase::kFailed) {
        ++grid.active;
      }
    }
    for (auto& [id, grid] : grids) {
      std::sort(grid.queued.begin(), grid.queued.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [index, job] : grid.queued) {
        if (grid.active >= grid.limit || Stopping()) break;
        Followed* f = Find(Text(*job, {"metadata", "labels", "somlier.io/run-id"}));
        if (f == nullptr) continue;  // another grid's, followed elsewhere
        {
          std::lock_guard lock(mutex_);
          if (f->ended || f->kill) continue;
        }
        if (Status may = observer_.MayStart(f->run_id); !may.ok()) {
          if (may.code() == StatusCode::kFailedPrecondition) {
            Kill(f->run_id, may.message());  // ended while it waited: it never starts
          }
          continue;
        }
        auto patched = kubectl_.Run(fmt::format("starting the Job of run {}", f->run_id),
                                    {"patch", "job", JobName(f->run_id), "--type=merge", "-p",
                                     R"({"spec":{"suspend":false}})"});
        if (!patched.ok() && patched.status().code() != StatusCode::kNotFound) {
          return patched.status();
        }
        ++grid.active;
      }
    }
    return OkStatus();
  }

  const FollowCallback follow_;
  const Kubectl kubectl_;
  const std::string selector_;
  ExecutionObserver& observer_;
  std::deque<Followed> runs_;  // fixed after construction (deque: stable addresses)

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  bool stop_ = false;  // guarded by mutex_
  size_t ended_ = 0;   // guarded by mutex_
  std::thread poller_;
};

}  // namespace

std::unique_ptr<Execution> FollowJobs(Kubectl kubectl, std::string selector,
                                      std::vector<GridJob::Run> runs, ExecutionObserver& observer,
                                      bool resumed, FollowCallback follow) {
  auto execution =
      std::make_unique<KubeExecution>(std::move(follow), std::move(kubectl), std::move(selector),
                                      std::move(runs), observer, resumed);
  execution->Start();
  return execution;
}

}  // namespace somlier
