// `somlier batch create DOCKER_IMAGE SCHEDULE ENTRYPOINT DAG_ID [--dry_run] [--use_gpu]
// [--namespace NS] [--start_date YYYY-MM-DD] [--catchup] [--output json]` (also `somlier
// offline create`, as the original spelled it) and `somlier offline list` — in-process or on
// SOMLIER_SERVER (batch/batch_service.h).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/cli/use_cases.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

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
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/batch/create", request));
  if (o.output == "json") {
    PrintJson(answer);
  } else if (o.dry_run) {
    fmt::print("{}", answer["dag"].get<std::string>());
    fmt::print(stderr, "dry run: dags/{}.py above; nothing was written\n", o.dag_id);
  } else {
    fmt::print("created DAG {}: {} on {} of {} (commit {})\n", o.dag_id,
               answer["path"].get<std::string>(), answer["branch"].get<std::string>(),
               answer["repository"].get<std::string>(),
               answer["commit"].get<std::string>().substr(0, 12));
  }
  return 0;
}

Result<int> List(const Context& ctx, const std::string& output) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  SOMLIER_ASSIGN_OR_RETURN(json answer, cases->Call("/offline/list", json::object()));
  if (output == "json") {
    PrintJson(answer);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"DAG_ID", "PATH"}};
  for (const json& dag : answer["dags"]) rows.push_back({dag["dag_id"], dag["path"]});
  PrintTable(rows);
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
  create->add_option("--output", o->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(create, [&ctx, o] { return Create(ctx, *o); });
}

}  // namespace

void AddBatchCommands(CLI::App& app, Context& ctx) {
  CLI::App* batch = app.add_subcommand("batch", "Scheduled batch jobs as Airflow DAGs");
  batch->require_subcommand(1);
  AddCreate(*batch, ctx);
  CLI::App* offline = app.add_subcommand("offline", "Batch and offline serving as Airflow DAGs");
  offline->require_subcommand(1);
  AddCreate(*offline, ctx);
  auto output = std::make_shared<std::string>("text");
  CLI::App* list = offline->add_subcommand("list", "The DAGs SoMLier wrote (the DAGs repository)");
  list->add_option("--output", *output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(list, [&ctx, output] { return List(ctx, *output); });
}

}  // namespace somlier::cli
