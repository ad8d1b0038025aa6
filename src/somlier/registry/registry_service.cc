#include "somlier/registry/registry_service.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

#include "somlier/core/strings.h"
#include "somlier/tracking/search_syntax.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace {

Status ValidateDescription(const std::string& description) {
  return ValidateLength(TextField::kModelDescription, description);
}

// Model sources may be any URI, but not one that climbs out of where it points.
Status ValidateSource(const std::string& source) {
  if (source.empty()) return InvalidArgument("a model version needs a source");
  SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kModelSource, source, [&] {
    return fmt::format("model source '{}'", Preview(source));
  }));
  if (source.find('\0') != std::string::npos) {
    return InvalidArgument("the model source contains a NUL byte");
  }
  for (const std::string& part : Split(source, '/')) {
    if (part == "..") {
      return InvalidArgument(fmt::format("model source '{}' must not contain '..'", source));
    }
  }
  return OkStatus();
}

}  // namespace

Status RegistryService::FillLatestVersions(RegisteredModel& model) {
  SOMLIER_ASSIGN_OR_RETURN(model.latest_versions, store_.GetLatestVersions(model.name, {}));
  return OkStatus();
}

// ---- Registered models ------------------------------------------------------------------

Result<RegisteredModel> RegistryService::CreateRegisteredModel(const std::string& name,
                                                               const std::string& description,
                                                               const std::vector<Tag>& tags) {
  SOMLIER_RETURN_IF_ERROR(ValidateModelName(name));
  SOMLIER_RETURN_IF_ERROR(ValidateDescription(description));
  for (const Tag& tag : tags)
    SOMLIER_RETURN_IF_ERROR(ValidateRegistryTag("registered model tag", tag));
  return store_.CreateRegisteredModel(name, description, tags);
}

Result<RegisteredModel> RegistryService::GetRegisteredModel(const std::string& name) {
  SOMLIER_ASSIGN_OR_RETURN(RegisteredModel model, store_.GetRegisteredModel(name));
  SOMLIER_RETURN_IF_ERROR(FillLatestVersions(model));
  return model;
}

Result<Page<RegisteredModel>> RegistryService::SearchRegisteredModels(const SearchRequest& r) {
  SOMLIER_ASSIGN_OR_RETURN(SearchPlan plan,
                           PlanSearch(SearchKind::kRegisteredModels, r, kMaxModelSearchResults));
  SOMLIER_ASSIGN_OR_RETURN(
      std::vector<RegisteredModel> rows,
      store_.SearchRegisteredModels({plan.filters, plan.order_by, plan.fetch, plan.offset}));
  Page<RegisteredModel> page = MakePage(std::move(rows), r.max_results, plan.offset);
  for (RegisteredModel& m : page.items) SOMLIER_RETURN_IF_ERROR(FillLatestVersions(m));
  return page;
}

Result<RegisteredModel> RegistryService::RenameRegisteredModel(const std::string& name,
                                                               const std::string& new_name) {
  SOMLIER_RETURN_IF_ERROR(ValidateModelName(new_name));
  SOMLIER_ASSIGN_OR_RETURN(RegisteredModel model, store_.RenameRegisteredModel(name, new_name));
  SOMLIER_RETURN_IF_ERROR(FillLatestVersions(model));
  return model;
}

Result<RegisteredModel> RegistryService::UpdateRegisteredModel(const std::string& name,
                                                               const std::string& description) {
  SOMLIER_RETURN_IF_ERROR(ValidateDescription(description));
  SOMLIER_ASSIGN_OR_RETURN(RegisteredModel model, store_.UpdateRegisteredModel(name, description));
  SOMLIER_RETURN_IF_ERROR(FillLatestVersions(model));
  return model;
}

Status RegistryService::DeleteRegisteredModel(const std::string& name) {
  return store_.DeleteRegisteredModel(name);
}

Status RegistryService::SetRegisteredModelTag(const std::string& name, const Tag& tag) {
  SOMLIER_RETURN_IF_ERROR(ValidateRegistryTag("registered model tag", tag));
  return store_.SetRegisteredModelTag(name, tag);
}

Status RegistryService::DeleteRegisteredModelTag(const std::string& name, const std::string& key) {
  return store_.DeleteRegisteredModelTag(name, key);
}

Status RegistryService::SetAlias(const std::string& name, const std::string& alias,
                                 const std::string& version) {
  SOMLIER_RETURN_IF_ERROR(ValidateAlias(alias));
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.SetModelAlias(name, alias, v);
}

