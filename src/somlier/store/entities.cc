#include "somlier/store/entities.h"

#include <array>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

constexpr std::array<std::string_view, 5> kRunStatusNames = {"SCHEDULED", "RUNNING", "FINISHED",
                                                             "FAILED", "KILLED"};
constexpr std::array<std::string_view, 2> kTargetNames = {"local", "kubernetes"};
constexpr std::array<std::string_view, 4> kDeploymentStatusNames = {"STARTING", "RUNNING",
                                                                    "STOPPED", "FAILED"};

// The enumerator whose name is `text` in `names` (indexed by the enumerator's value).
template <typename Enum, size_t N>
std::optional<Enum> ParseName(const std::array<std::string_view, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

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
  return ParseName<RunStatus>(kRunStatusNames, text);
}

std::string_view ToString(DeploymentTargetKind target) {
  return kTargetNames[static_cast<size_t>(target)];
}

std::optional<DeploymentTargetKind> ParseDeploymentTargetKind(std::string_view text) {
  return ParseName<DeploymentTargetKind>(kTargetNames, text);
}

std::string_view ToString(DeploymentStatus status) {
  return kDeploymentStatusNames[static_cast<size_t>(status)];
}

std::optional<DeploymentStatus> ParseDeploymentStatus(std::string_view text) {
  return ParseName<DeploymentStatus>(kDeploymentStatusNames, text);
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
