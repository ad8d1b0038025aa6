#include "somlier/core/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "somlier/core/log.h"

namespace somlier {
namespace {

// `n` random bytes as hex, from getrandom(2) (which blocks only until the kernel's pool is
// first initialised, at boot). A failure is not recoverable: ids and tokens must never be
// guessable, so the process stops rather than make a weak one.
std::string RandomHex(size_t n) {
  unsigned char bytes[64];
  if (n > sizeof bytes) std::abort();
  for (size_t done = 0; done < n;) {
    const ssize_t got = ::getrandom(bytes + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      LogError("the kernel's random generator failed: {}", std::strerror(errno));
      std::abort();
    }
    done += static_cast<size_t>(got);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string NewRunId() { return RandomHex(16); }

std::string NewSecretToken() { return RandomHex(32); }

bool IsValidRunId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsProjectArchiveName(std::string_view name) {
  if (name.size() < 42 || name.size() > 57 || name[40] != '-') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (i != 40 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace somlier
