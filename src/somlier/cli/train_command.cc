// `somlier online train PROJECT_NAME PROJECT_REF [--github_uri URI] [--NAME SPEC ...]` (also
// `somlier train`): the seed's train, in-process or on the server named by SOMLIER_SERVER.
//
// In-process, this command is the runs' executor: it serves the tracking API on a loopback
// port (with a fresh token) for them to log to, shows their output and progress, and on
// Ctrl-C kills them (KILLED) before it exits. Against a server, the server executes the
// runs; with --wait the command follows them by polling, and Ctrl-C kills them there too.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "somlier/api/api_server.h"
#include "somlier/api/train_api.h"
#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/cli/run_progress.h"
#include "somlier/cli/stop_signals.h"
#include "somlier/cli/use_cases.h"
#include "somlier/core/ids.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"

namespace somlier::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using std::chrono::milliseconds;

struct TrainOptions {
  std::string project;
  std::string ref;
  std::string github_uri;
  std::string entrypoint = "main";
  int max_parallel = 0;
  std::string env_manager;
  int timeout = 0;
  bool wait = false;
  bool no_wait = false;
  bool use_k8s_job = false;
  const CLI::Option* use_k8s_job_option = nullptr;  // unset when not given: the server decides
  bool use_gpu = false;
  bool dry_run = false;
  bool quiet = false;
  std::vector<std::string> param_options;  // -P NAME=SPEC
  std::string output = "text";
};

// The grid's parameters from the arguments CLI11 did not know: --NAME SPEC or --NAME=SPEC,
// in the order given, then the -P NAME=SPEC ones.
Result<std::vector<std::pair<std::string, std::string>>> ParseParams(
    const std::vector<std::string>& extras, const std::vector<std::string>& param_options) {
  std::vector<std::pair<std::string, std::string>> params;
  for (size_t i = 0; i < extras.size(); ++i) {
    const std::string& arg = extras[i];
    if (!arg.starts_with("--") || arg.size() == 2) {
      return InvalidArgument(fmt::format(
          "unexpected argument '{}': give parameters as --NAME SPEC (e.g. --batch_size 64,128), "
          "and true/false options as --use_gpu=true",
          arg));
    }
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      params.emplace_back(arg.substr(2, eq - 2), arg.substr(eq + 1));
      continue;
    }
    if (i + 1 >= extras.size()) {
      return InvalidArgument(fmt::format(
          "parameter '{}' has no value: give it as {} SPEC (a value, a list a,b,c or a range "
          "start..end..increment)",
          arg.substr(2), arg));
    }
    params.emplace_back(arg.substr(2), extras[++i]);
  }
  for (const std::string& option : param_options) {
    const auto eq = option.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(
          fmt::format("-P '{}' must be NAME=SPEC (e.g. -P batch_size=64,128)", option));
    }
    params.emplace_back(option.substr(0, eq), option.substr(eq + 1));
  }
  // A JSON object cannot carry a name twice: say so here, as the service would.
  std::set<std::string> seen;
  for (const auto& [name, spec] : params) {
    if (!seen.insert(name).second) {
      return InvalidArgument(fmt::format("parameter '{}' is given twice", name));
    }
  }
  return params;
}

// The POST /train body; params keep their order.
std::string TrainBody(const TrainOptions& o,
                      const std::vector<std::pair<std::string, std::string>>& params,
                      const std::string& user) {
  ordered_json body = {{"project_name", o.project}, {"project_ref", o.ref}};
  if (!o.github_uri.empty()) body["github_uri"] = o.github_uri;
  body["entrypoint"] = o.entrypoint;
  ordered_json grid = ordered_json::object();
  for (const auto& [name, spec] : params) grid[name] = spec;
  body["params"] = std::move(grid);
  if (!o.env_manager.empty()) body["env_manager"] = o.env_manager;
  if (o.max_parallel) body["max_parallel"] = o.max_parallel;
  if (o.timeout) body["timeout"] = o.timeout;
  if (o.use_k8s_job_option && o.use_k8s_job_option->count() > 0) {
    body["use_k8s_job"] = o.use_k8s_job;
  }
  body["use_gpu"] = o.use_gpu;
  if (o.dry_run) body["dry_run"] = true;
  if (!user.empty()) body["user"] = user;
  return body.dump();
}

bool IsEnded(const std::string& status) {
  const auto parsed = ParseRunStatus(status);
  return parsed && IsTerminal(*parsed);
}

