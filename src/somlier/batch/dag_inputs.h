// The names and words a user gives `batch create` and `offline create_v2`, checked before
// they reach a generated Airflow DAG (Python source that Airflow also renders with Jinja) or
// a Kubernetes pod's command (where the kubelet expands $(VAR)):
//   - a DAG id: Airflow's key rule, [A-Za-z0-9_.-], 1-250 characters; also a file name and a
//     git branch, so not starting with '.' or '-', ending with '.' or '.lock', or with '..';
//   - a container image reference: [registry[:port]/]name[:tag][@sha256:digest], name
//     components lowercase [a-z0-9] separated by '.', '_', '__' or '-';
//   - an ENTRYPOINT: split into words as a POSIX shell would (whitespace; '...' literal;
//     "..." with \" \\ \$ \` escapes; \x outside quotes), with nothing run and nothing
//     expanded — so what a shell would interpret, unquoted (| ; & < > ( ) and backquotes,
//     $NAME and $(...), globs * ? [, a leading ~ or #, a line break, a leading VAR=value), is
//     refused as it would not do what it looks like, and a word with `{{`, `{%` or `{#` is
//     refused wherever its quotes put them, since Airflow's Jinja would rewrite it.
// Pure functions; thread-safe.
//
// Words may hold '$': the DAG file writes them as '$$' (batch/dag_file.h), which the kubelet
// turns back into '$', so `$(VAR)` in a quoted word reaches the program as written.
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
// A word Airflow's Jinja would rewrite ({{, {% or {#). Errors: InvalidArgument naming `what`.
Status CheckNotTemplated(std::string_view what, std::string_view word);

}  // namespace somlier::batch
