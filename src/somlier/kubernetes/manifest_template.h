// Manifest templates: a user's YAML Job or Deployment (SOMLIER_K8S_JOB_TEMPLATE,
// SOMLIER_K8S_DEPLOYMENT_TEMPLATE) that SoMLier's own manifest is merged over — so a cluster's
// conventions (extra labels, a service account, affinity, sidecars, image pull secrets) carry
// over while what SoMLier sets wins.
//
// Merging: mappings merge key by key; lists of mappings that have a "name" (containers, env,
// volumes, volumeMounts) merge item by item by name, items only in the template kept after
// SoMLier's — except environment variables, which are SoMLier's whole when it sets them; any
// other value is SoMLier's when SoMLier sets one. Builders remove what a template must not
// set (kubernetes/job_manifest.h says what). The YAML is read as kubectl reads it (YAML 1.1
// booleans, octal modes such as 0400). Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "somlier/core/result.h"

namespace somlier::kubernetes {

// Reads the template at `path`, which must be one YAML document of `kind` (apiVersion may be
// left out). Errors: InvalidArgument naming the file — not YAML, not a mapping, another kind,
// too large or too deep (core/yaml_load.h bounds it).
Result<nlohmann::json> LoadTemplate(const std::string& path, std::string_view kind);

// `ours` merged over `base`.
nlohmann::json MergeOver(const nlohmann::json& base, const nlohmann::json& ours);

}  // namespace somlier::kubernetes
