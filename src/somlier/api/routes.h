// Routes: the handler groups of the API server (api/api_server.h). Internal to
// src/somlier/api. Each group registers its endpoints on the server and calls the
// services, which must outlive the server.
#pragma once

namespace somlier {
class HttpRoutes;
class TrackingService;
class RegistryService;
class TrainService;
class LocalDeployments;
class ModelImport;
}  // namespace somlier

namespace somlier::api {

class MlflowRouter;

// MLflow's tracking API: experiments, runs, metrics, artifacts/list.
void AddTrackingRoutes(MlflowRouter& router, TrackingService& tracking);

// MLflow's model registry API.
void AddRegistryRoutes(MlflowRouter& router, RegistryService& registry);

// MLflow's proxied artifact API (/api/2.0/mlflow-artifacts/artifacts/...).
void AddArtifactRoutes(HttpRoutes& server, TrackingService& tracking);

// The seed's POST /search and /register, and /register_v2 when `model_import` is given
// (all also under /online/).
void AddSeedRoutes(HttpRoutes& server, TrackingService& tracking, RegistryService& registry,
                   ModelImport* model_import);

// POST /train (also /online/train) and /runs/{list,show,logs,kill}.
void AddTrainRoutes(HttpRoutes& server, TrackingService& tracking, TrainService& train);

// POST /deploy (also /online/deploy) and /deployments/{list,stop,logs}.
void AddDeployRoutes(HttpRoutes& server, LocalDeployments& deployments);

}  // namespace somlier::api
