// MLflow's model registry endpoints (model_registry.proto), on RegistryService.
#include "somlier/api/error_answers.h"
#include "somlier/api/mlflow_json.h"
#include "somlier/api/mlflow_router.h"
#include "somlier/api/routes.h"
#include "somlier/registry/registry_service.h"

namespace somlier::api {
namespace {

using nlohmann::json;

Result<SearchRequest> ReadSearch(const Fields& f, int64_t default_max) {
  SearchRequest r;
  SOMLIER_ASSIGN_OR_RETURN(r.filter, f.String("filter"));
  SOMLIER_ASSIGN_OR_RETURN(r.order_by, f.StringList("order_by"));
  SOMLIER_ASSIGN_OR_RETURN(auto max, f.Int("max_results"));
  r.max_results = max.value_or(default_max);
  SOMLIER_ASSIGN_OR_RETURN(r.page_token, f.String("page_token"));
  return r;
}

struct VersionKey {
  std::string name;
  std::string version;
};

Result<VersionKey> ReadVersionKey(const Fields& f) {
  VersionKey k;
  SOMLIER_ASSIGN_OR_RETURN(k.name, f.RequiredString("name"));
  SOMLIER_ASSIGN_OR_RETURN(k.version, f.RequiredString("version"));
  return k;
}

json ModelJson(const RegisteredModel& m) { return {{"registered_model", ToJson(m)}}; }
json VersionJson(const ModelVersion& v) { return {{"model_version", ToJson(v)}}; }

}  // namespace

void AddRegistryRoutes(MlflowRouter& router, RegistryService& r) {
  // ---- Registered models ----
  AddMlflowRoute(router, Method::kPost, "/registered-models/create",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string description, f.String("description"));
                   SOMLIER_ASSIGN_OR_RETURN(std::vector<Tag> tags, f.TagList("tags"));
                   SOMLIER_ASSIGN_OR_RETURN(RegisteredModel m,
                                            r.CreateRegisteredModel(name, description, tags));
                   return ModelJson(m);
                 });
  AddMlflowRoute(router, Method::kGet, "/registered-models/get",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(RegisteredModel m, r.GetRegisteredModel(name));
                   return ModelJson(m);
                 });
  AddMlflowRoute(
      router, Method::kGet, "/registered-models/search", [&r](const Fields& f) -> Result<json> {
        SOMLIER_ASSIGN_OR_RETURN(SearchRequest s, ReadSearch(f, 100));
        SOMLIER_ASSIGN_OR_RETURN(Page<RegisteredModel> page, r.SearchRegisteredModels(s));
        json out = json::object();
        if (!page.items.empty()) out["registered_models"] = ToJsonArray(page.items);
        if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
        return out;
      });
  AddMlflowRoute(
      router, Method::kPost, "/registered-models/rename", [&r](const Fields& f) -> Result<json> {
        SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
        SOMLIER_ASSIGN_OR_RETURN(std::string new_name, f.RequiredString("new_name"));
        SOMLIER_ASSIGN_OR_RETURN(RegisteredModel m, r.RenameRegisteredModel(name, new_name));
        return ModelJson(m);
      });
  AddMlflowRoute(
      router, Method::kPatch, "/registered-models/update", [&r](const Fields& f) -> Result<json> {
        SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
        SOMLIER_ASSIGN_OR_RETURN(std::string description, f.String("description"));
        SOMLIER_ASSIGN_OR_RETURN(RegisteredModel m, r.UpdateRegisteredModel(name, description));
        return ModelJson(m);
      });
  AddMlflowRoute(router, Method::kDelete, "/registered-models/delete",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_RETURN_IF_ERROR(r.DeleteRegisteredModel(name));
                   return json::object();
                 });
  auto latest = [&r](const Fields& f) -> Result<json> {
    SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
    SOMLIER_ASSIGN_OR_RETURN(std::vector<std::string> stages, f.StringList("stages"));
    SOMLIER_ASSIGN_OR_RETURN(std::vector<ModelVersion> versions, r.GetLatestVersions(name, stages));
    json out = json::object();
    if (!versions.empty()) out["model_versions"] = ToJsonArray(versions);
    return out;
  };
  AddMlflowRoute(router, Method::kPost, "/registered-models/get-latest-versions", latest);
  AddMlflowRoute(router, Method::kGet, "/registered-models/get-latest-versions", latest);
  AddMlflowRoute(router, Method::kPost, "/registered-models/set-tag",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string value, f.String("value"));
                   SOMLIER_RETURN_IF_ERROR(r.SetRegisteredModelTag(name, {key, value}));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kDelete, "/registered-models/delete-tag",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_RETURN_IF_ERROR(r.DeleteRegisteredModelTag(name, key));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kPost, "/registered-models/alias",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string version, f.RequiredString("version"));
                   SOMLIER_RETURN_IF_ERROR(r.SetAlias(name, alias, version));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kDelete, "/registered-models/alias",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
                   SOMLIER_RETURN_IF_ERROR(r.DeleteAlias(name, alias));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kGet, "/registered-models/alias",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
                   SOMLIER_ASSIGN_OR_RETURN(ModelVersion v, r.GetVersionByAlias(name, alias));
                   return VersionJson(v);
                 });

  // ---- Model versions ----
  AddMlflowRoute(router, Method::kPost, "/model-versions/create",
                 [&r](const Fields& f) -> Result<json> {
                   CreateVersionRequest req;
                   SOMLIER_ASSIGN_OR_RETURN(req.name, f.RequiredString("name"));
                   SOMLIER_ASSIGN_OR_RETURN(req.source, f.RequiredString("source"));
                   SOMLIER_ASSIGN_OR_RETURN(req.run_id, f.String("run_id"));
                   SOMLIER_ASSIGN_OR_RETURN(req.tags, f.TagList("tags"));
                   SOMLIER_ASSIGN_OR_RETURN(req.run_link, f.String("run_link"));
                   SOMLIER_ASSIGN_OR_RETURN(req.description, f.String("description"));
                   SOMLIER_ASSIGN_OR_RETURN(ModelVersion v, r.CreateModelVersion(req));
                   return VersionJson(v);
                 });
  AddMlflowRoute(router, Method::kGet, "/model-versions/get",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_ASSIGN_OR_RETURN(ModelVersion v, r.GetModelVersion(k.name, k.version));
                   return VersionJson(v);
                 });
  AddMlflowRoute(router, Method::kGet, "/model-versions/search",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(SearchRequest s, ReadSearch(f, 1000));
                   SOMLIER_ASSIGN_OR_RETURN(Page<ModelVersion> page, r.SearchModelVersions(s));
                   json out = json::object();
                   if (!page.items.empty()) out["model_versions"] = ToJsonArray(page.items);
                   if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
                   return out;
                 });
  AddMlflowRoute(router, Method::kPatch, "/model-versions/update",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string description, f.String("description"));
                   SOMLIER_ASSIGN_OR_RETURN(ModelVersion v,
                                            r.UpdateModelVersion(k.name, k.version, description));
                   return VersionJson(v);
                 });
  AddMlflowRoute(router, Method::kPost, "/model-versions/transition-stage",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string stage, f.RequiredString("stage"));
                   SOMLIER_ASSIGN_OR_RETURN(auto archive, f.Bool("archive_existing_versions"));
                   SOMLIER_ASSIGN_OR_RETURN(
                       ModelVersion v,
                       r.TransitionStage(k.name, k.version, stage, archive.value_or(false)));
                   return VersionJson(v);
                 });
  AddMlflowRoute(router, Method::kDelete, "/model-versions/delete",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_RETURN_IF_ERROR(r.DeleteModelVersion(k.name, k.version));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kGet, "/model-versions/get-download-uri",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string uri, r.GetDownloadUri(k.name, k.version));
                   return json{{"artifact_uri", uri}};
                 });
  AddMlflowRoute(router, Method::kPost, "/model-versions/set-tag",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_ASSIGN_OR_RETURN(std::string value, f.String("value"));
                   SOMLIER_RETURN_IF_ERROR(r.SetModelVersionTag(k.name, k.version, {key, value}));
                   return json::object();
                 });
  AddMlflowRoute(router, Method::kDelete, "/model-versions/delete-tag",
                 [&r](const Fields& f) -> Result<json> {
                   SOMLIER_ASSIGN_OR_RETURN(VersionKey k, ReadVersionKey(f));
                   SOMLIER_ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
                   SOMLIER_RETURN_IF_ERROR(r.DeleteModelVersionTag(k.name, k.version, key));
                   return json::object();
                 });
}

}  // namespace somlier::api
