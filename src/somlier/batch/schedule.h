// Schedule: an Airflow schedule as `batch create` and `offline create_v2` take it — a
// 5-field cron expression (minute, hour, day of month, month, day of week; each `*`, a
// value, a range a-b, a step */n or a-b/n or a/n, or a comma list of those; months JAN-DEC
// and days SUN-SAT by name, day of week 7 as Sunday, as croniter reads them) or one of
// Airflow's presets (@once, @hourly, @daily, @weekly, @monthly, @quarterly, @yearly,
// @annually). Checked here so that a DAG that Airflow would refuse to parse is never
// written. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier::batch {

struct Schedule {
  std::string expression;  // as given, trimmed
  bool preset = false;     // "@daily" and the like
  // Whether it can fire more than once on one day (a list, range or step in the minute or
  // hour field; @hourly). create_v2 refuses those: its DAG selects a day's rows.
  bool sub_daily = false;
};

// Errors: InvalidArgument naming the field and what it accepts ("minute '61' is not 0-59"),
// or the presets for an unknown '@' name.
Result<Schedule> ParseSchedule(std::string_view expression);

}  // namespace somlier::batch
