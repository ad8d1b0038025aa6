#include "somlier/training/run_executor.h"

#include "somlier/core/strings.h"

namespace somlier {

Status GridJob::Named(const Status& status) const {
  if (status.ok() || spec_dir.empty()) return status;
  return Status(status.code(), ReplaceAll(status.message(), spec_dir.string(), shown));
}

}  // namespace somlier