// The runs as a table: id, name, status, one column per parameter, then per metric.
void PrintRunsTable(const json& runs) {
  std::vector<std::string> param_keys;
  std::set<std::string> metric_keys;
  for (const json& run : runs) {
    for (const auto& [key, value] : run["params"].items()) {
      if (std::find(param_keys.begin(), param_keys.end(), key) == param_keys.end()) {
        param_keys.push_back(key);
      }
    }
    for (const auto& [key, value] : run["metrics"].items()) metric_keys.insert(key);
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"RUN_ID", "NAME", "STATUS"};
  header.insert(header.end(), param_keys.begin(), param_keys.end());
  header.insert(header.end(), metric_keys.begin(), metric_keys.end());
  rows.push_back(header);
  for (const json& run : runs) {
    std::vector<std::string> row = {run["run_id"], run["run_name"], run["status"]};
    for (const std::string& key : param_keys) {
      row.push_back(run["params"].contains(key) ? run["params"][key].get<std::string>() : "");
    }
    for (const std::string& key : metric_keys) {
      row.push_back(run["metrics"].contains(key) ? MetricText(run["metrics"][key]) : "");
    }
    rows.push_back(std::move(row));
  }
  PrintTable(rows);
}

// A word as a POSIX shell would need it to be typed.
std::string ShellQuote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-.,/:=@+%") == std::string::npos) {
    return word;
  }
  return "'" + ReplaceAll(word, "'", "'\\''") + "'";
}

// Prints what a dry run would execute: Kubernetes manifests as YAML documents, commands as
// lines.
int ReportDryRun(const TrainOptions& o, const json& answer) {
  if (o.output == "json") {
    PrintJson(answer);
    return 0;
  }
  const bool manifests = answer.value("executor", "") != "local";
  for (const json& run : answer["runs"]) {
    if (manifests) {
      fmt::print("---\n{}", ToYaml(run));
    } else {
      std::vector<std::string> words;
      for (const json& word : run["command"]) words.push_back(ShellQuote(word.get<std::string>()));
      fmt::print("{}\n", Join(words, " "));
    }
  }
  fmt::print(stderr, "dry run: {} run(s) on {} at commit {}; nothing was created\n",
             answer["runs"].size(), answer.value("executor", ""),
             answer.value("commit", "").substr(0, 12));
  return 0;
}

// Prints the result of a train and returns the command's exit code.
int Report(const TrainOptions& o, const json& answer, bool waited, bool interrupted) {
  const json& runs = answer["runs"];
  if (o.output == "json") {
    PrintJson(answer);
  } else {
    PrintRunsTable(runs);
    fmt::print("{} runs submitted\n", runs.size());
  }
  if (interrupted) return 130;
  if (!waited) return 0;
  for (const json& run : runs) {
    if (run["status"] != "FINISHED") return 1;
  }
  return 0;
}

std::string CurrentUser(const Environment& env) {
  std::string user = Lookup(env, "USER");
  return user.empty() ? Lookup(env, "LOGNAME") : user;
}

// Kills the job's runs and waits for them when the command leaves early (an error, an
// exception), so none outlives the command or the objects its callbacks use.
class StopJobOnExit {
 public:
  explicit StopJobOnExit(TrainJob& job) : job_(job) {}
  ~StopJobOnExit() {
    job_.KillAll("the train command stopped");
    job_.Wait();
  }

 private:
  TrainJob& job_;
};