Status RegistryService::DeleteAlias(const std::string& name, const std::string& alias) {
  return store_.DeleteModelAlias(name, alias);
}

Result<ModelVersion> RegistryService::GetVersionByAlias(const std::string& name,
                                                        const std::string& alias) {
  return store_.GetModelVersionByAlias(name, alias);
}

Result<std::vector<ModelVersion>> RegistryService::GetLatestVersions(
    const std::string& name, const std::vector<std::string>& stages) {
  return store_.GetLatestVersions(name, stages);
}

// ---- Model versions ---------------------------------------------------------------------

Result<ModelVersion> RegistryService::CreateModelVersion(const CreateVersionRequest& r) {
  SOMLIER_RETURN_IF_ERROR(ValidateModelName(r.name));
  SOMLIER_RETURN_IF_ERROR(ValidateSource(r.source));
  if (!r.run_id.empty()) SOMLIER_RETURN_IF_ERROR(ValidateRunId(r.run_id));
  for (const Tag& tag : r.tags)
    SOMLIER_RETURN_IF_ERROR(ValidateRegistryTag("model version tag", tag));
  SOMLIER_RETURN_IF_ERROR(ValidateLength(TextField::kRunLink, r.run_link));
  SOMLIER_RETURN_IF_ERROR(ValidateDescription(r.description));
  ModelVersion request;
  request.name = r.name;
  request.source = r.source;
  request.run_id = r.run_id;
  request.tags = r.tags;
  request.run_link = r.run_link;
  request.description = r.description;
  return store_.CreateModelVersion(request);
}

Result<ModelVersion> RegistryService::GetModelVersion(const std::string& name,
                                                      const std::string& version) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.GetModelVersion(name, v);
}

Result<Page<ModelVersion>> RegistryService::SearchModelVersions(const SearchRequest& r) {
  SOMLIER_ASSIGN_OR_RETURN(SearchPlan plan,
                           PlanSearch(SearchKind::kModelVersions, r, kMaxVersionSearchResults));
  SOMLIER_ASSIGN_OR_RETURN(
      std::vector<ModelVersion> rows,
      store_.SearchModelVersions({plan.filters, plan.order_by, plan.fetch, plan.offset}));
  return MakePage(std::move(rows), r.max_results, plan.offset);
}

Result<ModelVersion> RegistryService::UpdateModelVersion(const std::string& name,
                                                         const std::string& version,
                                                         const std::string& description) {
  SOMLIER_RETURN_IF_ERROR(ValidateDescription(description));
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.UpdateModelVersion(name, v, description);
}

Result<ModelVersion> RegistryService::TransitionStage(const std::string& name,
                                                      const std::string& version,
                                                      const std::string& stage,
                                                      bool archive_existing) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.TransitionModelVersionStage(name, v, stage, archive_existing);
}

Status RegistryService::DeleteModelVersion(const std::string& name, const std::string& version) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.DeleteModelVersion(name, v);
}

Status RegistryService::SetModelVersionTag(const std::string& name, const std::string& version,
                                           const Tag& tag) {
  SOMLIER_RETURN_IF_ERROR(ValidateRegistryTag("model version tag", tag));
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.SetModelVersionTag(name, v, tag);
}

Status RegistryService::DeleteModelVersionTag(const std::string& name, const std::string& version,
                                              const std::string& key) {
  SOMLIER_ASSIGN_OR_RETURN(int64_t v, ParseModelVersion(version));
  return store_.DeleteModelVersionTag(name, v, key);
}

Result<std::string> RegistryService::GetDownloadUri(const std::string& name,
                                                    const std::string& version) {
  SOMLIER_ASSIGN_OR_RETURN(ModelVersion v, GetModelVersion(name, version));
  return v.source;
}

