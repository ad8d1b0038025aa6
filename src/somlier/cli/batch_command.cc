// `somlier batch create DOCKER_IMAGE SCHEDULE ENTRYPOINT DAG_ID [--dry_run] [--use_gpu]
// [--namespace NS] [--start_date YYYY-MM-DD] [--catchup] [--check_airflow [--unpause]
// [--airflow_timeout S]] [--output json]` (also `somlier offline create`, as the original
// spelled it), `somlier offline create_v2 MODEL_REF DAG_ID SCHEDULE_INTERVAL DATASET_REF
// DATASET_LOAD_COLUMN DESTINATION_TABLE_REF [GITHUB_PERSONAL_ACCESS_TOKEN|-] [--start_date]
// [--dataset_load_window 1] [--dataset_load_by_kst true] [--warehouse W] [--dry_run]
// [--check_airflow]`, `somlier offline list` and `somlier offline check DAG_ID [--unpause]
// [--airflow_timeout S]` — in-process or on SOMLIER_SERVER (batch/batch_service.h). The
// Airflow check polls POST /offline/check, saying what it waits for.
#include <fmt/core.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/cli/use_cases.h"
#include "somlier/core/strings.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

struct CheckOptions {
  bool unpause = false;
  int timeout_seconds = 360;  // Airflow picks up new files every ~5 minutes by default
  int poll_ms = 10000;
};

// Polls what Airflow knows of the DAG until it is active, saying what it waits for.
Result<json> WaitForAirflow(UseCases& cases, const std::string& dag_id, const CheckOptions& o,
                            const std::string& pull_request, bool quiet) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(o.timeout_seconds);
  std::string said;
  bool answered = false;
  auto say = [&](const std::string& what) {
    if (quiet || what == said) return;
    const auto waited =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
    fmt::print(stderr, "airflow: {} ({} s of {} s)\n", what, waited, o.timeout_seconds);
    std::fflush(stderr);
    said = what;
  };
  while (true) {
    auto called = cases.Call("/offline/check", {{"dag_id", dag_id}, {"unpause", o.unpause}});
    if (!called.ok() && (called.status().code() != StatusCode::kUnavailable || !answered)) {
      return called.status();  // refused, or never reachable: said at once
    }
    if (!called.ok()) {  // a moment's outage of an Airflow that answered: tried again
      say(called.status().message() + "; trying again");
      if (Clock::now() + std::chrono::milliseconds(o.poll_ms) > deadline) return called.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
      continue;
    }
    json look = std::move(*called);
    answered = true;
    if (look.contains("import_error")) {
      return FailedPrecondition(fmt::format("Airflow could not import dags/{}.py:\n{}", dag_id,
                                            look["import_error"].get<std::string>()));
    }
    if (look.value("known", false) && look.value("active", false)) {
      if (!quiet) {
        fmt::print(stderr, "airflow: DAG {} is active{}\n", dag_id,
                   look.value("unpaused", false) ? " and was unpaused"
                   : look.value("paused", false)
                       ? ", and paused: unpause it in Airflow or run `somlier offline check " +
                             dag_id + " --unpause`"
                       : " and unpaused");
      }
      return look;
    }
    if (look.value("known", false)) {
      say(fmt::format("Airflow knows DAG {} but it is not active yet", dag_id));
    } else if (!pull_request.empty()) {
      say(fmt::format("waiting for the merge of {}, then for Airflow to parse dags/{}.py",
                      pull_request, dag_id));
    } else {
      say(
          fmt::format("waiting for Airflow to parse dags/{}.py (new files are read every few "
                      "minutes)",
                      dag_id));
    }
    if (Clock::now() + std::chrono::milliseconds(o.poll_ms) > deadline) {
      return Unavailable(fmt::format(
          "Airflow did not show DAG {} as active within {} s (last: {}); check again later with "
          "`somlier offline check {}`",
          dag_id, o.timeout_seconds, said.empty() ? "not known" : said, dag_id));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }
}

