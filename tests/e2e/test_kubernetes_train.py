"""`online train --use_k8s_job=true` end to end: a real `somlier server` drives the real
`kubectl` against a FAKE Kubernetes API server (tests/e2e/fake_kube_apiserver.py — no real
one can run here). The test plays the cluster's Job controller: it starts pods and moves Jobs
through their conditions, and checks what SoMLier makes of them."""
import json
import pathlib
import time
import unittest

from fake_kube_apiserver import FakeKubeApiServer
from somlier_e2e import (GitRepo, HttpError, ServerProcess, SomlierTestCase, request_json,
                         wait_until)

TOKEN = "tok-" + "7" * 40
NS = "ml-team"
IMAGE = "registry.example.com/somlier-runtime:0.1.0"
IN_CLUSTER_URL = "http://somlier.ml-team.svc:5000"

SOMLIER_YAML = '''
project:
  name: grid
entrypoints:
  main:
    command: python train.py
'''



class KubernetesTrainTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.api = FakeKubeApiServer().__enter__()
        self.addCleanup(self.api.__exit__, None, None, None)
        self.api.store[("namespaces", None, NS)] = {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
        self.repo = GitRepo(self.tmp / "repo")
        self.repo.write("projects/grid/somlier.yaml", SOMLIER_YAML)
        self.repo.write("projects/grid/train.py", "print('training')\n")
        self.head = self.repo.commit("grid project")
        # kubectl through a wrapper that records each argv, to show no token is in one.
        self.argv_log = self.tmp / "kubectl-argv.log"
        wrapper = self.tmp / "kubectl-wrapper"
        wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{self.argv_log}"\n'
                           'exec kubectl "$@"\n')
        wrapper.chmod(0o755)
        self.kube_env = dict(self.env, KUBECONFIG=self.api.kubeconfig(self.tmp),
                             SOMLIER_KUBECTL=str(wrapper), SOMLIER_K8S_NAMESPACE=NS,
                             SOMLIER_K8S_IMAGE=IMAGE, SOMLIER_K8S_TRACKING_URL=IN_CLUSTER_URL,
                             SOMLIER_K8S_POLL_MS="150", SOMLIER_TOKEN=TOKEN)
        self.server = None

    def start_server(self, env=None):
        self.server = ServerProcess(env or self.kube_env)
        self.addCleanup(self.server.stop)
        return self.server

    def call(self, path, body):
        return request_json("POST", self.server.url + path, body,
                            headers={"Authorization": f"Bearer {TOKEN}",
                                     "Content-Type": "application/json"})

    def train(self, **fields):
        body = {"project_name": "projects/grid", "project_ref": "main",
                "github_uri": str(self.repo.path), "params": {"lr": "0.1,0.2,0.3,0.4"}}
        body.update(fields)
        return self.call("/train", body)

    def show(self, run_id):
        return self.call("/runs/show", {"run_id": run_id})

    def jobs(self):
        return {j["metadata"]["labels"]["somlier.io/run-id"]: j
                for j in self.api.objects("jobs", NS)}

    def finish(self, run_id, exit_code=0, log=None):
        """The Job controller's part: the pod ran (with `log`) and the Job ended."""
        name = f"somlier-run-{run_id}"
        pods = [p for p in self.api.objects("pods", NS)
                if p["metadata"]["labels"].get("job-name") == name]
        pod = pods[0]["metadata"]["name"] if pods else self.api.start_pod(NS, name)
        if log is not None:
            self.api.set_log(NS, pod, log)
        self.api.set_pod_status(NS, pod, phase="Succeeded" if exit_code == 0 else "Failed",
                                containerStatuses=[{"name": "run", "state": {
                                    "terminated": {"exitCode": exit_code}}}])
        condition = ({"type": "Complete", "status": "True"} if exit_code == 0 else
                     {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                      "message": "Job has reached the specified backoff limit"})
        self.api.set_status("jobs", NS, name, {"conditions": [condition]})

    def status_of(self, run_id):
        return self.show(run_id)["status"]

    def assert_no_token_sent(self):
        for method, path, body in self.api.requests:
            self.assertNotIn(TOKEN, body, f"{method} {path}")
            self.assertNotIn(TOKEN, path)
        if self.argv_log.exists():
            self.assertNotIn(TOKEN, self.argv_log.read_text())

    def test_a_grid_of_four_runs_as_four_jobs_two_at_a_time_and_follows_them(self):
        self.start_server()
        answer = self.train(max_parallel=2, timeout=600)
        self.assertEqual(answer["executor"], "kubernetes")
        runs = [r["run_id"] for r in answer["runs"]]
        self.assertEqual(len(runs), 4)
        jobs = self.jobs()
        self.assertEqual(sorted(jobs), sorted(runs))
        for index, run_id in enumerate(runs):
            job = jobs[run_id]
            labels = job["metadata"]["labels"]
            self.assertEqual(labels["app.kubernetes.io/managed-by"], "somlier")
            self.assertEqual(labels["somlier.io/experiment-id"], answer["experiment_id"])
            self.assertEqual(labels["somlier.io/project"], "projects-grid-" +
                             labels["somlier.io/project"].rsplit("-", 1)[-1])
            self.assertEqual(job["metadata"]["annotations"]["somlier.io/index"], str(index))
            self.assertEqual(job["metadata"]["annotations"]["somlier.io/max-parallel"], "2")
            self.assertEqual(job["spec"]["suspend"], index >= 2, "two at a time")
            self.assertEqual(job["spec"]["activeDeadlineSeconds"], 600)
            pod = job["spec"]["template"]["spec"]
            [container] = pod["containers"]
            self.assertEqual(container["image"], IMAGE)
            self.assertEqual(container["command"],
                             ["/usr/bin/python3", "train.py", "--lr", f"0.{index + 1}"])
            self.assertEqual(container["workingDir"], "/workspace")
            env = {e["name"]: e for e in container["env"]}
            self.assertEqual(env["MLFLOW_RUN_ID"]["value"], run_id)
            self.assertEqual(env["MLFLOW_TRACKING_URI"]["value"], IN_CLUSTER_URL)
            self.assertEqual(env["SOMLIER_TOKEN"]["valueFrom"]["secretKeyRef"],
                             {"name": "somlier-token", "key": "token"})
            [init] = pod["initContainers"]
            self.assertEqual(init["command"][:2], ["somlier", "fetch-source"])
            self.assertEqual(init["command"][3:], ["/workspace", "--strip-components", "2"])
            archive = init["command"][2]
            self.assertTrue(archive.startswith(self.head + "-"), archive)
        self.assert_no_token_sent()

        # The init container's download: the project at its commit, behind the token.
        with self.assertRaises(HttpError) as refused:
            request_json("GET", f"{self.server.url}/api/somlier/source/{archive}.tar", raw=True)
        self.assertEqual(refused.exception.status, 401)
        # The route hands out archives of the git cache and nothing else, whatever the name.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for name in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e", self.head + "-" + "f" * 16,
                     archive + "%00", "x" * 5000, archive.upper()):
            with self.assertRaises(HttpError) as hostile:
                request_json("GET", f"{self.server.url}/api/somlier/source/{name}.tar",
                             headers=auth, raw=True)
            self.assertIn(hostile.exception.status, (400, 404, 422), name)
        self.assertGreater(len(request_json("GET", f"{self.server.url}/api/somlier/source/"
                                            f"{archive}.tar", headers=auth, raw=True)), 0)
        fetched = self.tmp / "fetched"
        out = self.somlier("fetch-source", archive, str(fetched), "--strip-components", "2",
                           env=dict(self.env, SOMLIER_SERVER=self.server.url,
                                    SOMLIER_TOKEN=TOKEN))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sorted(p.name for p in fetched.iterdir()), ["somlier.yaml", "train.py"])
        bad = self.somlier("fetch-source", "../../etc", str(fetched),
                           env=dict(self.env, SOMLIER_SERVER=self.server.url,
                                    SOMLIER_TOKEN=TOKEN))
        self.assertEqual(bad.returncode, 2, bad.stderr)

        # Run 0 runs, logs and finishes; run 1's pod fails with exit code 3.
        pod0 = self.api.start_pod(NS, f"somlier-run-{runs[0]}", phase="Running")
        self.api.set_log(NS, pod0, "epoch 1\n")
        wait_until(lambda: self.status_of(runs[0]) == "RUNNING", what="run 0 RUNNING")
        wait_until(lambda: "epoch 1" in self.call("/runs/logs", {"run_id": runs[0]})["text"],
              what="run 0's log")
        self.finish(runs[0], 0, log="epoch 1\nepoch 2\ndone\n")
        wait_until(lambda: self.status_of(runs[0]) == "FINISHED", what="run 0 FINISHED")
        self.assertEqual(self.call("/runs/logs", {"run_id": runs[0]})["text"],
                         "epoch 1\nepoch 2\ndone\n")
        # One place freed: the third Job is admitted, the fourth still waits.
        wait_until(lambda: not self.jobs()[runs[2]]["spec"]["suspend"], what="run 2 admitted")
        self.assertTrue(self.jobs()[runs[3]]["spec"]["suspend"])

        self.finish(runs[1], 3)
        wait_until(lambda: self.status_of(runs[1]) == "FAILED", what="run 1 FAILED")
        self.assertEqual(self.show(runs[1])["exit_code"], 3)
        wait_until(lambda: not self.jobs()[runs[3]]["spec"]["suspend"], what="run 3 admitted")

        # Run 2's image cannot be pulled: the run says so while it waits.
        self.api.start_pod(NS, f"somlier-run-{runs[2]}", container_statuses=[
            {"name": "run", "state": {"waiting": {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{IMAGE}"'}}}])
        wait_until(lambda: "ImagePullBackOff" in self.show(runs[2]).get("status_message", ""),
              what="the pull error in run 2's status")
        self.assertEqual(self.status_of(runs[2]), "SCHEDULED")

        # Killing it deletes its Job; while the cluster refuses the delete, SoMLier keeps
        # trying (a Job left behind would hold its resources).
        self.api.forbid("jobs", verbs={"delete"})
        killed = self.call("/runs/kill", {"run_id": runs[2], "wait": False})
        self.assertEqual(killed["status"], "KILLED")
        time.sleep(0.5)
        self.assertIn(runs[2], self.jobs())
        self.api.forbidden.pop("jobs")
        wait_until(lambda: runs[2] not in self.jobs(), what="the killed run's Job deleted")
        deletes = [p for m, p, _ in self.api.requests if m == "DELETE"]
        self.assertTrue(any(p.endswith(f"/jobs/somlier-run-{runs[2]}") for p in deletes))

        # The Job's deadline passing is a timeout.
        self.api.set_status("jobs", NS, f"somlier-run-{runs[3]}", {"conditions": [
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline"}]})
        wait_until(lambda: self.status_of(runs[3]) == "KILLED", what="run 3 timed out")
        self.assertIn("DeadlineExceeded", self.show(runs[3])["status_message"])
        self.assert_no_token_sent()

    def test_a_restarted_server_follows_the_jobs_it_left_running(self):
        self.start_server()
        runs = [r["run_id"] for r in self.train(max_parallel=4)["runs"]]
        pod = self.api.start_pod(NS, f"somlier-run-{runs[0]}", phase="Running")
        self.api.set_log(NS, pod, "step 1\n")
        wait_until(lambda: self.status_of(runs[0]) == "RUNNING", what="run 0 RUNNING")
        wait_until(lambda: "step 1" in self.call("/runs/logs", {"run_id": runs[0]})["text"],
              what="run 0's log")
        self.server.stop()
        # The cluster goes on while no server follows: the Jobs stay.
        self.assertEqual(len(self.jobs()), 4)
        self.api.set_log(NS, pod, "step 1\nstep 2\n")
        self.finish(runs[1], 0)
        self.api.store.pop(("jobs", NS, f"somlier-run-{runs[2]}"))  # expired, say

        self.start_server()
        wait_until(lambda: self.status_of(runs[1]) == "FINISHED", what="run 1 reconciled")
        wait_until(lambda: self.status_of(runs[2]) == "FAILED", what="run 2 without a Job")
        self.assertIn("its Kubernetes Job is gone", self.show(runs[2])["status_message"])
        self.assertEqual(self.status_of(runs[0]), "RUNNING")
        self.finish(runs[0], 0, log="step 1\nstep 2\nstep 3\n")
        wait_until(lambda: self.status_of(runs[0]) == "FINISHED", what="run 0 reconciled")
        # The log went on where the first server had left it, nothing twice.
        self.assertEqual(self.call("/runs/logs", {"run_id": runs[0]})["text"],
                         "step 1\nstep 2\nstep 3\n")
        self.call("/runs/kill", {"run_id": runs[3]})
        self.assertEqual(self.status_of(runs[3]), "KILLED")
        self.assertNotIn(runs[3], self.jobs())

    def test_kubectl_failing_halfway_leaves_no_job_and_fails_the_runs_with_its_words(self):
        self.start_server()
        self.api.forbid("jobs", after=2, verbs={"create"})
        with self.assertRaises(HttpError) as failed:
            self.train()
        self.assertEqual(failed.exception.status, 503, failed.exception.body)
        message = json.loads(failed.exception.body)["detail"]
        self.assertIn("creating the 4 Job(s) of the grid: kubectl failed", message)
        self.assertIn('cannot create resource "jobs"', message)
        self.assertIn("the Jobs it had created were deleted", message)
        self.assertEqual(self.api.objects("jobs", NS), [])
        runs = self.call("/runs/list", {"project_name": "projects/grid"})["runs"]
        self.assertEqual(len(runs), 4)
        for run in runs:
            self.assertEqual(run["status"], "FAILED")
            self.assertIn("cannot create resource", run["status_message"])

    def test_an_unreachable_cluster_is_reported_and_no_run_is_left_waiting(self):
        kubeconfig = pathlib.Path(self.kube_env["KUBECONFIG"])
        config = json.loads(kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
        kubeconfig.write_text(json.dumps(config))
        self.start_server()
        out = self.somlier("online", "train", "projects/grid", "main", "--github_uri",
                           str(self.repo.path), "--lr", "0.1,0.2", "--use_k8s_job=true",
                           env=dict(self.env, SOMLIER_SERVER=self.server.url,
                                    SOMLIER_TOKEN=TOKEN), timeout=120)
        self.assertFails(out, 6, "creating the 2 Job(s) of the grid: kubectl failed",
                         "connection refused")
        for run in self.call("/runs/list", {"project_name": "projects/grid"})["runs"]:
            self.assertEqual(run["status"], "FAILED")

    def test_dry_run_prints_the_manifests_and_changes_nothing(self):
        self.start_server()
        remote = dict(self.env, SOMLIER_SERVER=self.server.url, SOMLIER_TOKEN=TOKEN)
        out = self.somlier("online", "train", "projects/grid", "main", "--github_uri",
                           str(self.repo.path), "--lr", "0.1,0.2", "--use_gpu", "--dry_run",
                           "--output", "json", env=remote)
        self.assertEqual(out.returncode, 0, out.stderr)
        answer = json.loads(out.stdout)
        self.assertEqual((answer["dry_run"], answer["executor"], answer["commit"]),
                         (True, "kubernetes", self.head))
        self.assertEqual([m["kind"] for m in answer["runs"]], ["Job", "Job"])
        container = answer["runs"][0]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["resources"]["limits"]["nvidia.com/gpu"], "1")
        text = self.somlier("online", "train", "projects/grid", "main", "--github_uri",
                            str(self.repo.path), "--lr", "0.1,0.2", "--dry_run", env=remote)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertEqual(text.stdout.count("---\n"), 2)
        self.assertIn('kind: "Job"', text.stdout)
        self.assertIn("nothing was created", text.stderr)
        self.assertEqual(self.api.objects("jobs"), [])
        with self.assertRaises(HttpError) as none:
            self.call("/runs/list", {"project_name": "projects/grid"})
        self.assertEqual(none.exception.status, 404)
        self.assertFalse([r for r in self.api.requests if r[0] != "GET"])

    def test_a_projects_own_image_runs_without_the_download(self):
        self.repo.write("projects/grid/somlier.yaml",
                        "project:\n  name: grid\n  docker:\n    name: "
                        "registry.example.com/team/grid\n    tags: ['1.2']\n"
                        "entrypoints:\n  main:\n    command: python train.py\n")
        self.repo.commit("own image")
        self.start_server()
        answer = self.train(params={"lr": "0.5"}, dry_run=True)
        [job] = answer["runs"]
        pod = job["spec"]["template"]["spec"]
        self.assertEqual(pod["containers"][0]["image"], "registry.example.com/team/grid:1.2")
        self.assertEqual(pod["containers"][0]["command"], ["python", "train.py", "--lr", "0.5"])
        self.assertNotIn("initContainers", pod)

    def test_without_kubernetes_configured_the_request_is_refused_saying_what_is_missing(self):
        env = dict(self.kube_env)
        del env["SOMLIER_K8S_IMAGE"]
        self.start_server(env)
        with self.assertRaises(HttpError) as refused:
            self.train(use_k8s_job=True)
        self.assertEqual(refused.exception.status, 412, refused.exception.body)
        self.assertIn("SOMLIER_K8S_IMAGE", refused.exception.body)
        # Not configured: the default is this machine, and the answer says so.
        self.assertEqual(self.train(params={"lr": "0.1"})["executor"], "local")
        # In-process, pods could not reach the tracking server: refused, naming SOMLIER_SERVER.
        out = self.somlier("online", "train", "projects/grid", "main", "--github_uri",
                           str(self.repo.path), "--use_k8s_job=true", env=self.kube_env)
        self.assertFails(out, 5, "SOMLIER_SERVER")


if __name__ == "__main__":
    unittest.main()
