"""`somlier online train` end to end: projects from real git repositories made here, the
parameter grid, both clients logging into their runs, failures, Ctrl-C and timeouts without
leftover processes, cached virtualenvs, POST /train, `runs` commands and recovery after a
server dies."""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time
import unittest

from somlier_e2e import (GitRepo, HttpError, PYTHON, ServerProcess, SomlierTestCase,
                         SOURCE_DIR, process_group_alive, request_json, wait_for_lines)

# A project script that reports what it got and logs through both clients: the MLflow REST
# protocol exactly as the mlflow client speaks it (MLFLOW_TRACKING_URI, MLFLOW_RUN_ID,
# MLFLOW_TRACKING_TOKEN; the mlflow package itself cannot be installed here) and the
# somlier package.
TRAIN_PY = r'''
import json, os, subprocess, sys, time, urllib.request
import somlier

args = sys.argv[1:]
params = dict(zip(args[0::2], args[1::2]))
print("ARGV " + json.dumps(args), flush=True)
print("GROUP %d %d" % (os.getpid(), os.getpgid(0)), flush=True)
print("PREFIX " + sys.prefix, flush=True)

def mlflow_call(path, body):
    headers = {"Content-Type": "application/json"}
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]
    request = urllib.request.Request(
        os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/" + path,
        data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)

run_id = os.environ["MLFLOW_RUN_ID"]
mlflow_call("runs/log-metric", {"run_id": run_id, "key": "mlflow_client", "value": 1.0,
                                "timestamp": int(time.time() * 1000), "step": 0})
marks = os.environ.get("E2E_MARKS")
start = time.time()
time.sleep(float(params.get("--sleep", "0")))
with somlier.start_run():
    lr = float(params.get("--learning_rate", "0"))
    bs = float(params.get("--batch_size", "0"))
    somlier.log_metric("product", lr * bs)
if marks:
    with open(marks, "a") as f:
        f.write("%f %f\n" % (start, time.time()))
if params.get("--spawn") == "yes":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    print("CHILD %d" % child.pid, flush=True)
    time.sleep(300)
sys.exit(int(params.get("--code", "0")))
'''

SOMLIER_YAML = '''
project:
  name: grid
entrypoints:
  main:
    command: python train.py
'''

SEED_GRID = ["--learning_rate", "0.001..0.005..0.001", "--batch_size", "64,128",
             "--num_epochs", "3"]


