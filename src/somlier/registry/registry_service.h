// RegistryService: registered models, their versions, stages, tags and aliases, with
// MLflow's semantics — and the seed's `register` (a run's model becomes a version).
//
// Validates names and values (tracking/validation.h), parses MLflow search strings, pages
// results, and fills RegisteredModel::latest_versions. The Store and TrackingService are
// borrowed and must outlive the service. Thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/store.h"
#include "somlier/tracking/tracking_service.h"

namespace somlier {

struct CreateVersionRequest {
  std::string name;
  std::string source;  // where the model's files are (an artifact URI)
  std::string run_id;  // optional
  std::vector<Tag> tags;
  std::string run_link;
  std::string description;
};

// The seed's register response.
struct RegisterOutcome {
  ModelVersion version;
  bool is_newer_version = false;
  std::string message;
};

// Where a model's files are, as LocateModel() finds them.
struct ModelLocation {
  std::string name;     // the registered model's name, or the run id for runs:/ URIs
  std::string version;  // the registered version, or "" for runs:/ URIs
  std::string artifact_uri;
  std::filesystem::path directory;  // the local directory holding MLmodel
};

class RegistryService {
 public:
  RegistryService(Store& store, TrackingService& tracking) : store_(store), tracking_(tracking) {}

  // ---- Registered models ----
  Result<RegisteredModel> CreateRegisteredModel(const std::string& name,
                                                const std::string& description,
                                                const std::vector<Tag>& tags);
  Result<RegisteredModel> GetRegisteredModel(const std::string& name);
  Result<Page<RegisteredModel>> SearchRegisteredModels(const SearchRequest& request);
  Result<RegisteredModel> RenameRegisteredModel(const std::string& name,
                                                const std::string& new_name);
  Result<RegisteredModel> UpdateRegisteredModel(const std::string& name,
                                                const std::string& description);
  Status DeleteRegisteredModel(const std::string& name);
  Status SetRegisteredModelTag(const std::string& name, const Tag& tag);
  Status DeleteRegisteredModelTag(const std::string& name, const std::string& key);
  Status SetAlias(const std::string& name, const std::string& alias, const std::string& version);
  Status DeleteAlias(const std::string& name, const std::string& alias);
  Result<ModelVersion> GetVersionByAlias(const std::string& name, const std::string& alias);
  Result<std::vector<ModelVersion>> GetLatestVersions(const std::string& name,
                                                      const std::vector<std::string>& stages);

  // ---- Model versions (`version` as the API gives it: a decimal string) ----
  Result<ModelVersion> CreateModelVersion(const CreateVersionRequest& request);
  Result<ModelVersion> GetModelVersion(const std::string& name, const std::string& version);
  Result<Page<ModelVersion>> SearchModelVersions(const SearchRequest& request);
  Result<ModelVersion> UpdateModelVersion(const std::string& name, const std::string& version,
                                          const std::string& description);
  Result<ModelVersion> TransitionStage(const std::string& name, const std::string& version,
                                       const std::string& stage, bool archive_existing);
  Status DeleteModelVersion(const std::string& name, const std::string& version);
  Status SetModelVersionTag(const std::string& name, const std::string& version, const Tag& tag);
  Status DeleteModelVersionTag(const std::string& name, const std::string& version,
                               const std::string& key);
  // Where the version's files are (its source).
  Result<std::string> GetDownloadUri(const std::string& name, const std::string& version);

  // The model a URI names: models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest,
  // models:/NAME/STAGE or runs:/RUN_ID/PATH. Errors: InvalidArgument for another form;
  // NotFound for an unknown model, version, alias or run, or when no MLmodel file is there;
  // FailedPrecondition when the files are outside this server's artifact store.
  Result<ModelLocation> LocateModel(const std::string& model_uri);

  // ---- The seed's `register` ----
  // Registers the model the run logged under artifact path `model/` as a new version of
  // `model_name` (creating the registered model when missing); registering the same run
  // under the same name again returns the existing version with is_newer_version false.
  // Errors: InvalidArgument for a malformed run id or name; NotFound for an unknown run;
  // FailedPrecondition when the run has no `model/MLmodel` artifact.
  Result<RegisterOutcome> RegisterRun(const std::string& run_id, const std::string& model_name);

 private:
  Status FillLatestVersions(RegisteredModel& model);

  Store& store_;
  TrackingService& tracking_;
};

}  // namespace somlier
