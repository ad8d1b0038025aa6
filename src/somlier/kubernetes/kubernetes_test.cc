#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "somlier/kubernetes/job_manifest.h"
#include "somlier/kubernetes/job_status.h"
#include "somlier/kubernetes/kube_settings.h"
#include "somlier/kubernetes/manifest_template.h"
#include "somlier/kubernetes/names.h"
#include "somlier/kubernetes/serving_manifests.h"
#include "temp_dir.h"

namespace somlier::kubernetes {
namespace {

using nlohmann::json;

TEST(Names, DnsLabelsSubdomainsAndLabelValues) {
  for (const std::string& good :
       std::vector<std::string>{"a", "somlier", "run-1", std::string(63, 'x')}) {
    EXPECT_TRUE(IsDnsLabel(good)) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "-a", "a-", "A", "a_b", "a.b", std::string(64, 'x')}) {
    EXPECT_FALSE(IsDnsLabel(bad)) << bad;
  }
  EXPECT_TRUE(IsDnsSubdomain("somlier-token.v1"));
  EXPECT_FALSE(IsDnsSubdomain("a..b"));
  EXPECT_TRUE(IsLabelValue(""));
  EXPECT_TRUE(IsLabelValue("My_Project.v1"));
  EXPECT_FALSE(IsLabelValue("a/b"));
  EXPECT_FALSE(IsLabelValue(std::string(64, 'a')));
  EXPECT_TRUE(IsLabelKey("app.kubernetes.io/managed-by"));
  EXPECT_TRUE(IsLabelKey("nvidia.com/gpu"));
  EXPECT_FALSE(IsLabelKey("Bad_Prefix/x"));
  EXPECT_EQ(CheckDnsLabel("namespace", "Team A").message(),
            "namespace 'Team A' is not a valid Kubernetes name: use 1 to 63 lower-case letters, "
            "digits and '-', starting and ending with a letter or digit");
}

TEST(Names, MappedNamesAreValidAndDistinct) {
  EXPECT_EQ(ToDnsLabel("somlier"), "somlier");  // already valid: unchanged
  const std::string mapped = ToDnsLabel("Example Projects/Churn_v2");
  EXPECT_TRUE(IsDnsLabel(mapped)) << mapped;
  EXPECT_TRUE(mapped.starts_with("example-projects-churn-v2-")) << mapped;
  EXPECT_NE(ToDnsLabel("a_b"), ToDnsLabel("a-b"));  // the hash keeps them apart
  EXPECT_NE(ToDnsLabel("a_b"), ToDnsLabel("a.b"));
  const std::string long_name = ToDnsLabel(std::string(100, 'q'));
  EXPECT_EQ(long_name.size(), 63u);
  EXPECT_TRUE(IsDnsLabel(long_name));
  EXPECT_TRUE(IsDnsLabel(ToDnsLabel("---")));
  EXPECT_TRUE(IsDnsLabel(ToDnsLabel("")));
  EXPECT_TRUE(IsLabelValue(ToLabelValue("example-projects/sklearn")));
  EXPECT_EQ(ToLabelValue("Churn_v2.1"), "Churn_v2.1");
  EXPECT_TRUE(IsLabelValue(ToLabelValue(std::string(80, 'Z') + "/")));
}

TEST(KubernetesSettings, DefaultsThenFileThenEnvironment) {
  auto defaults = LoadKubernetesSettings({}, "");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_EQ(defaults->ns, "somlier");
  EXPECT_EQ(defaults->kubectl, "kubectl");
  EXPECT_EQ(defaults->job_ttl_seconds, 86400);
  EXPECT_FALSE(defaults->configured());  // a kubeconfig alone does not make it the default

  somlier::testing::TempDir dir;
  const std::string file = (dir.path() / "config.yaml").string();
  std::ofstream(file) << "log_level: info\n"
                         "kubernetes:\n"
                         "  namespace: ml-team\n"
                         "  image: registry.example.com/somlier-runtime:0.1.0\n"
                         "  tracking_url: http://somlier.ml-team.svc:5000\n"
                         "  gpu_node_selector: cloud.google.com/gke-accelerator=nvidia-tesla-t4\n"
                         "  memory_limit: 8Gi\n";
  auto settings = LoadKubernetesSettings(
      {{"SOMLIER_K8S_NAMESPACE", "ml-prod"}, {"SOMLIER_K8S_CPU_LIMIT", "1500m"}}, file);
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  EXPECT_EQ(settings->ns, "ml-prod");  // the environment wins
  EXPECT_EQ(settings->cpu_limit, "1500m");
  EXPECT_EQ(settings->memory_limit, "8Gi");
  EXPECT_EQ(settings->gpu_node_selector,
            (std::map<std::string, std::string>{
                {"cloud.google.com/gke-accelerator", "nvidia-tesla-t4"}}));
  EXPECT_TRUE(settings->configured());
}

TEST(KubernetesSettings, BadValuesAreNamedWithWhatIsExpected) {
  auto error = [](Environment env) {
    auto s = LoadKubernetesSettings(env, "");
    EXPECT_FALSE(s.ok());
    return s.status().message();
  };
  EXPECT_NE(error({{"SOMLIER_K8S_NAMESPACE", "ML Team"}}).find("SOMLIER_K8S_NAMESPACE 'ML Team'"),
            std::string::npos);
  EXPECT_EQ(
      error({{"SOMLIER_K8S_CPU_REQUEST", "2 cores"}}),
      "SOMLIER_K8S_CPU_REQUEST '2 cores' is not a Kubernetes quantity (such as 500m, 2, 1.5Gi "
      "or 512Mi)");
  EXPECT_NE(error({{"SOMLIER_K8S_JOB_TTL_SECONDS", "-1"}}).find("not a whole number"),
            std::string::npos);
  EXPECT_NE(error({{"SOMLIER_K8S_JOB_TEMPLATE", "/nonexistent/job.yaml"}}).find("is not a file"),
            std::string::npos);
  EXPECT_NE(error({{"SOMLIER_K8S_TRACKING_URL", "somlier:5000"}}).find("http(s) URL"),
            std::string::npos);
  somlier::testing::TempDir dir;
  const std::string file = (dir.path() / "config.yaml").string();
  std::ofstream(file) << "kubernetes:\n  namespcae: x\n";
  auto unknown = LoadKubernetesSettings({}, file);
  EXPECT_NE(unknown.status().message().find("unknown kubernetes setting 'namespcae'"),
            std::string::npos);
  for (const char* q : {"1", "500m", "1.5Gi", "4e3", "0.5", "128974848"})
    EXPECT_TRUE(IsQuantity(q));
  for (const char* q : {"", "2 cores", "1.5GB", "Gi", "--1", "-1"}) {
    EXPECT_FALSE(IsQuantity(q)) << q;
  }
  EXPECT_NE(error({{"SOMLIER_K8S_GPU_RESOURCE", "gpu"}}).find("not an extended resource name"),
            std::string::npos);
  EXPECT_NE(error({{"SOMLIER_K8S_JOB_TTL_SECONDS", "9999999999"}}).find("0 to 2147483647"),
            std::string::npos);
}

TrainingJob ExampleJob() {
  TrainingJob job;
  job.run_id = "0123456789abcdef0123456789abcdef";
  job.experiment_id = "3";
  job.project = "example-projects/sklearn";
  job.grid = "grid 7";
  job.image = "registry.example.com/churn:1.2";
  job.command = {"python", "train.py", "--C", "0.1"};
  job.env = {{"MLFLOW_RUN_ID", job.run_id}, {"MLFLOW_TRACKING_URI", "http://somlier:5000"}};
  job.timeout_seconds = 3600;
  return job;
}

KubernetesSettings ExampleSettings() {
  KubernetesSettings settings;
  settings.ns = "ml-team";
  settings.config_map = "somlier-env";
  settings.gpu_node_selector = {{"cloud.google.com/gke-accelerator", "nvidia-tesla-t4"}};
  return settings;
}

TEST(TrainingJobManifest, KeepsTheOriginalTemplatesFacts) {
  auto built = BuildTrainingJob(ExampleJob(), ExampleSettings(), json());
  ASSERT_TRUE(built.ok()) << built.status().message();
  const json& job = *built;
  EXPECT_EQ(job["metadata"]["name"], "somlier-run-0123456789abcdef0123456789abcdef");
  EXPECT_EQ(job["metadata"]["namespace"], "ml-team");
  const json& labels = job["metadata"]["labels"];
  EXPECT_EQ(labels["app.kubernetes.io/managed-by"], "somlier");
  EXPECT_EQ(labels["somlier.io/run-id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(labels["somlier.io/experiment-id"], "3");
  for (const auto& [key, value] : labels.items()) {
    EXPECT_TRUE(IsLabelKey(key)) << key;
    EXPECT_TRUE(IsLabelValue(value.get<std::string>())) << value;
  }
  const json& spec = job["spec"];
  EXPECT_EQ(spec["backoffLimit"], 0);
  EXPECT_EQ(spec["ttlSecondsAfterFinished"], 86400);
  EXPECT_EQ(spec["activeDeadlineSeconds"], 3600);
  EXPECT_EQ(spec["template"]["metadata"]["annotations"]["sidecar.istio.io/inject"], "false");
  for (const auto& [key, value] : labels.items()) {
    EXPECT_EQ(spec["template"]["metadata"]["labels"][key], value) << key;
  }
  EXPECT_EQ(spec["template"]["metadata"]["labels"]["sidecar.istio.io/inject"], "false");
  EXPECT_EQ(spec["parallelism"], 1);
  EXPECT_EQ(spec["completions"], 1);
  const json& pod = spec["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  const json& container = pod["containers"][0];
  EXPECT_EQ(container["command"], json({"python", "train.py", "--C", "0.1"}));
  EXPECT_EQ(container["envFrom"][0]["configMapRef"]["name"], "somlier-env");
  EXPECT_EQ(container["resources"]["limits"]["memory"], "4Gi");
  EXPECT_FALSE(container["resources"]["limits"].contains("nvidia.com/gpu"));
  EXPECT_FALSE(pod.contains("tolerations"));
  // The token only as a reference to the Secret, which is also mounted read-only.
  bool token_from_secret = false;
  for (const json& var : container["env"]) {
    if (var["name"] == "SOMLIER_TOKEN") {
      EXPECT_FALSE(var.contains("value"));
      token_from_secret = var["valueFrom"]["secretKeyRef"]["name"] == "somlier-token";
    }
  }
  EXPECT_TRUE(token_from_secret);
  EXPECT_EQ(container["volumeMounts"][0]["readOnly"], true);
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "somlier-token");
}

TEST(TrainingJobManifest, GpuRunsGetTheResourceTolerationAndNodeSelector) {
  TrainingJob gpu = ExampleJob();
  gpu.gpu = true;
  auto built = BuildTrainingJob(gpu, ExampleSettings(), json());
  ASSERT_TRUE(built.ok());
  const json& pod = (*built)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(pod["tolerations"][0],
            json({{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}));
  EXPECT_EQ(pod["nodeSelector"]["cloud.google.com/gke-accelerator"], "nvidia-tesla-t4");
}

TEST(TrainingJobManifest, RefusesWhatWouldLeakOrBreak) {
  auto error = [](TrainingJob job) {
    auto built = BuildTrainingJob(job, ExampleSettings(), json());
    EXPECT_FALSE(built.ok());
    return built.status().message();
  };
  TrainingJob token = ExampleJob();
  token.env["SOMLIER_TOKEN"] = "s3cret";
  EXPECT_EQ(error(token),
            "SOMLIER_TOKEN must not be set in a Job's environment: pods read the token from the "
            "Secret 'somlier-token'");
  TrainingJob bad_env = ExampleJob();
  bad_env.env["MY-VAR"] = "x";
  EXPECT_NE(error(bad_env).find("'MY-VAR' is not valid"), std::string::npos);
  TrainingJob bad_id = ExampleJob();
  bad_id.run_id = "../../etc";
  EXPECT_NE(error(bad_id).find("is not 32 hexadecimal digits"), std::string::npos);
  TrainingJob no_command = ExampleJob();
  no_command.command.clear();
  EXPECT_EQ(error(no_command), "the Job needs a command to run");
}

TEST(TrainingJobManifest, MergesOverTheSettingsTemplateWithSomliersValuesWinning) {
  somlier::testing::TempDir dir;
  const std::string file = (dir.path() / "job.yaml").string();
  std::ofstream(file)
      << "kind: Job\n"
         "metadata:\n"
         "  labels: {team: fraud, app.kubernetes.io/managed-by: someone-else}\n"
         "spec:\n"
         "  backoffLimit: 5\n"
         "  parallelism: 4\n"
         "  completionMode: Indexed\n"
         "  template:\n"
         "    spec:\n"
         "      serviceAccountName: trainer\n"
         "      imagePullSecrets: [{name: registry}]\n"
         "      tolerations: [{key: dedicated, operator: Exists}]\n"
         "      volumes: [{name: cache, secret: {secretName: c, defaultMode: 0400}}]\n"
         "      containers:\n"
         "        - name: run\n"
         "          args: [--extra]\n"
         "          securityContext: {runAsNonRoot: yes}\n"
         "          env:\n"
         "            - {name: HTTPS_PROXY, value: 'http://proxy:3128'}\n"
         "            - name: MLFLOW_RUN_ID\n"
         "              valueFrom: {configMapKeyRef: {name: x, key: y}}\n";
  auto base = LoadTemplate(file, "Job");
  ASSERT_TRUE(base.ok()) << base.status().message();
  TrainingJob gpu = ExampleJob();
  gpu.gpu = true;
  auto built = BuildTrainingJob(gpu, ExampleSettings(), *base);
  ASSERT_TRUE(built.ok());
  const json& job = *built;
  // One pod, once, with SoMLier's command and its own value for its variables.
  EXPECT_EQ(job["spec"]["parallelism"], 1);
  EXPECT_FALSE(job["spec"].contains("completionMode"));
  EXPECT_FALSE(job["spec"]["template"]["spec"]["containers"][0].contains("args"));
  for (const json& var : job["spec"]["template"]["spec"]["containers"][0]["env"]) {
    if (var["name"] == "MLFLOW_RUN_ID") {
      EXPECT_FALSE(var.contains("valueFrom")) << var;
    }
  }
  // The cluster's toleration stays beside the GPU one; YAML 1.1 modes and booleans as kubectl.
  EXPECT_EQ(job["spec"]["template"]["spec"]["tolerations"].size(), 2u);
  EXPECT_EQ(job["spec"]["template"]["spec"]["volumes"][1]["secret"]["defaultMode"], 256);
  EXPECT_EQ(job["metadata"]["labels"]["team"], "fraud");
  EXPECT_EQ(job["metadata"]["labels"]["app.kubernetes.io/managed-by"], "somlier");
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  const json& pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "trainer");
  EXPECT_EQ(pod["containers"].size(), 1u);
  EXPECT_EQ(pod["containers"][0]["securityContext"]["runAsNonRoot"], true);  // from "yes"
  EXPECT_EQ(pod["containers"][0]["image"], "registry.example.com/churn:1.2");
  bool proxy = false;
  for (const json& var : pod["containers"][0]["env"]) proxy = proxy || var["name"] == "HTTPS_PROXY";
  EXPECT_TRUE(proxy);
  std::ofstream(file) << "kind: Deployment\n";
  EXPECT_NE(LoadTemplate(file, "Job").status().message().find("is a Deployment"),
            std::string::npos);
}

// Runs the schema validator (tests/k8s-schemas/validate.mjs, the pinned npm packages) on
// `manifests`; its exit status and output.
std::pair<int, std::string> Validate(const std::vector<json>& manifests) {
  const char* dir = std::getenv("SOMLIER_K8S_SCHEMAS_DIR");
  EXPECT_NE(dir, nullptr) << "CTest sets SOMLIER_K8S_SCHEMAS_DIR";
  if (!dir) return {-1, ""};
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / "node_modules"))
      << "run `npm ci` in " << dir << " (scripts/setup.sh --tests does)";
  somlier::testing::TempDir tmp;
  std::string command = "node " + std::string(dir) + "/validate.mjs";
  for (size_t i = 0; i < manifests.size(); ++i) {
    const auto file = tmp.path() / ("m" + std::to_string(i) + ".json");
    std::ofstream(file) << manifests[i].dump(2);
    command += " " + file.string();
  }
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(TrainingJobManifest, EveryVariantPassesTheOfficialKubernetesSchema) {
  somlier::testing::TempDir dir;
  const std::string file = (dir.path() / "job.yaml").string();
  std::ofstream(file) << "kind: Job\nspec:\n  template:\n    spec:\n      serviceAccountName: t\n";
  std::vector<json> manifests;
  for (bool gpu : {false, true}) {
    for (bool templated : {false, true}) {
      TrainingJob job = ExampleJob();
      job.gpu = gpu;
      job.suspend = templated;
      // The runtime image's variant: an init container downloads the project.
      if (gpu != templated) job.source = ProjectSource{std::string(40, 'a') + "-0123abcd", 2};
      auto built =
          BuildTrainingJob(job, ExampleSettings(), templated ? *LoadTemplate(file, "Job") : json());
      ASSERT_TRUE(built.ok());
      manifests.push_back(*built);
    }
  }
  auto [status, output] = Validate(manifests);
  EXPECT_EQ(status, 0) << output;
  // The validator is real: a wrong type is caught.
  json broken = manifests.front();
  broken["spec"]["backoffLimit"] = "zero";
  auto [broken_status, broken_output] = Validate({broken});
  EXPECT_EQ(broken_status, 1) << broken_output;
  EXPECT_NE(broken_output.find("backoffLimit must be integer"), std::string::npos) << broken_output;
}

}  // namespace
}  // namespace somlier::kubernetes

