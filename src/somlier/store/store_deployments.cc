// Store: deployments (serving/deployment_target.h says what their states mean).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/store/migrations.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::Exec;
using store_internal::Values;

// ---- Deployments -----------------------------------------------------------------------

namespace {

constexpr std::string_view kDeploymentColumns =
    "name, model_name, model_version, target, url, status, pid, message, creation_time, "
    "last_updated_time";

Result<Deployment> DeploymentFromRow(const SqlRow& row) {
  Deployment d;
  d.name = AsText(row[0]);
  d.model_name = AsText(row[1]);
  d.model_version = AsText(row[2]);
  SOMLIER_ASSIGN_OR_RETURN(
      d.target, store_internal::KnownInDatabase(ParseDeploymentTargetKind, AsText(row[3]),
                                                "deployment", d.name, "target"));
  d.url = AsText(row[4]);
  SOMLIER_ASSIGN_OR_RETURN(
      d.status, store_internal::KnownInDatabase(ParseDeploymentStatus, AsText(row[5]), "deployment",
                                                d.name, "status"));
  if (!IsNull(row[6])) d.pid = AsInt(row[6]);
  d.message = AsText(row[7]);
  d.creation_time = AsInt(row[8]);
  d.last_updated_time = AsInt(row[9]);
  return d;
}

}  // namespace

Status Store::PutDeployment(const Deployment& d) {
  if (d.name.empty()) return InvalidArgument("deployment name must not be empty");
  return db_->Transaction(true, [&](Connection& c) -> Status {
    const int64_t now = NowMillis();
    SqlValue pid = d.pid ? SqlValue(*d.pid) : SqlValue();
    return Exec(c,
                fmt::format("INSERT INTO deployments ({}) VALUES ({}) ON CONFLICT (name) DO UPDATE "
                            "SET model_name = excluded.model_name, model_version = "
                            "excluded.model_version, target = excluded.target, url = excluded.url, "
                            "status = excluded.status, pid = excluded.pid, message = "
                            "excluded.message, last_updated_time = excluded.last_updated_time",
                            kDeploymentColumns, store_internal::Placeholders(10)),
                {d.name, d.model_name, d.model_version, std::string(ToString(d.target)), d.url,
                 std::string(ToString(d.status)), pid, d.message,
                 d.creation_time ? d.creation_time : now, now})
        .status();
  });
}

Result<Deployment> Store::GetDeployment(const std::string& name) {
  std::optional<Deployment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c, fmt::format("SELECT {} FROM deployments WHERE name = ?", kDeploymentColumns),
             {name}));
    if (r.rows.empty()) return NotFound(fmt::format("deployment '{}' does not exist", name));
    SOMLIER_ASSIGN_OR_RETURN(out, DeploymentFromRow(r.rows[0]));
    return OkStatus();
  }));
  return std::move(*out);
}

Result<std::vector<Deployment>> Store::ListDeployments() {
  std::vector<Deployment> out;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(
        QueryResult r,
        Exec(c, fmt::format("SELECT {} FROM deployments ORDER BY name", kDeploymentColumns)));
    for (const SqlRow& row : r.rows) {
      SOMLIER_ASSIGN_OR_RETURN(Deployment d, DeploymentFromRow(row));
      out.push_back(std::move(d));
    }
    return OkStatus();
  }));
  return out;
}

Status Store::DeleteDeployment(const std::string& name) {
  return db_->Transaction(true, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r,
                             Exec(c, "DELETE FROM deployments WHERE name = ?", {name}));
    if (r.affected_rows == 0) {
      return NotFound(fmt::format("deployment '{}' does not exist", name));
    }
    return OkStatus();
  });
}

}  // namespace somlier
