#include "somlier/batch/dag_file.h"

#include <fmt/core.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "somlier/batch/dag_inputs.h"
#include "somlier/core/version.h"
#include "somlier/kubernetes/names.h"

namespace somlier::batch {
namespace {

using nlohmann::json;

// A Python string literal: ASCII only (the file's encoding never matters), every code point
// outside printable ASCII escaped as Python reads it (\xNN, \uNNNN, \UNNNNNNNN).
std::string PyString(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    uint32_t code = c;
    size_t length = 1;
    if (c >= 0x80) {  // UTF-8 (checked by the JSON parser or the CLI's argv; else bytes)
      length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      code = length == 1 ? c : c & (0x3F >> (length - 1));
      for (size_t k = 1; k < length; ++k) {
        const unsigned char next = i + k < text.size() ? text[i + k] : 0;
        if ((next & 0xC0) != 0x80) {
          length = 1;
          code = c;
          break;
        }
        code = (code << 6) | (next & 0x3F);
      }
    }
    if (code == '"' || code == '\\') {
      out += '\\';
      out += static_cast<char>(code);
    } else if (code >= 0x20 && code < 0x7F) {
      out += static_cast<char>(code);
    } else if (code < 0x100) {
      out += fmt::format("\\x{:02x}", code);
    } else if (code < 0x10000) {
      out += fmt::format("\\u{:04x}", code);
    } else {
      out += fmt::format("\\U{:08x}", code);
    }
    i += length;
  }
  return out + "\"";
}

// A Python literal for a JSON value: strings as PyString, booleans and null as Python spells
// them.
std::string Py(const json& value) {
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_null()) return "None";
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + Py(value[i]);
    return out + "]";
  }
  if (value.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      out += (first ? "" : ", ") + Py(json(key)) + ": " + Py(item);
      first = false;
    }
    return out + "}";
  }
  if (value.is_string()) return PyString(value.get<std::string>());
  return value.dump();
}

// A command word as the pod gets it: '$' doubled, which the kubelet turns back into '$'
// (so no $(VAR) in it is expanded).
std::string KubeletLiteral(const std::string& word) {
  std::string out;
  for (char c : word) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

// Text for the file's docstring: what PyString would escape, and triple quotes, are dropped.
std::string PyDocText(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"') out += c;
  }
  return out;
}

bool LeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && LeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

Result<Date> ParseDate(std::string_view what, std::string_view text) {
  auto number = [&](size_t at, size_t width, int* out) {
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + width, *out);
    return ec == std::errc() && end == text.data() + at + width;
  };
  Date d;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !number(0, 4, &d.year) ||
      !number(5, 2, &d.month) || !number(8, 2, &d.day) || d.year < 1970 || d.year > 9999 ||
      d.month < 1 || d.month > 12 || d.day < 1 || d.day > DaysIn(d.year, d.month)) {
    return InvalidArgument(fmt::format("{} '{}' is not a date YYYY-MM-DD", what, text));
  }
  return d;
}

Date SeoulDate(int64_t epoch_seconds, int days) {
  // Days since 1970-01-01 in UTC+9, then the civil date (Howard Hinnant's algorithm).
  int64_t z = (epoch_seconds + 9 * 3600) / 86400 + days;
  if (epoch_seconds + 9 * 3600 < 0 && (epoch_seconds + 9 * 3600) % 86400 != 0) --z;
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  Date d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = static_cast<int>(yoe + era * 400 + (d.month <= 2 ? 1 : 0));
  return d;
}

std::string PredictDateTemplate(bool by_kst) {
  return by_kst ? "{{ (logical_date + macros.timedelta(hours=9)).strftime('%Y-%m-%d') }}"
                : "{{ ds }}";
}

