#include "somlier/store/entities.h"

#include <array>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

constexpr std::array<std::string_view, 5> kRunStatusNames = {"SCHEDULED", "RUNNING", "FINISHED",
                                                             "FAILED", "KILLED"};

}  // namespace

std::string_view ToString(LifecycleStage stage) {
  return stage == LifecycleStage::kActive ? "active" : "deleted";
}

std::optional<LifecycleStage> ParseLifecycleStage(std::string_view text) {
  if (text == "active") return LifecycleStage::kActive;
  if (text == "deleted") return LifecycleStage::kDeleted;
  return std::nullopt;
}

std::string_view ToString(RunStatus status) { return kRunStatusNames[static_cast<size_t>(status)]; }

std::optional<RunStatus> ParseRunStatus(std::string_view text) {
  for (size_t i = 0; i < kRunStatusNames.size(); ++i) {
    if (kRunStatusNames[i] == text) return static_cast<RunStatus>(i);
  }
  return std::nullopt;
}

bool IsTerminal(RunStatus status) {
  return status == RunStatus::kFinished || status == RunStatus::kFailed ||
         status == RunStatus::kKilled;
}

std::optional<std::string> CanonicalStage(std::string_view stage) {
  const std::string lower = ToLower(stage);
  for (std::string_view known : {kStageNone, kStageStaging, kStageProduction, kStageArchived}) {
    if (lower == ToLower(known)) return std::string(known);
  }
  return std::nullopt;
}

}  // namespace somlier