namespace somlier::kubernetes {
namespace {

ModelDeployment ExampleDeployment() {
  ModelDeployment d;
  d.project = "example-projects/tabular";
  d.model = "Churn Classifier";
  d.version = 3;
  d.image = "registry.example.com/somlier-runtime:0.1.0";
  return d;
}

TEST(ServingManifests, ADeploymentServesTheVersionWithProbesAndScrapeAnnotations) {
  KubernetesSettings settings = ExampleSettings();
  settings.tracking_url = "http://somlier.ml-team.svc:5000";
  auto built = BuildServingDeployment(ExampleDeployment(), settings, json());
  ASSERT_TRUE(built.ok()) << built.status().message();
  const json& d = *built;
  EXPECT_TRUE(IsDnsLabel(d["metadata"]["name"].get<std::string>())) << d["metadata"]["name"];
  EXPECT_TRUE(d["metadata"]["name"].get<std::string>().ends_with("-v3"));
  EXPECT_EQ(d["spec"]["replicas"], 1);
  const json& pod = d["spec"]["template"];
  EXPECT_EQ(pod["metadata"]["annotations"]["prometheus.io/scrape"], "true");
  EXPECT_EQ(pod["metadata"]["annotations"]["sidecar.istio.io/inject"], "false");
  for (const auto& [key, value] : d["spec"]["selector"]["matchLabels"].items()) {
    EXPECT_EQ(pod["metadata"]["labels"][key], value) << key;
  }
  const json& container = pod["spec"]["containers"][0];
  EXPECT_EQ(container["args"][0], "serve-model");
  EXPECT_EQ(container["args"][1], "models:/Churn Classifier/3");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"], "/v2/health/ready");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"], "/v2/health/live");
  std::string dumped = d.dump();
  EXPECT_NE(dumped.find("secretKeyRef"), std::string::npos);
  // The Service selects every version of the model; the Deployment's pods carry those labels.
  const json service = BuildServingService(ExampleDeployment(), settings);
  for (const auto& [key, value] : service["spec"]["selector"].items()) {
    EXPECT_EQ(pod["metadata"]["labels"][key], value) << key;
  }
  EXPECT_TRUE(BuildAutoscaler(ExampleDeployment(), settings).is_null());
}

