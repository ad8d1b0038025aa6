// The Kubernetes Job that runs one training run: what `online train --use_k8s_job=true`
// submits per grid combination, built as JSON (kubectl takes it on stdin).
//
// Facts it keeps (the original SoMLier's Job template, MLflow's Kubernetes backend):
//   - namespace from the settings; the name `somlier-run-<run id>`;
//   - labels app.kubernetes.io/managed-by=somlier, somlier.io/run-id, somlier.io/experiment-id,
//     somlier.io/grid and somlier.io/project on the Job and its pod (reconciling finds runs by
//     them, not by pid);
//   - backoffLimit 0 (a failed run is not retried), parallelism and completions 1 (one pod,
//     once; a template's completionMode, podFailurePolicy, per-index limits and the run
//     container's args are dropped), restartPolicy Never,
//     ttlSecondsAfterFinished from the settings, activeDeadlineSeconds from --timeout,
//     suspend while the grid's parallel limit is reached;
//   - the pod labelled and annotated sidecar.istio.io/inject: "false" (an Istio sidecar never
//     exits, so the Job would never complete);
//   - env from the settings' ConfigMap (envFrom) when one is named; the tracking token only
//     as a secretKeyRef to the token Secret, which is also mounted read-only — never a
//     literal value;
//   - CPU and memory requests and limits; with GPU, the GPU resource (limit 1), the
//     toleration and the node selector of the settings;
//   - with a project source (projects that name no image of their own), an init container of
//     the runtime image downloads the project's archive from the SoMLier server
//     (`somlier fetch-source`, authenticated with the token from the Secret) into an
//     emptyDir mounted at /workspace, where the run starts — no git credentials in the
//     cluster;
//   - annotations somlier.io/max-parallel and somlier.io/index: a grid's limit and the run's
//     place in it, so whoever follows the grid (after a restart too) resumes its Jobs in
//     order without exceeding the limit;
//   - all of it merged over the settings' Job template, when there is one (the template's
//     tolerations kept beside the GPU one).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/kubernetes/kube_settings.h"

namespace somlier::kubernetes {

// Where the init container fetches the project from: GET <tracking_url>/api/somlier/source/
// <archive> (the git cache's archive of the project at its commit), unpacked with the
// project's directory depth stripped.
struct ProjectSource {
  std::string archive;  // [0-9a-f]{40}-[0-9a-f]+ (git_cache.h's archive name)
  int strip_components = 0;
};

inline constexpr const char* kWorkspace = "/workspace";

struct TrainingJob {
  std::string run_id;                // the tracking run (32 hex digits)
  std::string experiment_id;         // digits
  std::string project;               // the project's name (any text: mapped to a label value)
  std::string grid;                  // the submission that made this run (any text: mapped too)
  std::string image;                 // the container image: `project.docker`, or the runtime image
  std::vector<std::string> command;  // the entrypoint's argv, params substituted
  std::map<std::string, std::string> env;  // plain settings (MLFLOW_RUN_ID, ...); no secrets
  std::string working_dir;                 // in the image; empty: the image's own
  std::optional<int64_t> timeout_seconds;  // activeDeadlineSeconds
  std::optional<ProjectSource> source;     // none: the image holds the project
  bool gpu = false;
  bool suspend = false;
  int max_parallel = 1;  // the grid's limit (annotation somlier.io/max-parallel)
  int index = 0;         // the run's place in its grid (annotation somlier.io/index)
};

// The name SoMLier gives the Job of `run_id`.
std::string JobName(const std::string& run_id);

// Errors: InvalidArgument naming the field — a run id that is not 32 hex digits, an empty
// image or command, an environment variable name Kubernetes refuses, a variable that would
// carry the token (SOMLIER_TOKEN, MLFLOW_TRACKING_TOKEN: it only ever comes from the Secret),
// a timeout that is not positive, an archive name that is not one.
// `base` is the settings' Job template (kubernetes/manifest_template.h), or null.
Result<nlohmann::json> BuildTrainingJob(const TrainingJob& job, const KubernetesSettings& settings,
                                        const nlohmann::json& base);

}  // namespace somlier::kubernetes
