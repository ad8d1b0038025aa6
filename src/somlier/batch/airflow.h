// Airflow: what SoMLier asks an Airflow deployment about a DAG it wrote, through Airflow's
// stable REST API (SOMLIER_AIRFLOW_URL; Basic auth with SOMLIER_AIRFLOW_USERNAME and
// SOMLIER_AIRFLOW_PASSWORD where the deployment enables it):
//   GET /api/v1/dags/{dag_id}     404 until the scheduler has parsed the file, then
//                                 is_active, is_paused, has_import_errors, fileloc;
//   GET /api/v1/importErrors      parse failures by file name, with the stack trace;
//   PATCH /api/v1/dags/{dag_id}?update_mask=is_paused {"is_paused": false}  unpauses.
// One look per call (the CLI polls with progress). Answers are read up to 4 MiB. Thread-safe.
#pragma once

#include <string>

#include "somlier/core/result.h"

namespace somlier::batch {

struct AirflowConfig {
  std::string url;  // empty: not configured
  std::string username;
  std::string password;
};

struct AirflowDag {
  bool known = false;  // parsed by Airflow
  bool active = false;
  bool paused = false;
  std::string import_error;  // the stack trace of its file's parse failure, if any
};

// Errors: FailedPrecondition when Airflow is not configured (naming SOMLIER_AIRFLOW_URL) or
// refuses the credentials (401, 403: which variables to check); Unavailable when it cannot be
// reached or fails (5xx), with what it said.
Result<AirflowDag> LookUpDag(const AirflowConfig& airflow, const std::string& dag_id,
                             const std::string& file_name);
Status UnpauseDag(const AirflowConfig& airflow, const std::string& dag_id);

}  // namespace somlier::batch