TEST(ServingManifests, AutoscalingIstioAndCanaryRoutes) {
  ModelDeployment d = ExampleDeployment();
  d.min_replicas = 2;
  d.max_replicas = 5;
  d.istio = true;
  d.gpu = true;
  auto deployment = BuildServingDeployment(d, ExampleSettings(), json());
  ASSERT_TRUE(deployment.ok());
  EXPECT_FALSE((*deployment)["spec"].contains("replicas"));  // the autoscaler owns it
  EXPECT_EQ((*deployment)["spec"]["template"]["metadata"]["annotations"]["sidecar.istio.io/inject"],
            "true");
  const json hpa = BuildAutoscaler(d, ExampleSettings());
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"]["name"], (*deployment)["metadata"]["name"]);
  EXPECT_EQ(hpa["spec"]["minReplicas"], 2);
  auto routes = BuildVirtualService(d, {{2, 90}, {3, 10}}, ExampleSettings());
  ASSERT_TRUE(routes.ok());
  const json& http = (*routes)["spec"]["http"][0]["route"];
  EXPECT_EQ(http[0]["destination"]["subset"], "v2");
  EXPECT_EQ(http[1]["weight"], 10);
  const json rule = BuildDestinationRule(d, {{2, 90}, {3, 10}}, ExampleSettings());
  EXPECT_EQ(rule["spec"]["subsets"][1]["labels"]["somlier.io/model-version"], "3");
  EXPECT_EQ(BuildVirtualService(d, {{2, 90}, {3, 20}}, ExampleSettings()).status().message(),
            "the route weights add up to 110, not 100");
  EXPECT_EQ(BuildVirtualService(d, {{2, 50}, {2, 50}}, ExampleSettings()).status().message(),
            "version 2 is routed twice");
  ModelDeployment half = ExampleDeployment();
  half.min_replicas = 2;
  EXPECT_NE(BuildServingDeployment(half, ExampleSettings(), json())
                .status()
                .message()
                .find("go together"),
            std::string::npos);
  const std::string long_name = ServingDeploymentName(std::string(200, 'm'), 9223372036854775807);
  EXPECT_TRUE(IsDnsLabel(long_name)) << long_name;

  auto [status, output] =
      Validate({*deployment, BuildServingService(d, ExampleSettings()), hpa, *routes, rule,
                *BuildServingDeployment(ExampleDeployment(), ExampleSettings(), json())});
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("ok VirtualService"), std::string::npos) << output;
  EXPECT_NE(output.find("ok HorizontalPodAutoscaler"), std::string::npos) << output;
}

