#include "somlier/batch/schedule.h"

#include <fmt/core.h>

#include <array>
#include <charconv>
#include <vector>

#include "somlier/core/strings.h"

namespace somlier::batch {
namespace {

struct Field {
  const char* name;
  int min;
  int max;
  std::vector<std::string_view> names;  // names[i] means min + i (JAN = 1, SUN = 0)
};

const std::array<Field, 5>& Fields() {
  static const std::array<Field, 5> fields = {{
      {"minute", 0, 59, {}},
      {"hour", 0, 23, {}},
      {"day of month", 1, 31, {}},
      {"month",
       1,
       12,
       {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
      // 7 is Sunday too, as croniter reads it.
      {"day of week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
  }};
  return fields;
}

Status Bad(const Field& field, std::string_view text, std::string_view why) {
  return InvalidArgument(
      fmt::format("{} '{}' {} (a {} is {}-{}{}, '*', a range a-b, a step */n "
                  "or a-b/n, or a comma list)",
                  field.name, text, why, field.name, field.min, field.max,
                  field.names.empty() ? "" : " or its name"));
}

Result<int> Value(const Field& field, std::string_view text) {
  const std::string upper = ToUpper(std::string(text));
  for (size_t i = 0; i < field.names.size(); ++i) {
    if (upper == field.names[i]) return field.min + static_cast<int>(i);
  }
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Bad(field, text, "is not a number");
  }
  if (value < field.min || value > field.max) {
    return Bad(field, text, fmt::format("is not {}-{}", field.min, field.max));
  }
  return value;
}

// One comma-separated item; true when it names more than one value.
Result<bool> Item(const Field& field, std::string_view item) {
  std::string_view range = item;
  bool stepped = false;
  if (const auto slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    const std::string_view step = item.substr(slash + 1);
    int n = 0;
    auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), n);
    if (step.empty() || ec != std::errc() || end != step.data() + step.size() || n < 1 ||
        n > field.max - field.min + 1) {
      return Bad(field, item, "has a step that is not a positive number within the field");
    }
    stepped = true;
  }
  if (range == "*") return true;
  if (const auto dash = range.find('-'); dash != std::string_view::npos) {
    SOMLIER_ASSIGN_OR_RETURN(int low, Value(field, range.substr(0, dash)));
    SOMLIER_ASSIGN_OR_RETURN(int high, Value(field, range.substr(dash + 1)));
    if (low > high) return Bad(field, item, "is a range that ends before it starts");
    return low != high;
  }
  SOMLIER_RETURN_IF_ERROR(Value(field, range).status());
  return stepped;  // a/n: from a on, every n
}

}  // namespace

Result<Schedule> ParseSchedule(std::string_view expression) {
  Schedule schedule;
  schedule.expression = std::string(Trim(expression));
  const std::string& text = schedule.expression;
  if (text.size() > 200) return InvalidArgument("the schedule is longer than 200 characters");
  if (text.starts_with("@")) {
    static constexpr std::string_view kPresets[] = {
        "@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually"};
    for (std::string_view preset : kPresets) {
      if (text == preset) {
        schedule.preset = true;
        schedule.sub_daily = preset == "@hourly";
        return schedule;
      }
    }
    return InvalidArgument(fmt::format(
        "schedule '{}' is not one of Airflow's presets (@once, @hourly, @daily, @weekly, "
        "@monthly, @quarterly, @yearly) nor a 5-field cron expression",
        text));
  }
  std::vector<std::string_view> fields;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find_first_of(" \t", start);
    const std::string_view word =
        std::string_view(text).substr(start, end == std::string::npos ? end : end - start);
    if (!word.empty()) fields.push_back(word);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (fields.size() != 5) {
    return InvalidArgument(fmt::format(
        "schedule '{}' has {} field(s); a cron expression has 5 (minute hour day-of-month month "
        "day-of-week, e.g. '0 9 * * *'), or use a preset such as @daily",
        text, fields.size()));
  }
  for (size_t i = 0; i < 5; ++i) {
    bool many = false;
    for (std::string_view item : Split(std::string(fields[i]), ',')) {
      SOMLIER_ASSIGN_OR_RETURN(bool several, Item(Fields()[i], Trim(item)));
      many = many || several;
    }
    if (fields[i].find(',') != std::string_view::npos) many = true;
    if (i < 2 && many) schedule.sub_daily = true;
  }
  return schedule;
}

}  // namespace somlier::batch
