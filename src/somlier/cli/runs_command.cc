// `somlier runs list PROJECT_NAME`, `runs show RUN_ID`, `runs logs RUN_ID [--follow]` and
// `runs kill RUN_ID`: the runs `train` made, in-process or on SOMLIER_SERVER.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/cli/run_progress.h"
#include "somlier/cli/use_cases.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

struct RunsOptions {
  std::string project;
  std::string run_id;
  int max_results = 100;
  bool follow = false;
  std::string output = "text";
};

std::string Duration(const json& run) {
  if (!run.contains("start_time")) return "";
  const int64_t end = run.contains("end_time") ? run["end_time"].get<int64_t>() : NowMillis();
  return DurationText(end - run["start_time"].get<int64_t>());
}

std::string MetricsText(const json& metrics) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : metrics.items()) parts.push_back(key + "=" + MetricText(value));
  return Join(parts, " ");
}

Result<int> List(const Context& ctx, const RunsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(
      json answer,
      cases->Call("/runs/list", {{"project_name", o.project}, {"max_results", o.max_results}}));
  if (o.output == "json") {
    PrintJson(answer);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"RUN_ID", "NAME", "STATUS", "STARTED", "DURATION", "PARAMS", "METRICS"}};
  for (const json& run : answer["runs"]) {
    std::string started;
    if (run.contains("start_time")) {
      started = FormatLocalIsoMicros(run["start_time"].get<int64_t>() * 1000).substr(0, 19);
    }
    rows.push_back({run["run_id"], run["run_name"], run["status"], started, Duration(run),
                    ParamsText(run["params"]), MetricsText(run["metrics"])});
  }
  PrintTable(rows);
  return 0;
}

Result<int> Show(const Context& ctx, const RunsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(json run, cases->Call("/runs/show", {{"run_id", o.run_id}}));
  if (o.output == "json") {
    PrintJson(run);
    return 0;
  }
  auto field = [&](const char* label, const std::string& value) {
    if (!value.empty()) fmt::print("{:<16}{}\n", label, value);
  };
  field("run_id:", run["run_id"]);
  field("name:", run["run_name"]);
  field("experiment_id:", run["experiment_id"]);
  field("status:", run["status"]);
  field("message:", run.value("status_message", ""));
  if (run.contains("exit_code")) field("exit_code:", std::to_string(run["exit_code"].get<int>()));
  if (run.contains("start_time")) {
    field("started:", FormatLocalIsoMicros(run["start_time"].get<int64_t>() * 1000));
    field("duration:", Duration(run));
  }
  field("user:", run.value("user_id", ""));
  if (run.contains("source")) {
    const json& s = run["source"];
    field("repository:", s["git_uri"]);
    field("ref:",
          s["git_ref"].get<std::string>() + " (" + s["git_commit"].get<std::string>() + ")");
    field("project:", s["project_path"]);
    field("entrypoint:", s["entrypoint"]);
  }
  field("artifacts:", run["artifact_uri"]);
  for (const char* section : {"params", "metrics", "tags"}) {
    if (run[section].empty()) continue;
    fmt::print("{}:\n", section);
    for (const auto& [key, value] : run[section].items()) {
      fmt::print("  {}: {}\n", key,
                 std::string(section) == "metrics" ? MetricText(value) : value.get<std::string>());
    }
  }
  return 0;
}

Result<int> Logs(const Context& ctx, const RunsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  RunLogCursor cursor(*cases, o.run_id);
  while (true) {
    SOMLIER_ASSIGN_OR_RETURN(RunLogCursor::Piece piece, cursor.Next());
    std::fwrite(piece.text.data(), 1, piece.text.size(), stdout);
    std::fflush(stdout);
    if (piece.ended) break;  // everything is read
    if (!piece.progressed) {
      if (!o.follow) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  }
  return 0;
}

Result<int> Kill(const Context& ctx, const RunsOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(json run, cases->Call("/runs/kill", {{"run_id", o.run_id}}));
  if (o.output == "json") {
    PrintJson(run);
  } else {
    fmt::print("run {}: {}\n", run["run_id"].get<std::string>(), run["status"].get<std::string>());
  }
  return 0;
}

}  // namespace

void AddRunsCommands(CLI::App& app, Context& ctx) {
  CLI::App* runs = app.add_subcommand("runs", "The runs train made: list, show, logs, kill");
  runs->require_subcommand(1);
  auto o = std::make_shared<RunsOptions>();
  auto output = [&o](CLI::App* command) {
    command->add_option("--output", o->output, "Output format: text or json")
        ->check(CLI::IsMember({"text", "json"}));
  };

  CLI::App* list = runs->add_subcommand("list", "The runs of a project, newest first");
  list->add_option("project_name", o->project, "The project (experiment)")->required();
  list->add_option("--max_results", o->max_results, "At most this many runs")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  output(list);
  ctx.handlers.emplace_back(list, [&ctx, o] { return List(ctx, *o); });

  CLI::App* show = runs->add_subcommand("show", "A run: status, source, params, metrics, tags");
  show->add_option("run_id", o->run_id, "The run")->required();
  output(show);
  ctx.handlers.emplace_back(show, [&ctx, o] { return Show(ctx, *o); });

  CLI::App* logs = runs->add_subcommand("logs", "A run's output (stdout and stderr)");
  logs->add_option("run_id", o->run_id, "The run")->required();
  logs->add_flag("-f,--follow", o->follow, "Keep printing until the run ends");
  ctx.handlers.emplace_back(logs, [&ctx, o] { return Logs(ctx, *o); });

  CLI::App* kill = runs->add_subcommand(
      "kill", "Kill a scheduled or running run and everything its process started");
  kill->add_option("run_id", o->run_id, "The run")->required();
  output(kill);
  ctx.handlers.emplace_back(kill, [&ctx, o] { return Kill(ctx, *o); });
}

}  // namespace somlier::cli
