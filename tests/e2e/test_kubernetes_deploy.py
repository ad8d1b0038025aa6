"""`deploy --use_k8s_job=true` end to end: a real `somlier server` drives the real `kubectl`
against a FAKE Kubernetes API server (tests/e2e/fake_kube_apiserver.py — no real one can run
here). The test plays the Deployment controller (rollout status, pods, logs) and checks the
objects SoMLier applies, the order traffic moves in, canaries, promote, rollback and stop."""
import json
import threading
import unittest

from fake_kube_apiserver import FakeKubeApiServer
from somlier_e2e import HttpError, ServerProcess, SomlierTestCase, request_json, wait_until

TOKEN = "tok-" + "5" * 40
NS = "serving"
IMAGE = "registry.example.com/somlier-runtime:0.1.0"



class KubernetesDeployTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.api = FakeKubeApiServer().__enter__()
        self.addCleanup(self.api.__exit__, None, None, None)
        self.api.store[("namespaces", None, NS)] = {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
        self.kube_env = dict(self.env, KUBECONFIG=self.api.kubeconfig(self.tmp),
                             SOMLIER_K8S_NAMESPACE=NS, SOMLIER_K8S_IMAGE=IMAGE,
                             SOMLIER_K8S_TRACKING_URL="http://somlier.serving.svc:5000",
                             SOMLIER_K8S_POLL_MS="100", SOMLIER_TOKEN=TOKEN)
        self.server = ServerProcess(self.kube_env)
        self.addCleanup(self.server.stop)
        self.remote = dict(self.env, SOMLIER_SERVER=self.server.url, SOMLIER_TOKEN=TOKEN)
        run = self.mlflow("runs/create", {"experiment_id": "0"})["run"]["info"]
        path = run["artifact_uri"][len("mlflow-artifacts:/"):] + "/model/MLmodel"
        request_json("PUT", f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts/{path}",
                     b"flavors:\n  python_function:\n    loader_module: model\n",
                     headers={"Authorization": f"Bearer {TOKEN}",
                              "Content-Type": "application/octet-stream"})
        self.mlflow("registered-models/create", {"name": "iris"})
        for _ in range(4):
            self.mlflow("model-versions/create", {"name": "iris", "run_id": run["run_id"],
                                                  "source": run["artifact_uri"] + "/model"})

    def mlflow(self, path, body):
        return request_json("POST", f"{self.server.url}/api/2.0/mlflow/{path}", body,
                            headers={"Authorization": f"Bearer {TOKEN}"})

    def call(self, path, body):
        return request_json("POST", self.server.url + path, body,
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)

    def names(self, plural):
        return sorted(o["metadata"]["name"] for o in self.api.objects(plural, NS))

    def routes(self):
        [service] = self.api.objects("virtualservices", NS)
        return {r["destination"]["subset"]: r["weight"]
                for r in service["spec"]["http"][0]["route"]}

    def deploy(self, version, roll_out=True, **fields):
        """POST /deploy while playing the Deployment controller: once the version's
        Deployment exists, its rollout completes (or not); returns the answer or the error."""
        name = f"somlier-iris-v{version}"
        seen = {}

        def controller():
            deployment = wait_until(lambda: next((d for d in self.api.objects("deployments", NS)
                                             if d["metadata"]["name"] == name), None),
                               what=f"the Deployment {name}")
            seen["routes_before_rollout"] = [json.dumps(o["spec"]) for o in
                                             self.api.objects("virtualservices", NS)]
            wanted = deployment["spec"].get("replicas", 1)
            if roll_out:
                self.api.set_status("deployments", NS, name, {
                    "replicas": wanted, "updatedReplicas": wanted, "availableReplicas": wanted,
                    "conditions": [{"type": "Available", "status": "True"}]})
            else:
                self.api.set_status("deployments", NS, name, {"conditions": [
                    {"type": "Progressing", "status": "False",
                     "reason": "ProgressDeadlineExceeded",
                     "message": f'ReplicaSet "{name}-7d9f" has timed out progressing.'}]})

        thread = threading.Thread(target=controller, daemon=True)
        thread.start()
        body = {"project_name": "iris", "model_name": "iris", "model_version": str(version)}
        body.update(fields)
        try:
            return self.call("/deploy", body), seen
        finally:
            thread.join(timeout=30)

    def test_deploy_canary_promote_rollback_logs_and_stop(self):
        answer, seen = self.deploy(1, istio_enabled=True, min_replicas=2, max_replicas=5)
        self.assertEqual((answer["status"], answer["target"], answer["name"]),
                         ("deployed", "kubernetes", "somlier-iris-v1"))
        self.assertEqual(answer["url"], "http://somlier-iris.serving.svc.cluster.local")
        self.assertEqual(seen["routes_before_rollout"], [], "traffic moves after the rollout")
        [deployment] = self.api.objects("deployments", NS)
        labels = deployment["metadata"]["labels"]
        self.assertEqual((labels["app.kubernetes.io/managed-by"], labels["somlier.io/model"],
                          labels["somlier.io/model-version"]), ("somlier", "iris", "1"))
        self.assertNotIn("replicas", deployment["spec"], "the autoscaler owns the replicas")
        pod = deployment["spec"]["template"]
        self.assertEqual(pod["metadata"]["labels"]["sidecar.istio.io/inject"], "true")
        [container] = pod["spec"]["containers"]
        self.assertEqual(container["args"][:2], ["serve-model", "models:/iris/1"])
        self.assertEqual(container["readinessProbe"]["httpGet"]["path"], "/v2/health/ready")
        self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/v2/health/live")
        self.assertEqual(deployment["metadata"]["annotations"]["somlier.io/project"], "iris")
        self.assertEqual(self.names("services"), ["somlier-iris"])
        self.assertEqual(self.names("horizontalpodautoscalers"), ["somlier-iris-v1"])
        self.assertEqual(self.names("destinationrules"), ["somlier-iris"])
        self.assertEqual(self.routes(), {"v1": 100})
        for method, path, body in self.api.requests:
            self.assertNotIn(TOKEN, body, f"{method} {path}")

        listed = self.somlier("deployments", "list", "--output", "json", env=self.remote)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        [d] = json.loads(listed.stdout)["deployments"]
        self.assertEqual((d["name"], d["target"], d["status"]),
                         ("somlier-iris-v1", "kubernetes", "RUNNING"))
        self.assertIn("1/1 replicas available", d["message"])

        # A canary: version 2 gets 10%, version 1 keeps serving the rest.
        answer, seen = self.deploy(2, istio_enabled=True, canary_percent=10)
        [before] = seen["routes_before_rollout"]
        self.assertEqual([r["weight"] for r in json.loads(before)["http"][0]["route"]], [100],
                         "version 1 kept everything until version 2 was ready")
        self.assertEqual(self.routes(), {"v1": 90, "v2": 10})
        self.assertEqual(self.names("deployments"), ["somlier-iris-v1", "somlier-iris-v2"])
        self.assertIn("deployments promote somlier-iris-v2", answer["message"])

        pod = self.api.start_model_pod(NS, "somlier-iris-v2")
        self.api.set_log(NS, pod, "serving models:/iris/2\n")
        logs = self.somlier("deployments", "logs", "somlier-iris-v2", env=self.remote)
        self.assertEqual((logs.returncode, logs.stdout), (0, "serving models:/iris/2\n"),
                         logs.stderr)

        promoted = self.somlier("deployments", "promote", "somlier-iris-v2", "--output", "json",
                                env=self.remote)
        self.assertEqual(promoted.returncode, 0, promoted.stderr)
        self.assertEqual(json.loads(promoted.stdout)["status"], "RUNNING")
        self.assertEqual(self.routes(), {"v2": 100})
        self.assertEqual(self.names("deployments"), ["somlier-iris-v2"])
        self.assertEqual(self.names("horizontalpodautoscalers"), [])
        statuses = {d["name"]: d["status"] for d in self.call("/deployments/list", {})[
            "deployments"]}
        self.assertEqual(statuses, {"somlier-iris-v1": "STOPPED", "somlier-iris-v2": "RUNNING"})

        # Another canary, rolled back: version 2 takes everything again.
        self.deploy(3, istio_enabled=True, canary_percent=20)
        self.assertEqual(self.routes(), {"v2": 80, "v3": 20})
        with self.assertRaises(HttpError) as third:  # one canary at a time
            self.call("/deploy", {"project_name": "iris", "model_name": "iris",
                                  "model_version": "4", "istio_enabled": True,
                                  "canary_percent": 5})
        self.assertEqual(third.exception.status, 412, third.exception.body)
        self.assertIn("promote or roll back that canary", third.exception.body)
        rolled = self.call("/deployments/rollback", {"name": "somlier-iris-v3"})
        self.assertEqual(rolled["status"], "STOPPED")
        self.assertEqual(self.routes(), {"v2": 100})
        self.assertEqual(self.names("deployments"), ["somlier-iris-v2"])

        # A version deployed without Istio still takes the routes the model had.
        self.deploy(4)
        self.assertEqual(self.routes(), {"v4": 100})
        self.assertEqual(self.names("deployments"), ["somlier-iris-v4"])
        self.deploy(2, istio_enabled=True, canary_percent=30)
        self.assertEqual(self.routes(), {"v4": 70, "v2": 30})
        # Stopping the serving version while a canary runs moves its share first.
        self.call("/deployments/stop", {"name": "somlier-iris-v4"})
        self.assertEqual(self.routes(), {"v2": 100})
        self.assertEqual(self.names("deployments"), ["somlier-iris-v2"])

        # Stopping the last version removes every object SoMLier made for the model.
        stopped = self.somlier("deployments", "stop", "somlier-iris-v2", env=self.remote)
        self.assertEqual(stopped.returncode, 0, stopped.stderr)
        for plural in ("deployments", "services", "horizontalpodautoscalers",
                       "virtualservices", "destinationrules"):
            self.assertEqual(self.names(plural), [], plural)

    def test_a_failed_rollout_moves_no_traffic_and_says_why(self):
        self.deploy(1, istio_enabled=True)
        with self.assertRaises(HttpError) as failed:
            self.deploy(2, roll_out=False, istio_enabled=True, canary_percent=50)
        self.assertEqual(failed.exception.status, 412, failed.exception.body)
        self.assertIn("ProgressDeadlineExceeded", failed.exception.body)
        self.assertIn("its Deployment was removed and no traffic moved", failed.exception.body)
        self.assertEqual(self.routes(), {"v1": 100})
        self.assertEqual(self.names("deployments"), ["somlier-iris-v1"],
                         "the Service must not send its requests to the failed version's pods")
        statuses = {d["name"]: d["status"] for d in self.call("/deployments/list", {})[
            "deployments"]}
        self.assertEqual(statuses, {"somlier-iris-v1": "RUNNING", "somlier-iris-v2": "FAILED"})

    def test_dry_run_and_refused_requests_change_nothing(self):
        out = self.somlier("deploy", "iris", "iris", "1", "--istio_enabled=true", "--use_gpu",
                           "--replicas", "3", "--dry_run", env=self.remote)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.count("---\n"), 4)  # Deployment, Service, rule, routes
        for kind in ("Deployment", "Service", "DestinationRule", "VirtualService"):
            self.assertIn(f'kind: "{kind}"', out.stdout)
        self.assertIn('nvidia.com/gpu: "1"', out.stdout)
        as_json = self.call("/deploy", {"project_name": "iris", "model_name": "iris",
                                        "model_version": "1", "dry_run": True,
                                        "min_replicas": 1, "max_replicas": 3})
        self.assertEqual([m["kind"] for m in as_json["manifests"]],
                         ["Deployment", "HorizontalPodAutoscaler", "Service"])
        for body, status, fragment in (
                ({"canary_percent": 10}, 422, "canary_percent needs istio_enabled=true"),
                ({"canary_percent": 10, "istio_enabled": True}, 412,
                 "no other version of iris serves"),
                ({"canary_percent": 100}, 422, "canary_percent"),
                ({"min_replicas": 2}, 422, "--min_replicas and --max_replicas go together"),
                ({"model_version": "9"}, 404, "9"),
                ({"use_k8s_job": False, "istio_enabled": True}, 422,
                 "are for Kubernetes deployments")):
            with self.subTest(body=body):
                request = {"project_name": "iris", "model_name": "iris", "model_version": "1"}
                request.update(body)
                with self.assertRaises(HttpError) as refused:
                    self.call("/deploy", request)
                self.assertEqual(refused.exception.status, status, refused.exception.body)
                self.assertIn(fragment, refused.exception.body)
        self.assertEqual([r for r in self.api.requests if r[0] != "GET"], [])
        self.assertEqual(self.call("/deployments/list", {})["deployments"], [])


if __name__ == "__main__":
    unittest.main()
