#include "somlier/batch/airflow.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "somlier/batch/json_http.h"
#include "somlier/core/base64.h"
#include "somlier/core/url.h"

namespace somlier::batch {
namespace {

using nlohmann::json;

Result<JsonAnswer> Call(const AirflowConfig& airflow, std::string_view method,
                        const std::string& path, const std::string& body = "") {
  if (airflow.url.empty()) {
    return FailedPrecondition(
        "Airflow is not configured: set SOMLIER_AIRFLOW_URL (and SOMLIER_AIRFLOW_USERNAME and "
        "SOMLIER_AIRFLOW_PASSWORD where it takes Basic auth)");
  }
  HttpHeaders headers = {{"Accept", "application/json"}};
  if (!airflow.username.empty()) {
    headers.emplace_back("Authorization",
                         "Basic " + Base64Encode(airflow.username + ":" + airflow.password));
  }
  SOMLIER_ASSIGN_OR_RETURN(JsonAnswer answer, CallJson("Airflow", "SOMLIER_AIRFLOW_URL",
                                                       airflow.url, method, path, headers, body));
  const json& b = answer.body;
  const std::string detail = b.is_object() && b.contains("detail") && b["detail"].is_string()
                                 ? b["detail"].get<std::string>()
                             : b.is_object() && b.contains("title") && b["title"].is_string()
                                 ? b["title"].get<std::string>()
                                 : "";
  const std::string where = RedactUrlCredentials(airflow.url);
  if (answer.status == 401 || answer.status == 403) {
    return FailedPrecondition(
        fmt::format("Airflow at {} refused {} {} ({}{}): check SOMLIER_AIRFLOW_USERNAME and "
                    "SOMLIER_AIRFLOW_PASSWORD, and that the user may read DAGs{}",
                    where, method, path, answer.status, detail.empty() ? "" : ": " + detail,
                    method == "PATCH" ? " and edit them" : ""));
  }
  if (answer.status >= 500 || (answer.status != 404 && answer.status >= 300)) {
    return Unavailable(fmt::format("Airflow at {} answered {} to {} {}{}", where, answer.status,
                                   method, path, detail.empty() ? "" : ": " + detail));
  }
  return answer;
}

bool Flag(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_boolean() &&
         object[key].get<bool>();
}

}  // namespace

Result<AirflowDag> LookUpDag(const AirflowConfig& airflow, const std::string& dag_id,
                             const std::string& file_name) {
  AirflowDag dag;
  SOMLIER_ASSIGN_OR_RETURN(JsonAnswer got, Call(airflow, "GET", "/api/v1/dags/" + dag_id));
  if (got.status == 200) {
    dag.known = true;
    dag.active = Flag(got.body, "is_active");
    dag.paused = Flag(got.body, "is_paused");
    if (!Flag(got.body, "has_import_errors")) return dag;
  }
  // Not parsed yet, or parsed with errors: the import errors say whether its file failed.
  SOMLIER_ASSIGN_OR_RETURN(
      JsonAnswer errors,
      Call(airflow, "GET", "/api/v1/importErrors?limit=100&order_by=-timestamp"));
  if (errors.status == 404) {  // every Airflow 2 answers this one: the URL is not Airflow's API
    return FailedPrecondition(fmt::format(
        "SOMLIER_AIRFLOW_URL {} does not answer Airflow's stable REST API (GET "
        "/api/v1/importErrors is 404): check the URL, with any path prefix, and that the API is "
        "enabled",
        RedactUrlCredentials(airflow.url)));
  }
  const json& list = errors.body.is_object() && errors.body.contains("import_errors")
                         ? errors.body["import_errors"]
                         : json();
  if (list.is_array()) {
    for (const json& e : list) {
      if (!e.is_object() || !e.contains("filename") || !e["filename"].is_string()) continue;
      const std::string file = e["filename"].get<std::string>();
      if (file == file_name || file.ends_with("/" + file_name)) {
        dag.import_error = e.contains("stack_trace") && e["stack_trace"].is_string()
                               ? e["stack_trace"].get<std::string>()
                               : "(Airflow gave no stack trace)";
        break;
      }
    }
  }
  return dag;
}

Status UnpauseDag(const AirflowConfig& airflow, const std::string& dag_id) {
  SOMLIER_ASSIGN_OR_RETURN(
      JsonAnswer patched,
      Call(airflow, "PATCH", "/api/v1/dags/" + dag_id + "?update_mask=is_paused",
           R"({"is_paused":false})"));
  if (patched.status == 404) {
    return NotFound(fmt::format("Airflow does not know DAG '{}' (yet)", dag_id));
  }
  return OkStatus();
}

}  // namespace somlier::batch
