#include "somlier/kubernetes/kubectl.h"

#include <fmt/core.h>

#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/execution/run_command.h"

namespace somlier::kubernetes {

Result<std::string> Kubectl::Run(std::string_view doing, const std::vector<std::string>& args,
                                 std::optional<std::string> input) const {
  std::vector<std::string> argv = {settings_.kubectl};
  if (!settings_.context.empty()) argv.push_back("--context=" + settings_.context);
  argv.push_back("--namespace=" + settings_.ns);
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions options;
  options.timeout = std::chrono::seconds(120);
  options.input = std::move(input);
  Environment env = ProcessEnvironment();
  env.erase("SOMLIER_TOKEN");
  env.erase("MLFLOW_TRACKING_TOKEN");
  EraseIntegrationSecrets(env);
  options.env = std::move(env);
  auto ran = RunCommand(argv, options);
  if (!ran.ok()) {
    if (ran.status().code() == StatusCode::kNotFound) {
      return NotFound(
          fmt::format("{}: kubectl '{}' cannot be run ({}); install kubectl or set SOMLIER_KUBECTL",
                      doing, settings_.kubectl, ran.status().message()));
    }
    return Unavailable(fmt::format("{}: {}", doing, ran.status().message()));
  }
  if (ran->exit_code == 0) return std::move(ran->stdout_text);
  std::string message(Trim(ran->stderr_text));
  if (message.empty()) message = "(kubectl printed no error)";
  const std::string text =
      fmt::format("{}: kubectl failed (exit {}): {}", doing, ran->exit_code, message);
  if (message.find("(AlreadyExists)") != std::string::npos) return AlreadyExists(text);
  if (message.find("(NotFound)") != std::string::npos) return NotFound(text);
  if (message.find("is invalid") != std::string::npos ||
      message.find("(BadRequest)") != std::string::npos) {
    return InvalidArgument(text);
  }
  return Unavailable(text);
}

Result<nlohmann::json> Kubectl::Create(std::string_view doing,
                                       const nlohmann::json& manifest) const {
  SOMLIER_ASSIGN_OR_RETURN(std::string out,
                           Run(doing, {"create", "-f", "-", "-o", "json"}, manifest.dump()));
  nlohmann::json created = ParseJsonOrNull(out);
  if (!created.is_object()) {
    return Unavailable(
        fmt::format("{}: kubectl answered something that is not a JSON object", doing));
  }
  return created;
}

Status Kubectl::CreateQuietly(std::string_view doing, const nlohmann::json& manifest) const {
  return Run(doing, {"create", "-f", "-", "-o", "name"}, manifest.dump()).status();
}

}  // namespace somlier::kubernetes