Result<int> TrainInProcess(const Context& ctx, const TrainOptions& o, const std::string& body) {
  if (o.no_wait) {
    return FailedPrecondition(
        "--no-wait needs a server to execute the runs after this command returns: start "
        "`somlier server` and set SOMLIER_SERVER (in-process, train runs its grid and waits)");
  }
  StopSignals stop;  // before any thread starts
  SOMLIER_ASSIGN_OR_RETURN(api::Fields fields,
                           api::Fields::FromJsonBody(body, api::FieldDialect::kSomlier));
  SOMLIER_ASSIGN_OR_RETURN(TrainRequest request, api::TrainRequestFromFields(fields));
  TrainProgress progress(o.quiet || o.output == "json");
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  LocalServices& services = *cases->local();
  if (request.dry_run) {
    SOMLIER_ASSIGN_OR_RETURN(TrainService::Preview preview, services.train->DryRun(request));
    return ReportDryRun(o, api::DryRunAnswer(preview));
  }

  // The tracking API the runs log to, on a loopback port, with a token of its own (the
  // user's token is not handed to project code).
  ApiServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = 0;
  server_options.token = NewSecretToken();
  SOMLIER_ASSIGN_OR_RETURN(auto server, ApiServer::Create({.tracking = services.tracking.get(),
                                                           .registry = services.registry.get(),
                                                           .train = services.train.get()},
                                                          server_options));
  SOMLIER_RETURN_IF_ERROR(server->Start());
  services.train->SetTrackingServer(server->url(), server_options.token);

  TrainEvents events;
  events.on_note = [&](std::string_view note) { progress.Note(note); };
  events.on_status = [&](const TrainRun& run, RunStatus status, const std::string& message) {
    progress.Status(run.run_id, std::string(ToString(status)), message);
  };
  events.on_line = [&](const TrainRun& run, OutputStream, std::string_view line) {
    progress.Line(run.run_id, line);
  };
  events.cancelled = [&] { return stop.received() != 0; };
  auto submitted_job = services.train->Submit(request, std::move(events));
  if (!submitted_job.ok()) {
    if (stop.received() != 0) {
      progress.Note(fmt::format("{}: stopped", StopSignals::Name(stop.received())));
      return 130;
    }
    return submitted_job.status();
  }
  std::shared_ptr<TrainJob> job = std::move(*submitted_job);
  StopJobOnExit stop_job(*job);
  SOMLIER_ASSIGN_OR_RETURN(json submitted, api::TrainAnswer(*services.tracking, *job));
  progress.SetRuns(submitted["runs"]);
  for (const std::string& warning : job->warnings()) progress.Note("warning: " + warning);
  progress.Note(fmt::format("training {} at {} (commit {}): {} runs in experiment {}", o.project,
                            o.ref, job->commit().substr(0, 12), job->runs().size(),
                            job->experiment_id()));

  bool interrupted = false;
  while (!job->Done()) {
    if (stop.received() != 0 && !interrupted) {
      interrupted = true;
      const char* name = StopSignals::Name(stop.received());
      progress.Note(
          fmt::format("{}: killing the runs (their processes and all they started)", name));
      job->KillAll(fmt::format("interrupted ({})", name));
    }
    stop.WaitFor(milliseconds(200));
    progress.Tick();
  }
  progress.Finish();
  SOMLIER_ASSIGN_OR_RETURN(json answer, api::TrainAnswer(*services.tracking, *job));
  server->Stop();
  return Report(o, answer, /*waited=*/true, interrupted);
}

// Follows the runs on the server until they end, printing their output.
Result<json> FollowRemote(UseCases& cases, const json& submitted, TrainProgress& progress,
                          StopSignals& stop, bool* interrupted) {
  std::vector<RunLogCursor> pending;
  for (const json& run : submitted["runs"]) pending.emplace_back(cases, run["run_id"]);
  while (!pending.empty()) {
    if (int signal = stop.WaitFor(milliseconds(500)); signal != 0 && !*interrupted) {
      *interrupted = true;
      progress.Note(fmt::format("{}: killing the runs on the server", StopSignals::Name(signal)));
      for (const RunLogCursor& cursor : pending) {
        auto killed = cases.Call("/runs/kill", {{"run_id", cursor.run_id()}, {"wait", false}});
        if (!killed.ok() && killed.status().code() != StatusCode::kFailedPrecondition) {
          progress.Note("kill " + cursor.run_id() + ": " + killed.status().message());
        }
      }
    }
    std::vector<RunLogCursor> still;
    for (RunLogCursor& cursor : pending) {
      const std::string& run_id = cursor.run_id();
      SOMLIER_ASSIGN_OR_RETURN(RunLogCursor::Piece piece, cursor.Next());
      for (const std::string& line : Split(piece.text, '\n')) {
        if (!line.empty()) progress.Line(run_id, line);
      }
      if (piece.status != progress.StatusOf(run_id)) {
        std::string message;
        if (IsEnded(piece.status)) {
          auto shown = cases.Call("/runs/show", {{"run_id", run_id}});
          if (shown.ok()) message = shown->value("status_message", "");
        }
        progress.Status(run_id, piece.status, message);
      }
      if (!piece.ended) still.push_back(std::move(cursor));
    }
    pending.swap(still);
    progress.Tick();
  }
  progress.Finish();
  json runs = json::array();
  for (const json& run : submitted["runs"]) {
    SOMLIER_ASSIGN_OR_RETURN(json shown, cases.Call("/runs/show", {{"run_id", run["run_id"]}}));
    runs.push_back(std::move(shown));
  }
  json answer = submitted;
  answer["runs"] = std::move(runs);
  answer["status"] = answer["runs"].empty() ? json("") : answer["runs"][0]["status"];
  return answer;
}