class TrainTestCase(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.repo = GitRepo(self.tmp / "repo")
        self.repo.write("example-projects/grid/somlier.yaml", SOMLIER_YAML)
        self.repo.write("example-projects/grid/train.py", TRAIN_PY)
        self.head = self.repo.commit("grid project")

    def train(self, *args, project="example-projects/grid", ref="main", check=None, env=None,
              timeout=300):
        return self.somlier("online", "train", project, ref, "--github_uri", str(self.repo.path),
                            *args, check=check, env=env, timeout=timeout)

    def runs(self, project="example-projects/grid", env=None):
        result = self.somlier("runs", "list", project, "--output", "json", env=env, check=0)
        return json.loads(result.stdout)["runs"]

    def show(self, run_id, env=None):
        return json.loads(self.somlier("runs", "show", run_id, "--output", "json", env=env,
                                       check=0).stdout)

    def logs(self, run_id, env=None):
        return self.somlier("runs", "logs", run_id, env=env, check=0).stdout


class GridTest(TrainTestCase):
    def test_seed_grid_runs_in_parallel_each_run_logged_by_both_clients(self):
        marks = self.tmp / "marks"
        env = dict(self.env, E2E_MARKS=str(marks))
        result = self.train(*SEED_GRID, "--sleep", "1", "--max_parallel", "4", env=env, check=0)
        self.assertIn("8 runs submitted", result.stdout)

        runs = self.runs()
        self.assertEqual(len(runs), 8)
        grid = sorted((r["params"]["learning_rate"], r["params"]["batch_size"],
                       r["params"]["num_epochs"]) for r in runs)
        self.assertEqual(grid, sorted((lr, bs, "3") for lr in ("0.001", "0.002", "0.003", "0.004")
                                      for bs in ("64", "128")))
        for run in runs:
            self.assertEqual(run["status"], "FINISHED", run)
            self.assertEqual(run["exit_code"], 0)
            lr, bs = float(run["params"]["learning_rate"]), float(run["params"]["batch_size"])
            self.assertAlmostEqual(run["metrics"]["product"], lr * bs)  # somlier client
            self.assertEqual(run["metrics"]["mlflow_client"], 1.0)     # MLflow protocol
            self.assertLessEqual(run["start_time"], run["end_time"])
            # The parameters reached the program as --name value, in the order given.
            argv = json.loads(re.search(r"ARGV (.*)", self.logs(run["run_id"])).group(1))
            self.assertEqual(argv, ["--learning_rate", run["params"]["learning_rate"],
                                    "--batch_size", run["params"]["batch_size"],
                                    "--num_epochs", "3", "--sleep", "1"])

        shown = self.show(runs[0]["run_id"])
        self.assertEqual(shown["source"], {
            "git_uri": str(self.repo.path), "git_ref": "main", "git_commit": self.head,
            "project_path": "example-projects/grid", "entrypoint": "main"})
        self.assertEqual(shown["tags"]["mlflow.source.git.commit"], self.head)
        self.assertEqual(shown["tags"]["mlflow.source.type"], "PROJECT")

        # The experiment is the project, and four runs ran at once.
        experiments = self.somlier("search", "example-projects/grid", "product", "DESC", check=0)
        self.assertIn("metric_value: 0.512", experiments.stdout)
        spans = [tuple(map(float, line.split())) for line in marks.read_text().splitlines()]
        overlap = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
        self.assertGreaterEqual(overlap, 2, spans)
        self.assertLessEqual(overlap, 4, spans)
        # Every run's copy of the project is gone; the logs stay in the artifacts.
        self.assertEqual(list((self.home / "work").iterdir()), [])

    def test_branch_tag_and_commit_refs(self):
        first = self.head
        self.repo.git("tag", "v1")
        self.repo.git("checkout", "-q", "-b", "feature")
        self.repo.write("example-projects/grid/train.py", 'print("FEATURE")\n' + TRAIN_PY)
        feature = self.repo.commit("feature")
        self.repo.git("checkout", "-q", "main")

        for ref, commit, feature_line in (("main", first, False), ("feature", feature, True),
                                          ("v1", first, False), (feature[:10], feature, True)):
            self.train("--x", "1", ref=ref, check=0)
            run = self.runs()[0]
            self.assertEqual(self.show(run["run_id"])["source"]["git_commit"], commit, ref)
            self.assertEqual("FEATURE" in self.logs(run["run_id"]), feature_line, ref)

        # A new commit upstream is fetched by the next train.
        self.repo.write("example-projects/grid/train.py", 'print("NEWER")\n' + TRAIN_PY)
        newer = self.repo.commit("newer")
        self.train("--x", "2", check=0)
        run = self.runs()[0]
        self.assertEqual(self.show(run["run_id"])["source"]["git_commit"], newer)
        self.assertIn("NEWER", self.logs(run["run_id"]))

    def test_mlproject_parameters_by_placeholder_and_appended(self):
        self.repo.write("example-projects/ml/MLproject", '''
            name: ml
            entry_points:
              main:
                parameters:
                  alpha: {type: float, default: 0.5}
                  label: {type: string, default: "a b"}
                  epochs: int
                command: "python train.py --alpha {alpha} --label {label}"
            ''')
        self.repo.write("example-projects/ml/train.py", TRAIN_PY)
        self.repo.commit("mlproject")
        self.train("--epochs", "2,3", "--alpha", "0.25", project="example-projects/ml", check=0)
        runs = self.runs("example-projects/ml")
        self.assertEqual(sorted(r["params"]["epochs"] for r in runs), ["2", "3"])
        for run in runs:
            argv = json.loads(re.search(r"ARGV (.*)", self.logs(run["run_id"])).group(1))
            # {alpha} and {label} filled in place (a value with a space stays one argument);
            # epochs, declared without a placeholder, appended as --epochs value.
            self.assertEqual(argv, ["--alpha", "0.25", "--label", "a b", "--epochs",
                                    run["params"]["epochs"]])
            self.assertEqual(run["params"], {"epochs": run["params"]["epochs"], "alpha": "0.25"})

        # Undeclared parameters and values of the wrong type are refused before any run.
        before = len(runs)
        self.assertFails(self.train("--epochs", "1", "--beta", "1", project="example-projects/ml"),
                         2, "does not declare a parameter 'beta'")
        self.assertFails(self.train("--epochs", "x,y", project="example-projects/ml"), 2,
                         "parameter 'epochs'", "'x'")
        self.assertFails(self.train(project="example-projects/ml"), 2,
                         "needs a value for parameter 'epochs'")
        self.assertEqual(len(self.runs("example-projects/ml")), before)

    def test_a_failing_run_fails_alone(self):
        result = self.train("--code", "0,3,0", "--max_parallel", "3")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("3 runs submitted", result.stdout)
        runs = {r["params"]["code"]: [] for r in self.runs()}
        for run in self.runs():
            runs[run["params"]["code"]].append(run)
        failed = runs["3"][0]
        self.assertEqual(failed["status"], "FAILED")
        self.assertEqual(failed["exit_code"], 3)
        self.assertEqual(failed["status_message"], "exited with code 3")
        self.assertEqual([r["status"] for r in runs["0"]], ["FINISHED", "FINISHED"])
        self.assertIn("FAILED after", result.stderr)

    def test_errors_are_reported_before_anything_is_created(self):
        cases = [
            (["--x", "1"], {"ref": "no-such-branch"}, 3, "the project's version does not exist"),
            (["--x", "1"], {"project": "example-projects/none"}, 3, "the project does not exist"),
            (["--x", "1"], {"project": "../outside"}, 2, "'..'"),
            (["--x", "1"], {"project": "/etc"}, 2, "/etc"),
            (["--lr", "0.1..0.5"], {}, 2, "--lr 0.1..0.5"),
            (["--lr", "0.1..0.5..0"], {}, 2, "increment must not be 0"),
            (["--lr", "0.5..0.1..0.1"], {}, 2, "--lr 0.5..0.1..0.1"),
            (["--lr", "0.1..0.1..0.1"], {}, 2, "--lr 0.1..0.1..0.1"),
            (["--lr", "a,,b"], {}, 2, "--lr a,,b"),
            (["--lr"], {}, 2, "parameter 'lr' has no value"),
            (["--lr", "1", "--lr", "2"], {}, 2, "parameter 'lr' is given twice"),
            (["--entrypoint", "nope"], {}, 3, "entrypoint 'nope' is not defined"),
            (["--use_k8s_job=true"], {}, 5, "needs a SoMLier server the cluster can reach"),
            (["--env_manager", "conda"], {}, 2, "conda"),
        ]
        for args, where, code, message in cases:
            with self.subTest(args=args, where=where):
                self.assertFails(self.train(*args, **where), code, message)
        bad_repo = self.somlier("online", "train", "example-projects/grid", "main",
                                "--github_uri", str(self.tmp / "missing-repo"))
        self.assertFails(bad_repo, 3, "could not be fetched")
        dash = self.somlier("online", "train", "example-projects/grid", "main",
                            "--github_uri=--upload-pack=touch /tmp/pwned")
        self.assertFails(dash, 2, "must not start with '-'")
        no_uri = self.somlier("online", "train", "example-projects/grid", "main")
        self.assertFails(no_uri, 2, "SOMLIER_DEFAULT_PROJECT_URI")
        # A token in the URI is never shown (port 9: nothing listens there).
        secret = self.somlier("online", "train", "example-projects/grid", "main", "--github_uri",
                              "https://ghp_not_a_real_token@127.0.0.1:9/org/repo.git")
        self.assertFails(secret, 3, "https://***@127.0.0.1:9/org/repo.git")
        self.assertNotIn("ghp_not_a_real_token", secret.stderr + secret.stdout)
        # Nothing was made: no experiment, no run, no copy of the project.
        self.assertFails(self.somlier("runs", "list", "example-projects/grid"), 3, "has no runs")
        self.assertEqual(list((self.home / "work").glob("*")) if (self.home / "work").exists()
                         else [], [])

    def test_default_repository_from_the_environment(self):
        env = dict(self.env, SOMLIER_DEFAULT_PROJECT_URI=str(self.repo.path))
        self.somlier("online", "train", "example-projects/grid", "main", "--x", "1", env=env,
                     check=0)
        self.assertEqual(len(self.runs()), 1)


class StopTest(TrainTestCase):
    def started_groups(self, proc, count):
        lines = wait_for_lines(proc.stderr, lambda line: "CHILD" in line, count, timeout=120)
        return [int(m.group(2)) for m in (re.search(r"GROUP (\d+) (\d+)", l) for l in lines) if m]

    def test_ctrl_c_kills_every_process_group(self):
        proc = self.start_somlier("online", "train", "example-projects/grid", "main",
                                  "--github_uri", str(self.repo.path), "--spawn", "yes",
                                  "--x", "1,2,3", "--max_parallel", "2")
        groups = self.started_groups(proc, 2)
        self.assertEqual(len(groups), 2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("3 runs submitted", out)
        statuses = {r["status"] for r in self.runs()}
        self.assertEqual(statuses, {"KILLED"})
        self.assertTrue(all(r.get("status_message") == "interrupted (SIGINT)" for r in self.runs()))
        for pgid in groups:
            self.assertFalse(process_group_alive(pgid), f"process group {pgid} survived")

    def test_timeout_kills_the_run_and_its_children(self):
        proc = self.start_somlier("online", "train", "example-projects/grid", "main",
                                  "--github_uri", str(self.repo.path), "--spawn", "yes",
                                  "--timeout", "2")
        groups = self.started_groups(proc, 1)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, err)
        run = self.runs()[0]
        self.assertEqual(run["status"], "KILLED")
        self.assertEqual(run["status_message"], "timed out after 2 s")
        self.assertFalse(process_group_alive(groups[0]))


class EnvironmentTest(TrainTestCase):
    def test_virtualenv_is_made_once_and_reused(self):
        self.repo.write("example-projects/grid/requirements.txt", "numpy\n")
        self.repo.commit("requirements")
        first = self.train("--x", "1,2,3,4", "--max_parallel", "4", check=0)
        self.assertIn("creating", first.stderr.lower())
        envs = [p for p in (self.home / "envs").iterdir() if p.is_dir()]
        self.assertEqual(len(envs), 1, envs)
        marker = envs[0] / ".somlier-ready"
        made = marker.stat().st_mtime_ns
        prefixes = {re.search(r"PREFIX (.*)", self.logs(r["run_id"])).group(1).strip()
                    for r in self.runs()}
        self.assertEqual(prefixes, {str(envs[0])})

        second = self.train("--x", "5,6", check=0)
        self.assertNotIn("creating", second.stderr.lower())
        self.assertEqual([p for p in (self.home / "envs").iterdir() if p.is_dir()], envs)
        self.assertEqual(marker.stat().st_mtime_ns, made)

        # --env_manager local runs the interpreter as it is.
        self.train("--x", "7", "--env_manager", "local", check=0)
        run = self.runs()[0]
        self.assertEqual(run["params"]["x"], "7")
        prefix = re.search(r"PREFIX (.*)", self.logs(run["run_id"])).group(1).strip()
        self.assertNotEqual(prefix, str(envs[0]))


    def test_ctrl_c_while_the_virtualenv_is_made_stops_at_once(self):
        self.repo.write("example-projects/grid/requirements.txt", "numpy\n")
        self.repo.commit("requirements")
        proc = self.start_somlier("online", "train", "example-projects/grid", "main",
                                  "--github_uri", str(self.repo.path), "--x", "1,2")
        wait_for_lines(proc.stderr, lambda line: "creating a virtualenv" in line, 1)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        self.assertLess(time.monotonic() - started, 15)
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual({r["status"] for r in self.runs()}, {"KILLED"})
        # The half-made virtualenv is gone; the next train makes a whole one.
        self.assertEqual([p for p in (self.home / "envs").iterdir() if p.is_dir()], [])
        self.train("--x", "3", check=0)
        self.assertEqual(self.runs()[0]["status"], "FINISHED")


class ServerTrainTest(TrainTestCase):
    def start_server(self, *args):
        server = ServerProcess(self.env, *args)
        self.addCleanup(server.stop)
        return server

    def poll_until_ended(self, url, run_ids, headers=None, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            runs = [request_json("POST", url + "/runs/show", {"run_id": r}, headers=headers)
                    for r in run_ids]
            if all(r["status"] in ("FINISHED", "FAILED", "KILLED") for r in runs):
                return runs
            self.assertLess(time.monotonic(), deadline, runs)
            time.sleep(0.2)

    def test_post_train_returns_at_once_and_runs_on_the_server(self):
        server = self.start_server("--token", "s3cret")
        headers = {"Authorization": "Bearer s3cret"}
        answer = request_json("POST", server.url + "/train", {
            "project_name": "example-projects/grid", "project_ref": "main",
            "github_uri": str(self.repo.path),
            "params": {"learning_rate": "0.001..0.003..0.001", "batch_size": [64, 128]},
        }, headers=headers)
        self.assertEqual(len(answer["runs"]), 4)
        self.assertEqual(answer["run_id"], answer["runs"][0]["run_id"])
        self.assertIn(answer["status"], ("SCHEDULED", "RUNNING"))
        self.assertEqual(answer["commit"], self.head)
        self.assertEqual([(r["params"]["learning_rate"], r["params"]["batch_size"])
                          for r in answer["runs"]],
                         [("0.001", "64"), ("0.001", "128"), ("0.002", "64"), ("0.002", "128")])
        runs = self.poll_until_ended(server.url, [r["run_id"] for r in answer["runs"]], headers)
        for run in runs:
            self.assertEqual(run["status"], "FINISHED", run)
            self.assertEqual(run["metrics"]["mlflow_client"], 1.0)
        # The MLflow API sees the same runs.
        got = request_json("GET", server.url + "/api/2.0/mlflow/runs/get?run_id=" +
                           answer["run_id"], headers=headers)
        self.assertEqual(got["run"]["info"]["status"], "FINISHED")

        # The seed's errors, in the seed's shape.
        for body, status, fragment in (
                ({"project_name": "example-projects/grid", "project_ref": "nope",
                  "github_uri": str(self.repo.path)}, 404, "the project's version does not exist"),
                ({"project_name": "example-projects/nope", "project_ref": "main",
                  "github_uri": str(self.repo.path)}, 404, "the project does not exist"),
                ({"project_name": "example-projects/grid", "project_ref": "main",
                  "github_uri": str(self.repo.path), "params": {"lr": "1..0..1"}}, 422, "lr"),
                ({"project_name": "example-projects/grid", "project_ref": "-x",
                  "github_uri": str(self.repo.path)}, 422, "must not start with '-'"),
                ({"project_name": "example-projects/grid", "project_ref": "main",
                  "github_uri": str(self.repo.path), "use_k8s_job": True}, 412,
                 "Kubernetes is not configured for this server: set SOMLIER_K8S_IMAGE"),
                ({"project_ref": "main"}, 422, "'project_name' is required"),
                ({"project_name": "x", "project_ref": "main", "github_url": "typo"}, 422,
                 "unknown field 'github_url'")):
            with self.subTest(body=body):
                with self.assertRaises(HttpError) as caught:
                    request_json("POST", server.url + "/online/train", body, headers=headers)
                self.assertEqual(caught.exception.status, status, caught.exception.body)
                self.assertEqual(caught.exception.json["status_code"], status)
                self.assertIn(fragment, caught.exception.json["detail"])

    def test_cli_against_a_server_waits_and_kills(self):
        server = self.start_server()
        remote = dict(self.env, SOMLIER_SERVER=server.url)
        submitted = self.train("--x", "1,2", env=remote, check=0)
        self.assertIn("2 runs submitted", submitted.stdout)
        self.assertIn("SCHEDULED", submitted.stdout)
        waited = self.train("--x", "3", "--code", "4", "--wait", env=remote)
        self.assertEqual(waited.returncode, 1, waited.stderr)
        self.assertIn("FAILED", waited.stdout)
        self.assertIn("ARGV", waited.stderr)  # the run's output, followed remotely

        slow = request_json("POST", server.url + "/train", {
            "project_name": "example-projects/grid", "project_ref": "main",
            "github_uri": str(self.repo.path), "params": {"spawn": "yes"}})
        run_id = slow["run_id"]
        deadline = time.monotonic() + 60
        while "CHILD" not in self.logs(run_id, env=remote):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.2)
        pgid = int(re.search(r"GROUP \d+ (\d+)", self.logs(run_id, env=remote)).group(1))
        killed = self.somlier("runs", "kill", run_id, env=remote, check=0)
        self.assertIn("KILLED", killed.stdout)
        self.assertFalse(process_group_alive(pgid))
        self.assertEqual(self.show(run_id, env=remote)["status_message"],
                         "killed by `somlier runs kill`")
        again = self.somlier("runs", "kill", run_id, env=remote)
        self.assertFails(again, 5, "has already ended (KILLED)")

    def test_a_restarted_server_fails_the_runs_it_lost(self):
        server = self.start_server()
        slow = request_json("POST", server.url + "/train", {
            "project_name": "example-projects/grid", "project_ref": "main",
            "github_uri": str(self.repo.path), "params": {"spawn": "yes", "x": "1,2,3"},
            "max_parallel": 2})
        remote = dict(self.env, SOMLIER_SERVER=server.url)
        running = []
        deadline = time.monotonic() + 60
        while len(running) < 2:
            self.assertLess(time.monotonic(), deadline)
            running = [r for r in slow["runs"] if "CHILD" in self.logs(r["run_id"], env=remote)]
            time.sleep(0.2)
        groups = [int(re.search(r"GROUP \d+ (\d+)", self.logs(r["run_id"], env=remote)).group(1))
                  for r in running]
        server.kill()  # SIGKILL: no chance to clean up

        restarted = self.start_server()
        for run in slow["runs"]:
            shown = request_json("POST", restarted.url + "/runs/show", {"run_id": run["run_id"]})
            self.assertEqual(shown["status"], "FAILED", shown)
            self.assertIn("ended before the run did", shown["status_message"])
            got = request_json("GET", restarted.url + "/api/2.0/mlflow/runs/get?run_id=" +
                               run["run_id"])
            self.assertEqual(got["run"]["info"]["status"], "FAILED")
        for pgid in groups:
            self.assertFalse(process_group_alive(pgid))

    def wait_for_child(self, url, run_id, timeout=60):
        """Waits (over HTTP only) until the run's script has started its child; returns the
        run's process group."""
        deadline = time.monotonic() + timeout
        while True:
            text = request_json("POST", url + "/runs/logs", {"run_id": run_id})["text"]
            if "CHILD" in text:
                return int(re.search(r"GROUP \d+ (\d+)", text).group(1))
            self.assertLess(time.monotonic(), deadline, text)
            time.sleep(0.2)

    def assert_failed_without_any_command(self, url, run_id, pgid, timeout=30):
        """The MLflow API reports the run FAILED within `timeout` — only this server reads
        it — and its processes are gone."""
        deadline = time.monotonic() + timeout
        while True:
            info = request_json("GET", url + "/api/2.0/mlflow/runs/get?run_id=" +
                                run_id)["run"]["info"]
            if info["status"] != "RUNNING":
                break
            self.assertLess(time.monotonic(), deadline, "still RUNNING: " + str(info))
            time.sleep(0.5)
        self.assertEqual(info["status"], "FAILED", info)
        self.assertIn("end_time", info)
        shown = request_json("POST", url + "/runs/show", {"run_id": run_id})
        self.assertIn("ended before the run did", shown["status_message"])
        deadline = time.monotonic() + 10
        while process_group_alive(pgid):
            self.assertLess(time.monotonic(), deadline, f"group {pgid} outlived its run")
            time.sleep(0.1)

    def test_a_running_server_fails_the_runs_of_executors_that_die(self):
        # A server that keeps running sees the runs other processes execute on the same
        # store. Their executor can die under it: an in-process `somlier online train`...
        server = self.start_server()
        train = self.start_somlier("online", "train", "example-projects/grid", "main",
                                   "--github_uri", str(self.repo.path), "--spawn", "yes")
        deadline = time.monotonic() + 60
        runs = []
        while not runs:
            self.assertLess(time.monotonic(), deadline)
            try:
                runs = request_json("POST", server.url + "/runs/list",
                                    {"project_name": "example-projects/grid"})["runs"]
            except HttpError as e:
                self.assertEqual(e.status, 404, e.body)  # no experiment yet
            time.sleep(0.2)
        run_id = runs[0]["run_id"]
        pgid = self.wait_for_child(server.url, run_id)
        train.kill()  # SIGKILL: the CLI cannot end its run
        train.wait(timeout=10)
        self.assert_failed_without_any_command(server.url, run_id, pgid)

        # ... or another server.
        other = ServerProcess(self.env)
        self.addCleanup(other.kill)
        answer = request_json("POST", other.url + "/train", {
            "project_name": "example-projects/grid", "project_ref": "main",
            "github_uri": str(self.repo.path), "params": {"spawn": "yes"}})
        pgid = self.wait_for_child(server.url, answer["run_id"])
        other.kill()
        self.assert_failed_without_any_command(server.url, answer["run_id"], pgid)


# Loads a model directory with the somlier package (argv[1]) and predicts on argv[2] (JSON:
# a DataFrame in split form, or an array); prints MLmodel and the predictions as JSON.
LOAD_AND_PREDICT_PY = r'''
import json, sys
import somlier
from somlier import _models
path, example = sys.argv[1], json.loads(sys.argv[2])
model = somlier.load_model(path)
if "columns" in example:
    import pandas as pd
    predictions = model.predict(pd.DataFrame(example["data"], columns=example["columns"]))
else:
    import torch
    with torch.no_grad():
        predictions = model(torch.tensor(example["inputs"], dtype=torch.float32))
print(json.dumps({"class": type(model).__name__, "mlmodel": _models.read_mlmodel(path),
                  "predictions": predictions.tolist()}))
'''


class ExampleProjectTest(SomlierTestCase):
    def train_example(self, example, *args):
        """Trains examples/EXAMPLE once (as example-projects/EXAMPLE of a git repository);
        returns the run (as `runs list` shows it) and its model directory."""
        repo = GitRepo(self.tmp / "ml-projects")
        shutil.copytree(SOURCE_DIR / "examples" / example,
                        repo.path / "example-projects" / example)
        repo.commit(f"the {example} example")
        self.somlier("online", "train", f"example-projects/{example}", "main", "--github_uri",
                     str(repo.path), *args, timeout=600, check=0)
        [run] = json.loads(self.somlier("runs", "list", f"example-projects/{example}",
                                        "--output", "json", check=0).stdout)["runs"]
        self.assertEqual(run["status"], "FINISHED", run)
        artifact_uri = json.loads(self.somlier("runs", "show", run["run_id"], "--output",
                                               "json", check=0).stdout)["artifact_uri"]
        self.assertTrue(artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri)
        model_dir = self.home / "artifacts" / artifact_uri[len("mlflow-artifacts:/"):] / "model"
        self.assertTrue((model_dir / "MLmodel").is_file(), model_dir)
        return run, model_dir

    def load_and_predict(self, model_dir, example):
        """MLmodel and the model's predictions on `example`, loaded by the somlier package
        in a fresh interpreter (outside the project: the model carries what it needs)."""
        package_dir = self.somlier("python-path", check=0).stdout.strip()
        script = self.write("load_and_predict.py", LOAD_AND_PREDICT_PY)
        result = subprocess.run([PYTHON, str(script), str(model_dir), json.dumps(example)],
                                cwd=self.tmp, env=dict(self.env, PYTHONPATH=package_dir),
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout.splitlines()[-1])

    def test_tabular_example_logs_a_typed_signature_and_predicts_string_labels(self):
        run, model_dir = self.train_example("tabular")
        self.assertEqual(run["params"]["C"], "1.0")
        self.assertGreater(run["metrics"]["validation_accuracy"], 0.75)
        columns = ["plan", "region", "tenure_months", "has_support", "monthly_spend"]
        got = self.load_and_predict(model_dir, {"columns": columns, "data": [
            ["pro", "north", 12, True, 42.5],         # README's request
            ["basic", "south", 2, False, 35.0],
            ["gold", "mars", 40, True, 99.0]]})       # unknown categories are ignored
        self.assertEqual(got["class"], "Pipeline")
        self.assertEqual(got["predictions"], ["stay", "churn", "stay"])
        signature = got["mlmodel"]["signature"]
        self.assertEqual(json.loads(signature["inputs"]), [
            {"type": "string", "name": "plan", "required": True},
            {"type": "string", "name": "region", "required": True},
            {"type": "long", "name": "tenure_months", "required": True},
            {"type": "boolean", "name": "has_support", "required": True},
            {"type": "double", "name": "monthly_spend", "required": True}])
        self.assertEqual(json.loads(signature["outputs"]),  # labels: strings, as MLflow says
                         [{"type": "tensor", "tensor-spec": {"dtype": "object", "shape": [-1]}}])
        example = json.loads((model_dir / "input_example.json").read_text())
        self.assertEqual(example["columns"], columns)
        self.assertEqual(len(example["data"]), 3)

    def test_pytorch_cnn_entrypoint_logs_a_tensor_signature(self):
        run, model_dir = self.train_example("pytorch", "--entrypoint", "cnn")
        self.assertEqual((run["params"]["model"], run["params"]["num_epochs"]), ("cnn", "5"))
        self.assertGreater(run["metrics"]["validation_accuracy"], 0.8)
        example = json.loads((model_dir / "input_example.json").read_text())
        got = self.load_and_predict(model_dir, example)
        self.assertEqual(got["class"], "DigitsCNN")
        self.assertEqual([len(got["predictions"]), len(got["predictions"][0])], [3, 10])
        signature = got["mlmodel"]["signature"]
        self.assertEqual(json.loads(signature["inputs"]), [
            {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 8, 8]}}])
        self.assertEqual(json.loads(signature["outputs"]), [
            {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}}])
        self.assertEqual(got["mlmodel"]["flavors"]["pytorch"]["code"], "code")
        self.assertTrue((model_dir / "code" / "model.py").is_file())

    def test_sklearn_example_trains_searches_and_registers(self):
        repo = GitRepo(self.tmp / "ml-projects")
        shutil.copytree(SOURCE_DIR / "examples" / "sklearn",
                        repo.path / "example-projects" / "sklearn")
        repo.commit("the sklearn example")
        self.somlier("online", "train", "example-projects/sklearn", "main", "--github_uri",
                     str(repo.path), "--learning_rate", "0.05,0.1", "--max_depth", "2",
                     "--n_estimators", "50", timeout=600, check=0)
        best = self.somlier("search", "example-projects/sklearn", "training_mae", "ASC",
                            "--output", "json", check=0)
        run_id = json.loads(best.stdout)["run_id"]
        registered = json.loads(self.somlier("register", run_id, "diabetes", "--output", "json",
                                             check=0).stdout)
        self.assertEqual(registered["model_version"], "1")
        self.assertTrue(registered["is_newer_version"])


if __name__ == "__main__":
    unittest.main()
