#include "somlier/core/ids.h"

#include <array>
#include <mutex>
#include <random>

namespace somlier {

std::string NewRunId() {
  static std::mutex mu;
  static std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu);
    hi = engine();
    lo = engine();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 16; ++i) {
    id[15 - i] = kHex[(hi >> (4 * i)) & 0xf];
    id[31 - i] = kHex[(lo >> (4 * i)) & 0xf];
  }
  return id;
}

bool IsValidRunId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace somlier