Result<int> TrainRemote(const Context& ctx, const TrainOptions& o, const std::string& body) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  if (o.dry_run) {
    SOMLIER_ASSIGN_OR_RETURN(json preview, cases->client()->PostText("/train", body));
    return ReportDryRun(o, preview);
  }
  if (!o.wait) {
    SOMLIER_ASSIGN_OR_RETURN(json submitted, cases->client()->PostText("/train", body));
    return Report(o, submitted, /*waited=*/false, /*interrupted=*/false);
  }
  StopSignals stop;
  SOMLIER_ASSIGN_OR_RETURN(json submitted, cases->client()->PostText("/train", body));
  TrainProgress progress(o.quiet || o.output == "json");
  progress.SetRuns(submitted["runs"]);
  for (const json& warning : submitted.value("warnings", json::array())) {
    progress.Note("warning: " + warning.get<std::string>());
  }
  progress.Note(fmt::format("training {} at {} (commit {}) on {} ({} executor): {} runs", o.project,
                            o.ref, submitted.value("commit", "").substr(0, 12), ctx.settings.server,
                            submitted.value("executor", "local"), submitted["runs"].size()));
  bool interrupted = false;
  SOMLIER_ASSIGN_OR_RETURN(json answer,
                           FollowRemote(*cases, submitted, progress, stop, &interrupted));
  return Report(o, answer, /*waited=*/true, interrupted);
}

Result<int> Train(const Context& ctx, const TrainOptions& o,
                  const std::vector<std::string>& extras) {
  if (o.wait && o.no_wait) return InvalidArgument("give --wait or --no-wait, not both");
  SOMLIER_ASSIGN_OR_RETURN(auto params, ParseParams(extras, o.param_options));
  const std::string body = TrainBody(o, params, CurrentUser(ctx.env));
  if (ctx.settings.server.empty()) return TrainInProcess(ctx, o, body);
  return TrainRemote(ctx, o, body);
}

}  // namespace

void AddTrainCommands(CLI::App& parent, Context& ctx) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* train = parent.add_subcommand(
      "train", "Train a project from git once per combination of a parameter grid, in parallel");
  train->allow_extras();
  train->footer(
      "Parameters: --NAME SPEC (or -P NAME=SPEC), where SPEC is\n"
      "  start..end..increment  a range, end excluded (0.001..0.005..0.001: 4 values)\n"
      "  a,b,c                  a list\n"
      "  value                  one value\n"
      "Every combination (the cartesian product, in the order given) is one run, logged in the\n"
      "experiment PROJECT_NAME. Example:\n"
      "  somlier online train example-projects/torch main --github_uri git@github.com:org/ml.git "
      "\\\n"
      "      --learning_rate 0.001..0.005..0.001 --batch_size 64,128 --num_epochs 3");
  train
      ->add_option("project_name", o->project,
                   "The project's directory in the repository (e.g. example-projects/sklearn); "
                   "also the experiment's name")
      ->required();
  train->add_option("project_ref", o->ref, "A branch, tag or commit of the repository")->required();
  train->add_option("--github_uri", o->github_uri,
                    "The repository: any URL git understands (default: "
                    "$SOMLIER_DEFAULT_PROJECT_URI)");
  train->add_option("--entrypoint", o->entrypoint, "The entrypoint to run")->capture_default_str();
  train->add_option("-P,--param", o->param_options, "A parameter as NAME=SPEC (repeatable)");
  train
      ->add_option("--max_parallel", o->max_parallel, "Runs at once (default: the number of cores)")
      ->check(CLI::Range(1, 256));
  train
      ->add_option("--env_manager", o->env_manager,
                   "local (the interpreter as is) or virtualenv (default when the project has "
                   "a requirements file)")
      ->check(CLI::IsMember({"local", "virtualenv"}));
  train->add_option("--timeout", o->timeout, "Kill a run after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  train->add_flag("--wait", o->wait,
                  "Follow the runs until they end (the default in-process; with SOMLIER_SERVER "
                  "the default is to return once they are submitted)");
  train->add_flag("--no-wait", o->no_wait,
                  "Return once the runs are submitted (needs SOMLIER_SERVER)");
  o->use_k8s_job_option =
      train->add_flag("--use_k8s_job", o->use_k8s_job,
                      "Run as Kubernetes Jobs (--use_k8s_job=true) or here (=false); default: "
                      "Kubernetes when the server is configured for it (SOMLIER_K8S_*)");
  train->add_flag("--use_gpu", o->use_gpu, "Ask for a GPU per run (--use_gpu=true)");
  train->add_flag("--dry_run", o->dry_run,
                  "Print what would run (Kubernetes manifests as YAML; with --output json, "
                  "JSON) and create nothing");
  train->add_flag("-q,--quiet", o->quiet, "Do not print the runs' output (it is in their logs)");
  train->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(train, [&ctx, o, train] { return Train(ctx, *o, train->remaining()); });
}

}  // namespace somlier::cli
