#include "somlier/execution/process_runner.h"

namespace somlier {
namespace {

class RealChild final : public ChildProcess {
 public:
  explicit RealChild(std::unique_ptr<Subprocess> process) : process_(std::move(process)) {}
  pid_t pid() const override { return process_->pid(); }
  bool HasExited() override { return process_->HasExited(); }
  void Signal(int signal) override { process_->Signal(signal); }
  Result<int> Wait() override { return process_->Wait(); }

 private:
  std::unique_ptr<Subprocess> process_;
};

class RealRunner final : public ProcessRunner {
 public:
  Result<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options) override {
    SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Spawn(options));
    return std::unique_ptr<ChildProcess>(std::make_unique<RealChild>(std::move(process)));
  }
};

}  // namespace

ProcessRunner& RealProcessRunner() {
  static RealRunner runner;
  return runner;
}

}  // namespace somlier