TEST(TrainingJobManifest, ARuntimeImageJobDownloadsItsProjectInAnInitContainer) {
  TrainingJob job = ExampleJob();
  job.source = ProjectSource{std::string(40, 'c') + "-00ff", 1};
  job.max_parallel = 3;
  job.index = 5;
  auto built = BuildTrainingJob(job, ExampleSettings(), json());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const json& pod = (*built)["spec"]["template"]["spec"];
  const json& init = pod["initContainers"][0];
  EXPECT_EQ(init["command"], json({"somlier", "fetch-source", std::string(40, 'c') + "-00ff",
                                   "/workspace", "--strip-components", "1"}));
  EXPECT_EQ(init["env"][0],
            json({{"name", "SOMLIER_SERVER"}, {"value", ExampleSettings().tracking_url}}));
  EXPECT_EQ(init["env"][1]["valueFrom"]["secretKeyRef"]["name"], "somlier-token");
  EXPECT_EQ(pod["containers"][0]["workingDir"], "/workspace");
  EXPECT_EQ(pod["volumes"][1], json({{"name", "workspace"}, {"emptyDir", json::object()}}));
  EXPECT_EQ((*built)["metadata"]["annotations"]["somlier.io/max-parallel"], "3");
  EXPECT_EQ((*built)["metadata"]["annotations"]["somlier.io/index"], "5");
  job.source->archive = "../../etc/passwd";
  EXPECT_EQ(BuildTrainingJob(job, ExampleSettings(), json()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(JobStatus, AJobsStateComesFromItsConditionsAndItsPod) {
  const json suspended = {{"spec", {{"suspend", true}}}};
  EXPECT_EQ(ReadJobState(suspended, json()).phase, JobState::Phase::kQueued);
  const json admitted = {{"spec", {{"suspend", false}}}};
  EXPECT_EQ(ReadJobState(admitted, json()).phase, JobState::Phase::kPending);
  const json pulling = {
      {"status",
       {{"phase", "Pending"},
        {"containerStatuses",
         {{{"name", "run"},
           {"state",
            {{"waiting", {{"reason", "ErrImagePull"}, {"message", "pull access denied"}}}}}}}}}}};
  JobState state = ReadJobState(admitted, pulling);
  EXPECT_EQ(state.phase, JobState::Phase::kPending);
  EXPECT_EQ(state.message, "ErrImagePull: pull access denied");
  const json unschedulable = {
      {"status",
       {{"phase", "Pending"},
        {"conditions",
         {{{"type", "PodScheduled"},
           {"status", "False"},
           {"reason", "Unschedulable"},
           {"message", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}}}}}};
  EXPECT_EQ(ReadJobState(admitted, unschedulable).message,
            "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
  const json creating = {
      {"status",
       {{"phase", "Pending"},
        {"containerStatuses",
         {{{"name", "run"}, {"state", {{"waiting", {{"reason", "ContainerCreating"}}}}}}}}}}};
  EXPECT_EQ(ReadJobState(admitted, creating).message, "") << "being created is no reason";
  const json running = {{"status", {{"phase", "Running"}}}};
  EXPECT_EQ(ReadJobState(admitted, running).phase, JobState::Phase::kRunning);

  const json exited = {{"status",
                        {{"phase", "Failed"},
                         {"containerStatuses",
                          {{{"name", "run"}, {"state", {{"terminated", {{"exitCode", 3}}}}}}}}}}};
  const json failed = {{"status",
                        {{"conditions",
                          {{{"type", "Failed"},
                            {"status", "True"},
                            {"reason", "BackoffLimitExceeded"},
                            {"message", "Job has reached the specified backoff limit"}}}}}}};
  state = ReadJobState(failed, exited);
  EXPECT_EQ(state.phase, JobState::Phase::kFailed);
  EXPECT_EQ(state.exit_code, 3);
  EXPECT_FALSE(state.deadline_exceeded);
  const json late = {
      {"status",
       {{"conditions",
         {{{"type", "Failed"}, {"status", "True"}, {"reason", "DeadlineExceeded"}}}}}}};
  EXPECT_TRUE(ReadJobState(late, json()).deadline_exceeded);
  const json complete = {
      {"status", {{"conditions", {{{"type", "Complete"}, {"status", "True"}}}}}}};
  state = ReadJobState(complete, json());
  EXPECT_EQ(state.phase, JobState::Phase::kSucceeded);
  EXPECT_EQ(state.exit_code, 0);
  const json oom = {
      {"status",
       {{"phase", "Failed"},
        {"containerStatuses",
         {{{"name", "run"},
           {"state", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}}}}}}}};
  EXPECT_EQ(ReadJobState(failed, oom).message,
            "BackoffLimitExceeded: Job has reached the specified backoff limit; OOMKilled");
  const json no_download = {
      {"status",
       {{"phase", "Failed"},
        {"initContainerStatuses",
         {{{"name", "fetch-source"},
           {"state", {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}}}}}}}}};
  state = ReadJobState(admitted, no_download);
  EXPECT_EQ(state.phase, JobState::Phase::kPending) << "the run itself never ran";
  EXPECT_EQ(state.message, "init container fetch-source exited with code 1 (Error)");
  EXPECT_FALSE(state.exit_code);
  const json not_yet = {
      {"status", {{"conditions", {{{"type", "Complete"}, {"status", "False"}}}}}}};
  EXPECT_EQ(ReadJobState(not_yet, running).phase, JobState::Phase::kRunning);
}

}  // namespace
}  // namespace somlier::kubernetes
