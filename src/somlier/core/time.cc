#include "somlier/core/time.h"

#include <fmt/core.h>

#include <chrono>
#include <ctime>

namespace somlier {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Splits a non-negative or negative epoch value into whole seconds and the remainder.
void Split(int64_t value, int64_t per_second, time_t* seconds, int64_t* fraction) {
  int64_t s = value / per_second;
  int64_t f = value % per_second;
  if (f < 0) {
    f += per_second;
    s -= 1;
  }
  *seconds = static_cast<time_t>(s);
  *fraction = f;
}

}  // namespace

std::string FormatLocalIsoMicros(int64_t epoch_micros) {
  time_t seconds;
  int64_t micros;
  Split(epoch_micros, 1000000, &seconds, &micros);
  struct tm tm_buf {};
  localtime_r(&seconds, &tm_buf);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}", tm_buf.tm_year + 1900,
                     tm_buf.tm_mon + 1, tm_buf.tm_mday, tm_buf.tm_hour, tm_buf.tm_min,
                     tm_buf.tm_sec, micros);
}

std::string FormatUtcIsoMillis(int64_t epoch_millis) {
  time_t seconds;
  int64_t millis;
  Split(epoch_millis, 1000, &seconds, &millis);
  struct tm tm_buf {};
  gmtime_r(&seconds, &tm_buf);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm_buf.tm_year + 1900,
                     tm_buf.tm_mon + 1, tm_buf.tm_mday, tm_buf.tm_hour, tm_buf.tm_min,
                     tm_buf.tm_sec, millis);
}

}  // namespace somlier
