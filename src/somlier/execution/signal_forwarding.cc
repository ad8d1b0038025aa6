#include "somlier/execution/signal_forwarding.h"

#include <atomic>
#include <cstring>

namespace somlier {
namespace {

std::atomic<pid_t> g_group{0};
std::atomic<int> g_last{0};

void Forward(int signal) {
  const pid_t group = g_group.load();
  if (group > 0) kill(-group, signal);
  g_last.store(signal);
}

}  // namespace

SignalForwarding::SignalForwarding(pid_t process_group) {
  g_group.store(process_group);
  g_last.store(0);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = Forward;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
}

SignalForwarding::~SignalForwarding() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  g_group.store(0);
}

int SignalForwarding::last_forwarded() { return g_last.load(); }

}  // namespace somlier
