// DagFile: the Airflow DAGs `somlier batch create` and `somlier offline create_v2` write —
// Python source for Airflow 2.4+
// (and 3): `schedule=`, `catchup` and `max_active_runs=1` stated, the Asia/Seoul timezone
// through pendulum, default_args owner / depends_on_past False / retries 3, tags, and one
// task: a KubernetesPodOperator (airflow.providers.cncf.kubernetes.operators.pod) that runs
// the image with the command's words as `cmds` and `arguments` (a batch job's ENTRYPOINT; for
// create_v2, `somlier offline predict` in the runtime image, its date an Airflow template),
// the namespace, resources and GPU scheduling of the Kubernetes settings
// (kubernetes/kube_settings.h), environment variables (SOMLIER_TOKEN only by reference to its
// Secret), and on_finish_action="delete_pod".
//
// Every value reaches the source as a Python literal built here (strings escaped, never
// pasted), after the checks of batch/dag_inputs.h and batch/schedule.h. Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "somlier/batch/schedule.h"
#include "somlier/core/result.h"
#include "somlier/kubernetes/kube_settings.h"

namespace somlier::batch {

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
};

// "YYYY-MM-DD" to a calendar date. Errors: InvalidArgument naming `what` and the value.
Result<Date> ParseDate(std::string_view what, std::string_view text);
// The date in Asia/Seoul (UTC+9, no daylight saving) `days` days from `epoch_seconds`.
Date SeoulDate(int64_t epoch_seconds, int days = 0);
// "YYYY-MM-DD".
std::string FormatDate(const Date& date);
// The date `days` days after `date` (before, when negative).
Date AddDays(const Date& date, int days);

struct BatchDag {
  std::string dag_id;
  Schedule schedule;
  std::string image;
  std::vector<std::string> command;  // the ENTRYPOINT's words
  std::string ns;                    // the pod's namespace
  Date start_date;
  bool catchup = false;
  bool gpu = false;
  std::string owner = "somlier";
  std::string made_by = "somlier batch create";  // for the file's docstring
  std::string description = "a scheduled batch job on Kubernetes";
  std::string tag = "batch";
  std::vector<std::pair<std::string, std::string>> env;  // plain values
  std::string token_secret;  // non-empty: SOMLIER_TOKEN from this Secret's key "token"
};

// The date `offline predict` gets from a create_v2 DAG's run, as an Airflow template: the
// logical date `{{ ds }}` (UTC), or with `by_kst` the run's timestamp + 9 hours as a date.
std::string PredictDateTemplate(bool by_kst);

// Errors: InvalidArgument for a DAG id, image, namespace or date the checks refuse (the
// caller has checked them; this is the last line).
Result<std::string> RenderBatchDag(const BatchDag& dag, const kubernetes::KubernetesSettings& k8s);

}  // namespace somlier::batch
