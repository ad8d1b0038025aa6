// FuzzUtil: what the fuzz targets in fuzz/ share — the input as text, splitting it into
// pieces, a scratch directory for parsers that only read files, and FUZZ_CHECK for the
// invariants a target asserts.
//
// A fuzz target feeds bytes to one parser; an error Status is the expected outcome of bad
// input, while a crash, a sanitizer report, an uncaught exception or a failed FUZZ_CHECK is
// a bug. Targets run single-threaded (libFuzzer and fuzz/replay_main.cc call them in turn).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

// Aborts (a crash the fuzzer reports, with its input) when an invariant does not hold.
#define FUZZ_CHECK(condition, what)                                                              \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                                   \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)

namespace somlier::fuzz {

// Runs `f`, failing the check with the exception's message if it throws: for invariants
// such as "a parsed value re-serialises", so that the report names what threw. (An
// exception anywhere else ends the process through std::terminate, a crash all the same.)
template <typename F>
void ExpectNoThrow(std::string_view what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz invariant failed: %.*s threw: %s\n", static_cast<int>(what.size()),
                 what.data(), e.what());
    std::abort();
  }
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// `text` cut at every `separator` (n separators make n + 1 pieces, empty ones included).
inline std::vector<std::string_view> SplitOn(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  while (true) {
    const size_t at = text.find(separator);
    pieces.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return pieces;
    text.remove_prefix(at + 1);
  }
}

// A private directory under $TMPDIR (or /tmp), made on first use and removed when the
// process exits normally — for parsers that take a path rather than bytes. One per process,
// named somlier-fuzz-<pid>-XXXXXX; a crashed process leaves its directory behind, so making
// one first removes those whose process is gone.
class ScratchDir {
 public:
  static const std::filesystem::path& Path() {
    static const std::filesystem::path path = Make();
    return path;
  }

  // Replaces the file `name` in the scratch directory by `bytes`; returns its path.
  static std::filesystem::path Write(const std::string& name, std::string_view bytes) {
    const std::filesystem::path file = Path() / name;
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot create " + file.string());
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      FUZZ_CHECK(n > 0, "cannot write " + file.string());
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return file;
  }

 private:
  static constexpr std::string_view kPrefix = "somlier-fuzz-";

  static void RemoveAbandoned(const std::filesystem::path& tmp) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(tmp, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(kPrefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + kPrefix.size(), nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
        std::filesystem::remove_all(entry.path(), ec);
      }
    }
  }

  static std::filesystem::path Make() {
    const char* tmp = std::getenv("TMPDIR");
    const std::filesystem::path dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    RemoveAbandoned(dir);
    std::string pattern =
        (dir / (std::string(kPrefix) + std::to_string(::getpid()) + "-XXXXXX")).string();
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a directory " + pattern);
    static std::string made;
    made = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(made, ec);
    });
    return pattern;
  }
};

}  // namespace somlier::fuzz
