// Routes: the handler groups of the API server (api/api_server.h). Internal to
// src/somlier/api. Each group registers its endpoints on the server and calls the
// services, which must outlive the server.
#pragma once

namespace somlier {
class HttpRoutes;
class TrackingService;
class RegistryService;
class TrainService;
}  // namespace somlier

namespace somlier::api {

class MlflowRouter;

// MLflow's tracking API: experiments, runs, metrics, artifacts/list.
void AddTrackingRoutes(MlflowRouter& router, TrackingService& tracking);

// MLflow's model registry API.
void AddRegistryRoutes(MlflowRouter& router, RegistryService& registry);

// MLflow's proxied artifact API (/api/2.0/mlflow-artifacts/artifacts/...).
void AddArtifactRoutes(HttpRoutes& server, TrackingService& tracking);

// GET /api/somlier/source/NAME.tar: a project archive of the git cache, for the init
// containers of Kubernetes Jobs (training/kubernetes_run_executor.h).
void AddProjectSourceRoute(HttpRoutes& server, TrainService& train);

// SoMLier's own use cases (the seed's /train, /search, ... and /runs/..., /deployments/...)
// are served from their table: api/use_cases.h.

}  // namespace somlier::api
