#include "somlier/cli/run_progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

#include "somlier/cli/output.h"
#include "somlier/cli/use_cases.h"
#include "somlier/core/time.h"

namespace somlier::cli {
namespace {

// stdio, not fmt::print: a closed terminal must not throw (the output is in the logs).
void Write(const std::string& text) { std::fputs(text.c_str(), stderr); }

}  // namespace

TrainProgress::TrainProgress(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {}

void TrainProgress::SetRuns(const nlohmann::json& runs) {
  std::lock_guard lock(mutex_);
  for (const nlohmann::json& run : runs) {
    runs_[run["run_id"]] = {run["run_name"], run["status"], 0};
    order_.push_back(run["run_id"]);
  }
  started_ = NowMillis();
}

void TrainProgress::Note(std::string_view note) {
  std::lock_guard lock(mutex_);
  Print(std::string(note));
}

void TrainProgress::Line(const std::string& run_id, std::string_view line) {
  if (quiet_) return;
  std::lock_guard lock(mutex_);
  if (line.ends_with('\n')) line.remove_suffix(1);
  Print(fmt::format("[{}] {}", Name(run_id), line));
}

void TrainProgress::Status(const std::string& run_id, const std::string& status,
                           const std::string& message) {
  std::lock_guard lock(mutex_);
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second.status == status) return;
  it->second.status = status;
  std::string text = fmt::format("[{}] {}", it->second.name, status);
  if (status == "RUNNING") {
    it->second.running_since = NowMillis();
  } else if (it->second.running_since) {
    text += " after " + DurationText(NowMillis() - it->second.running_since);
  }
  if (!message.empty()) text += ": " + message;
  Print(text);
}

std::string TrainProgress::StatusOf(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  return runs_.at(run_id).status;
}

void TrainProgress::Tick() {
  std::lock_guard lock(mutex_);
  DrawCounts();
}

void TrainProgress::Finish() {
  std::lock_guard lock(mutex_);
  if (tty_ && drawn_) Write("\r\033[K");
  drawn_ = false;
  std::fflush(stderr);
}

std::string TrainProgress::Name(const std::string& run_id) const {
  auto it = runs_.find(run_id);
  return it == runs_.end() ? run_id.substr(0, 8) : it->second.name;
}

void TrainProgress::Print(const std::string& text) {
  if (tty_ && drawn_) Write("\r\033[K");
  Write(text + "\n");
  drawn_ = false;
  DrawCounts();
}

void TrainProgress::DrawCounts() {
  if (!tty_ || runs_.empty()) {
    std::fflush(stderr);
    return;
  }
  std::map<std::string, int> count;
  for (const auto& [id, run] : runs_) ++count[run.status];
  const int64_t elapsed = (NowMillis() - started_) / 1000;
  Write(fmt::format(
      "\r\033[K{} runs: {} queued, {} running, {} finished, {} failed, {} killed  {}:{:02}",
      runs_.size(), count["SCHEDULED"], count["RUNNING"], count["FINISHED"], count["FAILED"],
      count["KILLED"], elapsed / 60, elapsed % 60));
  std::fflush(stderr);
  drawn_ = true;
}

Result<RunLogCursor::Piece> RunLogCursor::Next() {
  SOMLIER_ASSIGN_OR_RETURN(nlohmann::json answer,
                           cases_->Call("/runs/logs", {{"run_id", run_id_}, {"offset", offset_}}));
  Piece piece;
  piece.text = answer["text"].get<std::string>();
  piece.status = answer["status"].get<std::string>();
  piece.ended = answer["ended"].get<bool>();
  const int64_t next = answer["offset"].get<int64_t>();
  piece.progressed = next != offset_;
  offset_ = next;
  return piece;
}

}  // namespace somlier::cli
