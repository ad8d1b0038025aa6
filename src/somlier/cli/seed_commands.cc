// `somlier search PROJECT_NAME STANDARD_METRIC ORDER_BY [--top N]`, `somlier register RUN_ID
// MODEL_NAME` and `somlier register_v2 MODEL_TYPE URI MODEL_NAME [...]` (also under
// `somlier online`): the seed's use cases, run in-process on the embedded store, or against
// SOMLIER_SERVER.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "somlier/cli/cli.h"
#include "somlier/cli/output.h"
#include "somlier/cli/use_cases.h"
#include "somlier/core/strings.h"

namespace somlier::cli {
namespace {

using nlohmann::json;

// Runs a seed use case on the server named by SOMLIER_SERVER, or in-process.
Result<json> CallSeed(const Context& ctx, const std::string& path, const json& request) {
  SOMLIER_ASSIGN_OR_RETURN(auto cases, UseCases::Open(ctx));
  return cases->Call(path, request);
}

struct SearchOptions {
  std::string project;
  std::string metric;
  std::string order;
  int top = 0;
  std::string output = "text";
};

void PrintTopTable(const json& answer, const std::string& metric) {
  std::vector<std::vector<std::string>> rows = {
      {"RANK", "RUN_ID", "NAME", "STATUS", metric, "PARAMS"}};
  int rank = 1;
  for (const json& run : answer["runs"]) {
    rows.push_back({std::to_string(rank++), run["run_id"], run["run_name"], run["status"],
                    run["metric_value"], ParamsText(run["params"])});
  }
  PrintTable(rows);
}

Result<int> Search(const Context& ctx, const SearchOptions& o) {
  json request = {
      {"project_name", o.project}, {"standard_metric", o.metric}, {"order_by", o.order}};
  if (o.top > 0) request["top"] = o.top;
  SOMLIER_ASSIGN_OR_RETURN(json answer, CallSeed(ctx, "/search", request));
  if (o.output == "json") {
    PrintJson(answer);
  } else if (o.top > 0) {
    PrintTopTable(answer, o.metric);
  } else {
    fmt::print("run_id: {}\nmetric_value: {}\n", answer["run_id"].get<std::string>(),
               answer["metric_value"].get<std::string>());
  }
  return 0;
}

struct RegisterOptions {
  std::string run_id;
  std::string model_name;
  std::string output = "text";
};

void PrintRegistered(const json& answer, const std::string& output) {
  if (output == "json") {
    PrintJson(answer);
  } else {
    fmt::print("model_version: {}\nis_newer_version: {}\nmessage: {}\n",
               answer["model_version"].get<std::string>(),
               answer["is_newer_version"].get<bool>() ? "true" : "false",
               answer["message"].get<std::string>());
  }
}

Result<int> Register(const Context& ctx, const RegisterOptions& o) {
  SOMLIER_ASSIGN_OR_RETURN(
      json answer,
      CallSeed(ctx, "/register", {{"run_id", o.run_id}, {"model_name", o.model_name}}));
  PrintRegistered(answer, o.output);
  return 0;
}

struct RegisterV2Options {
  std::string model_type;
  std::string uri;
  std::string model_name;
  std::string github_uri;
  std::string project_name;
  std::string project_ref;
  std::string model_module_path;
  std::string model_class_name;
  std::string output = "text";
};

Result<int> RegisterV2(const Context& ctx, const RegisterV2Options& o) {
  json request = {{"model_type", o.model_type}, {"uri", o.uri}, {"model_name", o.model_name}};
  const std::pair<const char*, const std::string*> kOptional[] = {
      {"github_uri", &o.github_uri},
      {"project_name", &o.project_name},
      {"project_ref", &o.project_ref},
      {"model_module_path", &o.model_module_path},
      {"model_class_name", &o.model_class_name}};
  for (const auto& [name, value] : kOptional) {
    if (!value->empty()) request[name] = *value;
  }
  if (o.output != "json") {
    fmt::print(stderr, "fetching and validating {} ...\n", o.uri);
    std::fflush(stderr);
  }
  SOMLIER_ASSIGN_OR_RETURN(json answer, CallSeed(ctx, "/register_v2", request));
  PrintRegistered(answer, o.output);
  return 0;
}

}  // namespace

void AddSeedCommands(CLI::App& parent, Context& ctx) {
  auto search_options = std::make_shared<SearchOptions>();
  CLI::App* search =
      parent.add_subcommand("search", "Find the best run of a project (an experiment) by a metric");
  search
      ->add_option("project_name", search_options->project,
                   "The project, i.e. the experiment train created (e.g. example-projects/sklearn)")
      ->required();
  search
      ->add_option("standard_metric", search_options->metric,
                   "The metric to rank runs by (e.g. training_mae)")
      ->required();
  search
      ->add_option("order_by", search_options->order, "ASC (lowest first) or DESC (highest first)")
      ->required();
  search->add_option("--top", search_options->top, "Show the N best runs with their params")
      ->check(CLI::PositiveNumber);
  search->add_option("--output", search_options->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(search,
                            [&ctx, search_options] { return Search(ctx, *search_options); });

  auto register_options = std::make_shared<RegisterOptions>();
  CLI::App* reg = parent.add_subcommand(
      "register", "Register the model a run logged (artifact path model/) in the model registry");
  reg->add_option("run_id", register_options->run_id, "The run (see `somlier search`)")->required();
  reg->add_option("model_name", register_options->model_name,
                  "The registered model to add a version to (created when missing)")
      ->required();
  reg->add_option("--output", register_options->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(reg,
                            [&ctx, register_options] { return Register(ctx, *register_options); });

  auto v2 = std::make_shared<RegisterV2Options>();
  CLI::App* reg2 = parent.add_subcommand(
      "register_v2",
      "Register a model file trained outside SoMLier (scikit-learn, or PyTorch weights with "
      "their class from a git project)");
  reg2->add_option("MODEL_TYPE", v2->model_type, "sklearn (scikit-learn) or pytorch (torch)")
      ->required();
  reg2->add_option("URI", v2->uri,
                   "The model file: a local path, file://, http(s)://, gs://BUCKET/OBJECT or "
                   "s3://BUCKET/KEY")
      ->required();
  reg2->add_option("MODEL_NAME", v2->model_name, "The registered model to add a version to")
      ->required();
  reg2->add_option("GITHUB_URI,--github_uri", v2->github_uri,
                   "(pytorch) The git repository with the model's class");
  reg2->add_option("PROJECT_NAME,--project_name", v2->project_name,
                   "(pytorch) The project directory in that repository");
  reg2->add_option("PROJECT_REF,--project_ref", v2->project_ref,
                   "(pytorch) The branch, tag or commit");
  reg2->add_option("MODEL_MODULE_PATH,--model_module_path", v2->model_module_path,
                   "(pytorch) The module file defining the class, inside the project");
  reg2->add_option("MODEL_CLASS_NAME,--model_class_name", v2->model_class_name,
                   "(pytorch) The class (created without arguments, then load_state_dict)");
  reg2->add_option("--output", v2->output, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  ctx.handlers.emplace_back(reg2, [&ctx, v2] { return RegisterV2(ctx, *v2); });
}

}  // namespace somlier::cli