Result<ModelLocation> RegistryService::LocateModel(const std::string& model_uri) {
  ModelLocation location;
  std::string_view rest = model_uri;
  if (rest.starts_with("runs:/")) {
    rest.remove_prefix(6);
    const size_t slash = rest.find('/');
    location.name = std::string(rest.substr(0, slash));
    std::string path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
    while (!path.empty() && path.back() == '/') path.pop_back();
    SOMLIER_RETURN_IF_ERROR(ValidateRunId(location.name));
    SOMLIER_ASSIGN_OR_RETURN(Run run, tracking_.GetRun(location.name));
    location.artifact_uri = run.info.artifact_uri + (path.empty() ? "" : "/" + path);
  } else if (rest.starts_with("models:/")) {
    rest.remove_prefix(8);
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    const size_t at = rest.rfind('@');
    const size_t slash = rest.rfind('/');
    if (at != std::string_view::npos && slash == std::string_view::npos) {
      location.name = std::string(rest.substr(0, at));
      SOMLIER_ASSIGN_OR_RETURN(ModelVersion v,
                               GetVersionByAlias(location.name, std::string(rest.substr(at + 1))));
      location.version = std::to_string(v.version);
      location.artifact_uri = v.source;
    } else if (slash != std::string_view::npos && slash > 0) {
      location.name = std::string(rest.substr(0, slash));
      std::string suffix(rest.substr(slash + 1));
      if (!suffix.empty() && std::all_of(suffix.begin(), suffix.end(),
                                         [](unsigned char c) { return std::isdigit(c) != 0; })) {
        location.version = suffix;
      } else {
        std::vector<std::string> stages;
        if (ToLower(suffix) != "latest") stages.push_back(suffix);
        SOMLIER_ASSIGN_OR_RETURN(auto latest, GetLatestVersions(location.name, stages));
        if (latest.empty()) {
          return NotFound(
              fmt::format("registered model '{}' has no version in '{}'", location.name, suffix));
        }
        int64_t newest = 0;
        for (const ModelVersion& v : latest) newest = std::max(newest, v.version);
        location.version = std::to_string(newest);
      }
      SOMLIER_ASSIGN_OR_RETURN(location.artifact_uri,
                               GetDownloadUri(location.name, location.version));
    } else {
      return InvalidArgument(
          fmt::format("model URI '{}' names no version: use "
                      "models:/NAME/VERSION or models:/NAME@ALIAS",
                      model_uri));
    }
  } else {
    return InvalidArgument(fmt::format(
        "model URI '{}' is not models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH",
        model_uri));
  }
  auto relative = tracking_.artifacts().RelativePathOf(location.artifact_uri);
  if (!relative.ok()) {
    return FailedPrecondition(fmt::format("the files of {} are at {}, outside this artifact store",
                                          model_uri, location.artifact_uri));
  }
  SOMLIER_ASSIGN_OR_RETURN(location.directory, tracking_.artifacts().Resolve(*relative));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(location.directory / "MLmodel", ec)) {
    return NotFound(
        fmt::format("{} has no model: no MLmodel file at {}", model_uri, location.artifact_uri));
  }
  return location;
}

// ---- The seed's register ----------------------------------------------------------------

Result<RegisterOutcome> RegistryService::RegisterRun(const std::string& run_id,
                                                     const std::string& model_name) {
  SOMLIER_RETURN_IF_ERROR(ValidateRunId(run_id));
  SOMLIER_RETURN_IF_ERROR(ValidateModelName(model_name));
  SOMLIER_ASSIGN_OR_RETURN(Run run, tracking_.GetRun(run_id));
  if (run.info.lifecycle_stage != LifecycleStage::kActive) {
    return FailedPrecondition(
        fmt::format("run '{}' is deleted; restore it to register it", run_id));
  }
  SOMLIER_ASSIGN_OR_RETURN(std::string directory, tracking_.RunArtifactDirectory(run.info));
  auto mlmodel = tracking_.artifacts().Stat(directory + "/model/MLmodel");
  if (!mlmodel.ok() || mlmodel->is_dir) {
    return FailedPrecondition(fmt::format(
        "run '{}' has no model under artifact path 'model/' (no model/MLmodel file); log one "
        "first, e.g. somlier.sklearn.log_model(model, \"model\") or mlflow.sklearn.log_model",
        run_id));
  }
  ModelVersion request;
  request.name = model_name;
  request.run_id = run_id;
  request.source = run.info.artifact_uri + "/model";
  request.user_id = run.info.user_id;
  SOMLIER_ASSIGN_OR_RETURN(RunRegistration registration, store_.RegisterRunModel(request));
  RegisterOutcome out;
  out.version = std::move(registration.version);
  out.is_newer_version = registration.created;
  out.message = registration.created
                    ? fmt::format("Registered the model of run {} as version {} of '{}'.", run_id,
                                  out.version.version, model_name)
                    : fmt::format("Run {} is already registered as version {} of '{}'.", run_id,
                                  out.version.version, model_name);
  return out;
}

}  // namespace somlier
