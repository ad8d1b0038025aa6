#include "somlier/offline/warehouse.h"

#include <fmt/core.h>

#include <algorithm>

#include "somlier/core/strings.h"
#include "somlier/core/url.h"
#include "somlier/offline/bigquery_warehouse.h"
#include "somlier/offline/postgres_warehouse.h"
#include "somlier/offline/sqlite_warehouse.h"

namespace somlier::offline {

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "integer";
    case ColumnType::kReal:
      return "real";
    case ColumnType::kBoolean:
      return "boolean";
    case ColumnType::kText:
      return "text";
    case ColumnType::kBytes:
      return "bytes";
    case ColumnType::kDate:
      return "date";
    case ColumnType::kTimestamp:
      return "timestamp";
  }
  return "text";
}

Status CheckHasColumns(const Replacement& r, const std::vector<std::string>& existing,
                       const std::string& warehouse) {
  std::vector<std::string> missing;
  for (const Column& c : r.columns) {
    if (std::find(existing.begin(), existing.end(), c.name) == existing.end()) {
      missing.push_back(c.name);
    }
  }
  if (missing.empty()) return OkStatus();
  return FailedPrecondition(fmt::format(
      "table '{}' of {} exists without the column(s) {} that the predictions need; name a new "
      "destination table, or add them",
      r.table.ToString(), warehouse, Join(missing, ", ")));
}
Result<std::unique_ptr<Warehouse>> OpenWarehouse(const std::string& url, const Environment& env) {
  if (url.starts_with("sqlite:")) return OpenSqliteWarehouse(url);
  if (url.starts_with("postgresql:") || url.starts_with("postgres:") ||
      url.starts_with("postgresql+")) {
    return OpenPostgresWarehouse(url);
  }
  if (url.starts_with("bigquery:")) return OpenBigQueryWarehouse(url, env);
  return InvalidArgument(
      fmt::format("warehouse '{}' is not sqlite:///PATH, postgresql://USER:PASSWORD@HOST/DB or "
                  "bigquery://PROJECT",
                  RedactUrlPassword(url)));
}

std::string DefaultWarehouseUrl(const std::string& somlier_home) {
  return "sqlite:///" + somlier_home + "/warehouse.db";
}

}  // namespace somlier::offline
