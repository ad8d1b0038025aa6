// Fuzz target: project files — LoadYamlBounded (core/yaml_load.h), Interpolate
// (projects/interpolation.h) and SplitCommandLine on the raw text, and LoadProjectSpec /
// LoadMlproject (projects/project_spec.h) on the text written to a file in a scratch
// directory (project.yaml, rewritten for every input; a python_env or other relative path
// in the input resolves there).
//
// Invariants:
//   - a document LoadYamlBounded accepted can be walked recursively within its limits: at
//     most max_nodes nodes (aliases expanded) and max_depth nested containers; checked with
//     the default limits and with tight ones;
//   - Interpolate leaves text without "${" unchanged;
//   - a loaded spec serialises (ProjectSpec::ToJson, nlohmann's strict dump), and every
//     entry point builds an argv.
#include "fuzz/fuzz_util.h"
#include "somlier/core/settings.h"
#include "somlier/core/yaml_load.h"
#include "somlier/projects/interpolation.h"
#include "somlier/projects/project_spec.h"

namespace {

const somlier::Environment& FixedEnvironment() {
  static const somlier::Environment env = {
      {"A", "a"},
      {"B", ""},
      {"HOME", "/home/fuzz"},
      {"USER", "fuzz"},
      {"BUCKET", "bucket"},
      {"DOLLAR", "${A}"},
      {"BRACES", "}{"},
      {"ALPHA", "0.5"},
      {"UTF8", "caf\xc3\xa9"},
  };
  return env;
}

// Counts the nodes of the tree below `node` with aliases expanded, as yaml_load.h counts
// them; fails the check (instead of recursing on) once a limit is passed.
struct Walk {
  const somlier::YamlLimits& limits;
  size_t nodes = 0;

  // `level`: the containers around `node`.
  void Visit(const YAML::Node& node, size_t level) {
    ++nodes;
    FUZZ_CHECK(nodes <= limits.max_nodes,
               "an accepted document has more than " + std::to_string(limits.max_nodes) + " nodes");
    if (!node.IsMap() && !node.IsSequence()) return;
    FUZZ_CHECK(level + 1 <= limits.max_depth,
               "an accepted document nests deeper than " + std::to_string(limits.max_depth));
    for (const auto& item : node) {
      if (node.IsMap()) {
        Visit(item.first, level + 1);
        Visit(item.second, level + 1);
      } else {
        Visit(item, level + 1);
      }
    }
  }
};

void LoadYaml(std::string_view text, const somlier::YamlLimits& limits) {
  auto node = somlier::LoadYamlBounded(text, "fuzz.yaml", limits);
  if (node.ok()) Walk{limits}.Visit(*node, 0);
}

void CheckSpec(const somlier::Result<somlier::ProjectSpec>& spec) {
  if (!spec.ok()) return;
  somlier::fuzz::ExpectNoThrow("ProjectSpec::ToJson", [&] { (void)spec->ToJson(); });
  (void)spec->IsTestEnv();
  (void)spec->FindEntrypoint("main");
  for (const somlier::EntrypointSpec& ep : spec->entrypoints) {
    (void)somlier::BuildEntrypointArgv(ep, {});
    (void)somlier::BuildEntrypointArgv(ep, {{"alpha", "0.5"}, {"x", "{alpha} $HOME"}});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = somlier::fuzz::AsText(data, size);

  LoadYaml(text, somlier::YamlLimits{});
  somlier::YamlLimits tight;
  tight.max_depth = 6;
  tight.max_nodes = 300;
  LoadYaml(text, tight);

  auto interpolated = somlier::Interpolate(text, FixedEnvironment());
  if (text.find("${") == std::string_view::npos) {
    FUZZ_CHECK(interpolated.ok() && *interpolated == text,
               "text without references was changed or refused");
  }
  (void)somlier::SplitCommandLine(text);

  const std::filesystem::path file = somlier::fuzz::ScratchDir::Write("project.yaml", text);
  CheckSpec(somlier::LoadProjectSpec(file, FixedEnvironment()));
  CheckSpec(somlier::LoadMlproject(file, FixedEnvironment()));
  return 0;
}
