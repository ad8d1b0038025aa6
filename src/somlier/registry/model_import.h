// ModelImport: the seed's `register_v2` — a model file trained outside SoMLier becomes a
// registered model version.
//
// The file is fetched from its URI (artifacts/fetch.h: a local path, file://, http(s)://,
// gs://, s3://), proven valid by loading it in Python (python/somlier/_import_model.py:
// scikit-learn with joblib or pickle; PyTorch by instantiating MODEL_CLASS_NAME from
// MODEL_MODULE_PATH inside PROJECT_NAME of the repository at PROJECT_REF, fetched with the
// training git cache, and loading the state dict strictly), written in the MLflow model
// format (PyTorch with the module under code/) as the `model/` of a new FINISHED run in the
// project's experiment (the default experiment for scikit-learn without a project), and
// registered. Nothing is recorded unless the file loads; should storing or registering fail
// after that (a full disk, a lost database), the run is marked deleted and its files are
// removed. Thread-safe (no shared mutable state).
//
// What the URI may name is the config's fetch_policy: anything for the user's own CLI; for a
// server, public sources only (artifacts/fetch_policy.h). Messages never quote the fetched
// file's content: a file that does not load is described by the loader's exception type.
#pragma once

#include <filesystem>
#include <string>

#include "somlier/artifacts/fetch_policy.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/registry/registry_service.h"

namespace somlier {

struct ImportModelRequest {
  std::string model_type;  // sklearn | scikit-learn | pytorch | torch
  std::string uri;
  std::string model_name;
  // PyTorch only (all five required then):
  std::string github_uri;
  std::string project_name;
  std::string project_ref;
  std::string model_module_path;  // relative to the project's directory
  std::string model_class_name;
};

struct ModelImportConfig {
  std::filesystem::path home;  // $SOMLIER_HOME (git cache, scratch space)
  std::string python;          // the interpreter; empty: python3
  Environment env;
  FetchPolicy fetch_policy;  // what `uri` may name (default: anything)
};

class ModelImport {
 public:
  ModelImport(TrackingService& tracking, RegistryService& registry, ModelImportConfig config)
      : tracking_(tracking), registry_(registry), config_(std::move(config)) {}

  // The seed's register answer. Errors, each with its own message: InvalidArgument for an
  // unsupported type, a PyTorch model without its five project arguments, a bad model name,
  // a file that is not a scikit-learn model, or weights that do not fit the class; NotFound
  // for no file at the URI, an unknown repository/ref/project, a missing module file or a
  // class the module does not define.
  Result<RegisterOutcome> Register(const ImportModelRequest& request);

 private:
  TrackingService& tracking_;
  RegistryService& registry_;
  ModelImportConfig config_;
};

}  // namespace somlier
