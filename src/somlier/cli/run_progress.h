// RunProgress: how the CLI shows runs as they go — TrainProgress, the live view of a grid
// on stderr (a line per run event, its output prefixed with the run's name, and on a
// terminal a count line redrawn in place), and RunLogCursor, which reads a run's output
// piece by piece through the /runs/logs use case, in-process or on a server. `train` uses
// both; `runs logs --follow` uses the cursor. TrainProgress is thread-safe (runs report from
// several threads); a cursor is used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"

namespace somlier::cli {

class UseCases;

class TrainProgress {
 public:
  explicit TrainProgress(bool quiet);  // quiet: no run output, only events

  // The grid's runs ({run_id, run_name, status} each), in order.
  void SetRuns(const nlohmann::json& runs);
  void Note(std::string_view note);
  void Line(const std::string& run_id, std::string_view line);
  void Status(const std::string& run_id, const std::string& status, const std::string& message);
  std::string StatusOf(const std::string& run_id);
  // Redraws the count line (on a terminal).
  void Tick();
  void Finish();

 private:
  struct RunState {
    std::string name;
    std::string status;
    int64_t running_since = 0;
  };

  std::string Name(const std::string& run_id) const;
  void Print(const std::string& text);
  void DrawCounts();

  std::mutex mutex_;
  const bool quiet_;
  const bool tty_;
  bool drawn_ = false;
  int64_t started_ = 0;
  std::map<std::string, RunState> runs_;
  std::vector<std::string> order_;
};

// A run's output, read on from where the last piece ended.
class RunLogCursor {
 public:
  RunLogCursor(UseCases& cases, std::string run_id) : cases_(&cases), run_id_(std::move(run_id)) {}

  struct Piece {
    std::string text;         // whole lines
    std::string status;       // the run's status when it was read
    bool ended = false;       // the run has ended and everything is read
    bool progressed = false;  // text was read
  };
  Result<Piece> Next();

  const std::string& run_id() const { return run_id_; }

 private:
  UseCases* cases_;
  std::string run_id_;
  int64_t offset_ = 0;
};

}  // namespace somlier::cli