std::string FormatDate(const Date& d) {
  return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

Date AddDays(const Date& d, int days) {
  // Days since 1970-01-01 of the civil date (Howard Hinnant's algorithm), as midnight in
  // Seoul, then back.
  const int64_t y = d.year - (d.month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (d.month > 2 ? d.month - 3 : d.month + 9) + 2) / 5 + d.day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t epoch_days = era * 146097 + doe - 719468;
  return SeoulDate(epoch_days * 86400, days);
}

Result<std::string> RenderBatchDag(const BatchDag& dag, const kubernetes::KubernetesSettings& k8s) {
  SOMLIER_RETURN_IF_ERROR(CheckDagId(dag.dag_id));
  SOMLIER_RETURN_IF_ERROR(CheckImageReference(dag.image));
  SOMLIER_RETURN_IF_ERROR(kubernetes::CheckDnsLabel("namespace", dag.ns));
  if (dag.command.empty()) return InvalidArgument("the DAG's task needs a command");
  SOMLIER_RETURN_IF_ERROR(ParseDate("start_date", FormatDate(dag.start_date)).status());

  json requests = {{"cpu", k8s.cpu_request}, {"memory", k8s.memory_request}};
  json limits = {{"cpu", k8s.cpu_limit}, {"memory", k8s.memory_limit}};
  if (dag.gpu) limits[k8s.gpu_resource] = "1";
  std::vector<std::string> arguments;
  for (size_t i = 1; i < dag.command.size(); ++i)
    arguments.push_back(KubeletLiteral(dag.command[i]));

  std::string out;
  out += fmt::format(
      "\"\"\"{}: {}\n\nGenerated by SoMLier {} ({}). Change it by running the command again.\n"
      "\"\"\"\n",
      PyDocText(dag.dag_id), PyDocText(dag.description), kSomlierVersion, PyDocText(dag.made_by));
  out +=
      "import pendulum\n"
      "from airflow import DAG\n"
      "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"
      "from kubernetes.client import models as k8s\n\n";
  out += fmt::format(
      "default_args = {{\n"
      "    \"owner\": {},\n"
      "    \"depends_on_past\": False,\n"
      "    \"retries\": 3,\n"
      "}}\n\n",
      Py(dag.owner));
  out += fmt::format(
      "with DAG(\n"
      "    dag_id={},\n"
      "    schedule={},\n"
      "    start_date=pendulum.datetime({}, {}, {}, tz=\"Asia/Seoul\"),\n"
      "    catchup={},\n"
      "    max_active_runs=1,\n"
      "    default_args=default_args,\n"
      "    tags={},\n"
      ") as dag:\n",
      Py(dag.dag_id), Py(dag.schedule.expression), dag.start_date.year, dag.start_date.month,
      dag.start_date.day, Py(dag.catchup), Py(json::array({"somlier", dag.tag})));
  out += fmt::format(
      "    KubernetesPodOperator(\n"
      "        task_id=\"run\",\n"
      "        name={},\n"
      "        namespace={},\n"
      "        image={},\n"
      "        cmds={},\n"
      "        arguments={},\n"
      "        container_resources=k8s.V1ResourceRequirements(requests={}, limits={}),\n",
      Py(kubernetes::ToDnsLabel(dag.dag_id, 53)), Py(dag.ns), Py(dag.image),
      Py(json::array({KubeletLiteral(dag.command.front())})), Py(json(arguments)), Py(requests),
      Py(limits));
  if (dag.gpu) {
    out += fmt::format("        node_selector={},\n", Py(json(k8s.gpu_node_selector)));
    if (!k8s.gpu_toleration.empty()) {
      out += fmt::format(
          "        tolerations=[k8s.V1Toleration(key={}, operator=\"Exists\", "
          "effect=\"NoSchedule\")],\n",
          Py(k8s.gpu_toleration));
    }
  }
  if (!dag.env.empty() || !dag.token_secret.empty()) {
    out += "        env_vars=[\n";
    for (const auto& [name, value] : dag.env) {
      out += fmt::format("            k8s.V1EnvVar(name={}, value={}),\n", Py(name),
                         Py(KubeletLiteral(value)));
    }
    if (!dag.token_secret.empty()) {
      out += fmt::format(
          "            k8s.V1EnvVar(name=\"SOMLIER_TOKEN\", value_from=k8s.V1EnvVarSource(\n"
          "                secret_key_ref=k8s.V1SecretKeySelector(name={}, key=\"token\"))),\n",
          Py(dag.token_secret));
    }
    out += "        ],\n";
  }
  out +=
      "        labels={\"app.kubernetes.io/managed-by\": \"somlier\"},\n"
      "        on_finish_action=\"delete_pod\",\n"
      "        get_logs=True,\n"
      "    )\n";
  return out;
}

}  // namespace somlier::batch