void AddCheckOptions(CLI::App& command, CheckOptions& o) {
  command.add_flag("--unpause", o.unpause, "Unpause the DAG once Airflow knows it");
  command.add_option("--airflow_timeout", o.timeout_seconds, "How long to wait, in seconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  command.add_option("--airflow_poll_ms", o.poll_ms, "")
      ->group("")  // for tests: how often to look
      ->check(CLI::Range(10, 600000));
}

// What a created DAG's answer says, then (when asked) the wait for Airflow.
Result<int> Delivered(UseCases& cases, const json& answer, const std::string& dag_id, bool dry_run,
                      bool check_airflow, const CheckOptions& check, const std::string& output) {
  if (output == "json") {
    PrintJson(answer);
  } else if (dry_run) {
    fmt::print("{}", answer["dag"].get<std::string>());
    fmt::print(stderr, "dry run: dags/{}.py above; nothing was written\n", dag_id);
  } else if (answer.contains("pull_request_url")) {
    fmt::print("{} DAG {}: {} on the branch {} of {}; pull request {}\n",
               answer.value("resumed", false) ? "opened the pull request of" : "created", dag_id,
               answer["path"].get<std::string>(), answer["branch"].get<std::string>(),
               answer["repository"].get<std::string>(),
               answer["pull_request_url"].get<std::string>());
  } else {
    fmt::print("created DAG {}: {} on {} of {} (commit {})\n", dag_id,
               answer["path"].get<std::string>(), answer["branch"].get<std::string>(),
               answer["repository"].get<std::string>(),
               answer["commit"].get<std::string>().substr(0, 12));
  }
  if (check_airflow && !dry_run) {
    std::fflush(stdout);
    SOMLIER_RETURN_IF_ERROR(
        WaitForAirflow(cases, dag_id, check, answer.value("pull_request_url", ""), output == "json")
            .status());
  }
  return 0;
}

struct BatchOptions {
  std::string image;
  std::string schedule;
  std::string entrypoint;
  std::string dag_id;
  std::string ns;
  std::string start_date;
  bool catchup = false;
  bool use_gpu = false;
  bool dry_run = false;
  bool check_airflow = false;
  CheckOptions check;
  std::string output = "text";
};

Result<int> Create(const Context& ctx, const BatchOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  json request = {{"docker_image", o.image}, {"schedule", o.schedule}, {"entrypoint", o.entrypoint},
                  {"dag_id", o.dag_id},      {"catchup", o.catchup},   {"use_gpu", o.use_gpu},
                  {"dry_run", o.dry_run}};
  if (!o.ns.empty()) request["namespace"] = o.ns;
  if (!o.start_date.empty()) request["start_date"] = o.start_date;
  std::string user = Lookup(ctx.env, "USER");
  if (!user.empty()) request["user"] = user;
  // With a token, a pull request; it is read from the environment, never an argument.
  if (std::string token = Lookup(ctx.env, "SOMLIER_GITHUB_TOKEN"); !token.empty() && !o.dry_run) {
    request["github_personal_access_token"] = token;
  }
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/batch/create", request));
  return Delivered(*cases, answer, o.dag_id, o.dry_run, o.check_airflow, o.check, o.output);
}

struct CreateV2Options {
  std::string model_ref;
  std::string dag_id;
  std::string schedule;
  std::string dataset_ref;
  std::string load_column;
  std::string destination_ref;
  std::string token = "-";
  std::string start_date;
  int window = 1;
  bool by_kst = true;
  std::string warehouse;
  std::string ns;
  bool dry_run = false;
  bool check_airflow = false;
  CheckOptions check;
  std::string output = "text";
};

// The token: as given; `-` (or none given) is SOMLIER_GITHUB_TOKEN, else (for `-`) a line of
// standard input. Empty: no pull request, a push to the default branch.
Result<std::string> GitHubToken(const Context& ctx, const std::string& given, bool asked) {
  if (given != "-") return given;
  if (std::string token = Lookup(ctx.env, "SOMLIER_GITHUB_TOKEN"); !token.empty()) return token;
  if (!asked) return std::string();
  // Typed at a terminal, it is not shown.
  const bool terminal = isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal && tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fmt::print(stderr, "GitHub token: ");
    std::fflush(stderr);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fmt::print(stderr, "\n");
  }
  if (!got) {
    return InvalidArgument(
        "GITHUB_PERSONAL_ACCESS_TOKEN '-' reads the token from SOMLIER_GITHUB_TOKEN or standard "
        "input, and both are empty");
  }
  return std::string(Trim(line));
}

