// The names and words a user gives `batch create` and `offline create_v2`, checked before
// they reach a generated Airflow DAG (Python source that Airflow also renders with Jinja) or
// a Kubernetes pod's command (where the kubelet expands $(VAR)):
//   - a DAG id: Airflow's key rule, [A-Za-z0-9_.-], 1-250 characters;
//   - a container image reference: [registry[:port]/]name[:tag][@sha256:digest], name
//     components lowercase [a-z0-9] separated by '.', '_', '__' or '-';
//   - an ENTRYPOINT: split into words as a POSIX shell would (whitespace; '...' literal;
//     "..." with \" \\ \$ \` escapes; \x outside quotes), with nothing run and nothing
//     expanded — so shell operators (| ; & < > and backquotes, unquoted) are refused as they
//     would not do what they look like, and `{{`, `{%`, `{#` (Jinja) and `$(` (the kubelet's
//     expansion) are refused anywhere, since Airflow or Kubernetes would rewrite them.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"

namespace somlier::batch {

// Errors: InvalidArgument naming the value and the rule.
Status CheckDagId(std::string_view dag_id);
Status CheckImageReference(std::string_view image);
Result<std::vector<std::string>> SplitEntrypoint(std::string_view entrypoint);

}  // namespace somlier::batch
