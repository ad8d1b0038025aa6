#include "somlier/batch/airflow.h"

#include <fmt/core.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "somlier/core/json_parse.h"
#include "somlier/core/url.h"

namespace somlier::batch {
namespace {

using nlohmann::json;

constexpr size_t kMaxAnswer = 4 << 20;

struct Answer {
  int status = 0;
  json body;
};

Result<Answer> Call(const AirflowConfig& airflow, const std::string& method,
                    const std::string& path, const std::string& body = "") {
  if (airflow.url.empty()) {
    return FailedPrecondition(
        "Airflow is not configured: set SOMLIER_AIRFLOW_URL (and SOMLIER_AIRFLOW_USERNAME and "
        "SOMLIER_AIRFLOW_PASSWORD where it takes Basic auth)");
  }
  auto parts = SplitUrl(airflow.url);
  if (!parts) {
    return InvalidArgument(
        fmt::format("SOMLIER_AIRFLOW_URL '{}' is not a URL", RedactUrlCredentials(airflow.url)));
  }
  std::string prefix = parts->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  httplib::Client client(parts->origin);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(60, 0);
  if (!airflow.username.empty()) client.set_basic_auth(airflow.username, airflow.password);
  httplib::Headers headers = {{"Accept", "application/json"}};
  std::string text;
  bool too_long = false;
  auto receive = [&](const char* data, size_t size) {
    if (text.size() + size > kMaxAnswer) {
      too_long = true;
      return false;
    }
    text.append(data, size);
    return true;
  };
  httplib::Result result = method == "PATCH"
                               ? client.Patch(prefix + path, headers, body, "application/json")
                               : client.Get(prefix + path, headers, receive);
  const std::string where = RedactUrlCredentials(airflow.url);
  if (!result && !too_long) {
    return Unavailable(
        fmt::format("cannot reach Airflow at {}: {}", where, httplib::to_string(result.error())));
  }
  if (too_long) return Unavailable(fmt::format("Airflow at {} answered more than 4 MiB", where));
  Answer answer;
  answer.status = result->status;
  answer.body = ParseJsonOrNull(method == "PATCH" ? result->body : text);
  const std::string detail =
      answer.body.is_object() && answer.body.contains("detail") && answer.body["detail"].is_string()
          ? answer.body["detail"].get<std::string>()
      : answer.body.is_object() && answer.body.contains("title") && answer.body["title"].is_string()
          ? answer.body["title"].get<std::string>()
          : "";
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
  SOMLIER_ASSIGN_OR_RETURN(Answer got, Call(airflow, "GET", "/api/v1/dags/" + dag_id));
  if (got.status == 200) {
    dag.known = true;
    dag.active = Flag(got.body, "is_active");
    dag.paused = Flag(got.body, "is_paused");
    if (!Flag(got.body, "has_import_errors")) return dag;
  }
  // Not parsed yet, or parsed with errors: the import errors say whether its file failed.
  SOMLIER_ASSIGN_OR_RETURN(
      Answer errors, Call(airflow, "GET", "/api/v1/importErrors?limit=100&order_by=-timestamp"));
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
      Answer patched, Call(airflow, "PATCH", "/api/v1/dags/" + dag_id + "?update_mask=is_paused",
                           R"({"is_paused":false})"));
  if (patched.status == 404) {
    return NotFound(fmt::format("Airflow does not know DAG '{}' (yet)", dag_id));
  }
  return OkStatus();
}

}  // namespace somlier::batch