Result<int> CreateV2(const Context& ctx, const CreateV2Options& o, bool token_given) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  json request = {{"model_ref", o.model_ref},
                  {"dag_id", o.dag_id},
                  {"schedule_interval", o.schedule},
                  {"dataset_ref", o.dataset_ref},
                  {"dataset_load_column", o.load_column},
                  {"destination_table_ref", o.destination_ref},
                  {"dataset_load_window", o.window},
                  {"dataset_load_by_kst", o.by_kst},
                  {"dry_run", o.dry_run}};
  if (!o.start_date.empty()) request["start_date"] = o.start_date;
  if (!o.warehouse.empty()) request["warehouse"] = o.warehouse;
  if (!o.ns.empty()) request["namespace"] = o.ns;
  if (std::string user = Lookup(ctx.env, "USER"); !user.empty()) request["user"] = user;
  if (!o.dry_run) {
    SOMLIER_ASSIGN_OR_RETURN(std::string token, GitHubToken(ctx, o.token, token_given));
    if (!token.empty()) request["github_personal_access_token"] = token;
  }
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/offline/create_v2", request));
  return Delivered(*cases, answer, o.dag_id, o.dry_run, o.check_airflow, o.check, o.output);
}

Result<int> Check(const Context& ctx, const std::string& dag_id, const CheckOptions& o,
                  const std::string& output) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(json look, WaitForAirflow(*cases, dag_id, o, "", output == "json"));
  if (output == "json") PrintJson(look);
  return 0;
}

Result<int> List(const Context& ctx, const std::string& output) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  json request = json::object();
  // A private repository is cloned with the token, as `create` pushes with it.
  if (std::string token = Lookup(ctx.env, "SOMLIER_GITHUB_TOKEN"); !token.empty()) {
    request["github_personal_access_token"] = token;
  }
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/offline/list", request));
  if (output == "json") {
    PrintJson(answer);
    return 0;
  }
  const bool airflow = answer.value("airflow_configured", false);
  std::vector<std::vector<std::string>> rows = {{"DAG_ID", "PATH", "MADE_BY", "AIRFLOW"}};
  for (const json& dag : answer["dags"]) {
    std::string state = airflow ? "?" : "-";
    if (dag.contains("airflow")) {
      const json& a = dag["airflow"];
      state = a.contains("import_error") ? "import error"
              : !a.value("known", false) ? "not parsed yet"
              : a.value("paused", false) ? "paused"
              : a.value("active", false) ? "active"
                                         : "inactive";
    }
    rows.push_back({dag["dag_id"], dag["path"], dag.value("made_by", ""), state});
  }
  PrintTable(rows);
  if (answer.contains("airflow_error")) {
    fmt::print(stderr, "airflow: {}\n", answer["airflow_error"].get<std::string>());
  } else if (!airflow) {
    fmt::print(stderr, "airflow: not configured (SOMLIER_AIRFLOW_URL): states not shown\n");
  }
  return 0;
}

void AddCreate(CLI::App& group, Context& ctx) {
  auto o = std::make_shared<BatchOptions>();
  CLI::App* create = group.add_subcommand(
      "create", "An Airflow DAG that runs a docker image's ENTRYPOINT on a schedule (Kubernetes)");
  create->add_option("DOCKER_IMAGE", o->image, "The image, e.g. registry.example.com/team/job:1")
      ->required();
  create->add_option("SCHEDULE", o->schedule, "A cron expression ('0 9 * * *') or @daily-style")
      ->required();
  create
      ->add_option("ENTRYPOINT", o->entrypoint,
                   "The command, split as a shell would (nothing expanded): 'python job.py "
                   "--day yesterday'")
      ->required();
  create->add_option("DAG_ID", o->dag_id, "The DAG's id (letters, digits, '_', '.', '-')")
      ->required();
  create->add_option("--namespace", o->ns, "The pod's namespace (default: SOMLIER_K8S_NAMESPACE)");
  create->add_option("--start_date", o->start_date,
                     "YYYY-MM-DD (Asia/Seoul); default: the day before today");
  create->add_flag("--catchup", o->catchup, "Run the schedule's missed intervals since start_date");
  create->add_flag("--use_gpu", o->use_gpu, "A GPU for the pod (SOMLIER_K8S_GPU_*)");
  create->add_flag("--dry_run", o->dry_run, "Print the DAG and write nothing");
  create->add_flag("--check_airflow", o->check_airflow,
                   "Then wait until Airflow (SOMLIER_AIRFLOW_URL) has parsed it, failing with "
                   "its import error");
  AddCheckOptions(*create, o->check);
  create->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(create, [&ctx, o] { return Create(ctx, *o); });
}

