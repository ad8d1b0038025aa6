#include "somlier/core/log.h"

#include <unistd.h>

#include <array>
#include <atomic>

#include "somlier/core/strings.h"
#include "somlier/core/time.h"

namespace somlier {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

constexpr std::array<std::string_view, 5> kNames = {"DEBUG", "INFO", "WARNING", "ERROR", "OFF"};

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  const std::string lower = ToLower(text);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  if (lower == "off" || lower == "none") return LogLevel::kOff;
  return std::nullopt;
}

void LogMessage(LogLevel level, std::string_view message) {
  if (level < GetLogLevel() || level == LogLevel::kOff) return;
  std::string line = FormatUtcIsoMillis(NowMillis());
  line += ' ';
  line += kNames[static_cast<size_t>(level)];
  line += ' ';
  line += message;
  line += '\n';
  // One write per line keeps lines from concurrent threads whole.
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

}  // namespace somlier
