// YAML loading with bounds: the only way SoMLier turns YAML text (somlier.yaml, MLproject,
// python_env.yaml, $SOMLIER_HOME/config.yaml) into a YAML::Node.
//
// A YAML file is input from whoever wrote the project, possibly a hostile one, and the code
// that reads it walks the node tree recursively. yaml-cpp resolves an alias to the very
// node its anchor names, so `a: &x {b: *x}` loads as a cyclic graph (a walk recurses until
// the stack overflows), and anchors built from aliases of anchors ("billion laughs") make
// a small file stand for a tree of billions of nodes (a walk never ends). Before any node
// is built, these functions run yaml-cpp's event parser over the text and refuse a
// document that
//   - has an alias inside the node its anchor names (a cycle),
//   - is nested deeper than `max_depth` containers, counting aliases as expanded in place,
//   - has more than `max_nodes` nodes (scalars, nulls, sequences, mappings, map keys
//     included) once every alias is expanded in place.
// The check takes time linear in the text and stops at the first limit exceeded; the
// counts saturate instead of overflowing. The check also bounds yaml-cpp's own recursion:
// the event parser is abandoned as soon as it opens the (max_depth+1)-th container.
// A document that passes may be walked recursively by its callers without further guards:
// its expanded tree has at most `max_nodes` nodes and `max_depth` levels.
//
// Only the first document of a stream is read (as YAML::Load does).
//
// Ownership: the returned node owns its tree (yaml-cpp's shared memory), independent of
// `text`. Thread safety: pure functions; safe to call concurrently.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier {

struct YamlLimits {
  // Largest file LoadYamlFileBounded reads; a configuration file is a few kilobytes.
  std::size_t max_bytes = std::size_t{4} << 20;  // 4 MiB
  // Deepest nesting of sequences and mappings (the top-level mapping is level 1).
  std::size_t max_depth = 64;
  // Most nodes in the document with every alias expanded in place.
  std::size_t max_nodes = 100'000;
};

// Parses `text`; `file_name` is how error messages name it. An empty text (or only
// comments) gives a Null node.
// Errors: InvalidArgument naming `file_name` for a YAML syntax error
// ("<file>:<line>:<column>: YAML syntax error: <what>"), an alias cycle, or a document
// beyond `limits`.
Result<YAML::Node> LoadYamlBounded(std::string_view text, std::string_view file_name,
                                   const YamlLimits& limits = {});

// Reads `file` (at most limits.max_bytes) and parses it as LoadYamlBounded does, naming
// the file by `file.string()` in messages.
// Errors: InvalidArgument when the file cannot be read ("<file>: cannot read: <reason>"),
// is larger than limits.max_bytes, or its text is refused by LoadYamlBounded.
Result<YAML::Node> LoadYamlFileBounded(const std::filesystem::path& file,
                                       const YamlLimits& limits = {});

// A loaded document as JSON: mappings (keys as written) and sequences as themselves, each
// scalar as `scalar` reads it (readers differ: kubectl's YAML 1.1, a project's plain values);
// anything else null. Recursion is bounded by the loader's limits.
nlohmann::json YamlToJson(const YAML::Node& node,
                          const std::function<nlohmann::json(const YAML::Node&)>& scalar);

}  // namespace somlier