void AddCreateV2(CLI::App& group, Context& ctx) {
  auto o = std::make_shared<CreateV2Options>();
  CLI::App* create = group.add_subcommand(
      "create_v2",
      "An Airflow DAG that predicts each day's rows of a warehouse table with a registered model "
      "(`somlier offline predict` in the runtime image), as a pull request to the DAGs repository");
  create->add_option("MODEL_REF", o->model_ref, "NAME/VERSION or NAME@ALIAS (must be registered)")
      ->required();
  create->add_option("DAG_ID", o->dag_id, "The DAG's id (letters, digits, '_', '.', '-')")
      ->required();
  create
      ->add_option("SCHEDULE_INTERVAL", o->schedule,
                   "A daily cron expression ('0 3 * * *', Asia/Seoul) or @daily")
      ->required();
  create->add_option("DATASET_REF", o->dataset_ref, "The input table: [project.]dataset.table")
      ->required();
  create->add_option("DATASET_LOAD_COLUMN", o->load_column, "The column holding each row's date")
      ->required();
  create->add_option("DESTINATION_TABLE_REF", o->destination_ref, "The predictions' table")
      ->required();
  auto* token = create->add_option(
      "GITHUB_PERSONAL_ACCESS_TOKEN", o->token,
      "A pull request with this token; '-' (the default) reads SOMLIER_GITHUB_TOKEN, else "
      "standard input. Prefer SOMLIER_GITHUB_TOKEN: an argument shows in the process list");
  create->add_option("--start_date", o->start_date,
                     "YYYY-MM-DD (Asia/Seoul); default: the day before today");
  create
      ->add_option("--dataset_load_window", o->window,
                   "Rows where the load column = the run's date - (window - 1) days")
      ->check(CLI::Range(1, 366));
  create->add_option("--dataset_load_by_kst", o->by_kst,
                     "true: the run's date in Asia/Seoul (its timestamp + 9 h); false: {{ ds }}");
  create->add_option("--warehouse", o->warehouse,
                     "Where the pod reads and writes: a URL without a password or a name the pod "
                     "is configured with (default: bigquery://<DATASET_REF's project>)");
  create->add_option("--namespace", o->ns, "The pod's namespace (default: SOMLIER_K8S_NAMESPACE)");
  create->add_flag("--dry_run", o->dry_run, "Print the DAG and write nothing");
  create->add_flag("--check_airflow", o->check_airflow,
                   "Then wait until Airflow (SOMLIER_AIRFLOW_URL) has parsed it");
  AddCheckOptions(*create, o->check);
  create->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(create,
                            [&ctx, o, token] { return CreateV2(ctx, *o, token->count() > 0); });
}

}  // namespace

void AddBatchCommands(CLI::App& app, Context& ctx) {
  CLI::App* batch = app.add_subcommand("batch", "Scheduled batch jobs as Airflow DAGs");
  batch->require_subcommand(1);
  AddCreate(*batch, ctx);
  CLI::App* offline = app.add_subcommand("offline", "Batch and offline serving as Airflow DAGs");
  offline->require_subcommand(1);
  AddCreate(*offline, ctx);
  AddCreateV2(*offline, ctx);
  AddOfflineCommands(*offline, ctx);
  auto output = std::make_shared<std::string>("text");
  CLI::App* list = offline->add_subcommand("list", "The DAGs SoMLier wrote (the DAGs repository)");
  list->add_option("--output", *output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(list, [&ctx, output] { return List(ctx, *output); });

  auto check = std::make_shared<CheckOptions>();
  auto check_dag = std::make_shared<std::string>();
  auto check_output = std::make_shared<std::string>("text");
  CLI::App* check_command = offline->add_subcommand(
      "check", "Wait until Airflow has parsed a DAG (after its pull request is merged)");
  check_command->add_option("DAG_ID", *check_dag, "The DAG")->required();
  AddCheckOptions(*check_command, *check);
  check_command->add_option("--output", *check_output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(check_command, [&ctx, check, check_dag, check_output] {
    return Check(ctx, *check_dag, *check, *check_output);
  });
}

}  // namespace somlier::cli
