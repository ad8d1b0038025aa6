#include "somlier/training/run_executor.h"

#include <fmt/core.h>

#include "somlier/core/strings.h"

namespace somlier {

Status GridJob::Named(const Status& status) const {
  if (status.ok() || spec_dir.empty()) return status;
  return Status(status.code(), ReplaceAll(status.message(), spec_dir.string(), shown));
}

Result<std::unique_ptr<Execution>> RunExecutor::Resume(std::vector<GridJob::Run>,
                                                       ExecutionObserver&) {
  return Unimplemented(
      fmt::format("the {} executor cannot follow runs another process started", name()));
}

}  // namespace somlier
