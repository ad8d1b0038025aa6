// Log: leveled diagnostics on stderr.
//
// One line per message: "<UTC ISO-8601 time> <LEVEL> <message>". Messages below the
// process-wide threshold are dropped before formatting. The threshold starts at kInfo
// and is set once at start-up from configuration (SOMLIER_LOG_LEVEL). Thread-safe: each
// line is written with a single write(2), so lines from threads never interleave.
// Command output meant for users or scripts goes to stdout, never through here.
#pragma once

#include <fmt/core.h>

#include <optional>
#include <string>
#include <string_view>

namespace somlier {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// "debug" | "info" | "warning" (or "warn") | "error" | "off", any case.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

void LogMessage(LogLevel level, std::string_view message);

template <typename... Args>
void LogDebug(fmt::format_string<Args...> format, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kDebug)
    LogMessage(LogLevel::kDebug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void LogInfo(fmt::format_string<Args...> format, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kInfo)
    LogMessage(LogLevel::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void LogWarning(fmt::format_string<Args...> format, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kWarning)
    LogMessage(LogLevel::kWarning, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void LogError(fmt::format_string<Args...> format, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kError)
    LogMessage(LogLevel::kError, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace somlier
