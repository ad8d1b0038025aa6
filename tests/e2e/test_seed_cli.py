"""`somlier search` and `somlier register` (and their `online` aliases), in-process on the
embedded store and against a server (SOMLIER_SERVER), plus the seed's REST endpoints."""
import json
import os
import subprocess
import unittest

from somlier_e2e import HttpError, ServerProcess, SomlierTestCase, request_json

EXIT_INVALID, EXIT_NOT_FOUND, EXIT_PRECONDITION = 2, 3, 5


class SeedCommandsTest(SomlierTestCase):
    """Runs every case in-process, then again through a server."""

    def setUp(self):
        super().setUp()
        # Data is created through a server on the same SOMLIER_HOME, then the server stops:
        # in-process commands read the same SQLite database.
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)  # also when a request below fails (stop is idempotent)
        api = f"{server.url}/api/2.0/mlflow"
        exp = request_json("POST", f"{api}/experiments/create", {"name": "example-projects/sklearn"})
        self.runs = {}
        for name, mae, alpha in (("a", 0.30, "0.1"), ("b", 0.12, "0.2"), ("c", 0.45, "0.3")):
            run = request_json("POST", f"{api}/runs/create",
                               {"experiment_id": exp["experiment_id"], "run_name": name})["run"]["info"]
            request_json("POST", f"{api}/runs/log-batch", {
                "run_id": run["run_id"],
                "metrics": [{"key": "training_mae", "value": mae, "timestamp": 1}],
                "params": [{"key": "alpha", "value": alpha}]})
            self.runs[name] = run
        # Only run b has a model.
        base = self.runs["b"]["artifact_uri"][len("mlflow-artifacts:/"):]
        request_json("PUT", f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{base}/model/MLmodel",
                     b"flavors: {}\n")
        request_json("POST", f"{api}/experiments/create", {"name": "empty-project"})
        server.stop()

    def modes(self):
        """(label, environment) for the in-process and the server mode."""
        yield "in-process", self.env
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        yield "server", dict(self.env, SOMLIER_SERVER=server.url)

    def test_search(self):
        for mode, env in self.modes():
            with self.subTest(mode=mode):
                out = self.somlier("search", "example-projects/sklearn", "training_mae", "ASC",
                                   env=env, check=0).stdout
                self.assertEqual(out.splitlines(), [f"run_id: {self.runs['b']['run_id']}",
                                                    "metric_value: 0.12"])
                answer = json.loads(self.somlier("online", "search", "example-projects/sklearn",
                                                 "training_mae", "desc", "--output", "json",
                                                 env=env, check=0).stdout)
                self.assertEqual(answer, {"run_id": self.runs["c"]["run_id"], "metric_value": "0.45"})
                table = self.somlier("search", "example-projects/sklearn", "training_mae", "ASC",
                                     "--top", "2", env=env, check=0).stdout.splitlines()
                self.assertEqual(table[0].split(), ["RANK", "RUN_ID", "NAME", "STATUS",
                                                    "training_mae", "PARAMS"])
                self.assertEqual(table[1].split(), ["1", self.runs["b"]["run_id"], "b", "RUNNING",
                                                    "0.12", "alpha=0.2"])
                self.assertEqual(table[2].split()[1], self.runs["a"]["run_id"])
                self.assertEqual(len(table), 3)

    def test_search_errors_match_the_seed(self):
        for mode, env in self.modes():
            with self.subTest(mode=mode):
                self.assertFails(self.somlier("search", "no-such-project", "training_mae", "ASC", env=env),
                                 EXIT_NOT_FOUND, "no-such-project")
                self.assertFails(self.somlier("search", "empty-project", "training_mae", "ASC", env=env),
                                 EXIT_NOT_FOUND, "no runs")
                self.assertFails(self.somlier("search", "example-projects/sklearn", "rmse", "ASC", env=env),
                                 EXIT_INVALID, "rmse")
                self.assertFails(self.somlier("search", "example-projects/sklearn", "training_mae",
                                              "UPWARDS", env=env),
                                 EXIT_INVALID, "UPWARDS")

    def test_register(self):
        for mode, env in self.modes():
            with self.subTest(mode=mode):
                name = f"model-{mode}"
                first = self.somlier("register", self.runs["b"]["run_id"], name, env=env, check=0)
                lines = first.stdout.splitlines()
                self.assertEqual(lines[0], "model_version: 1")
                self.assertEqual(lines[1], "is_newer_version: true")
                self.assertTrue(lines[2].startswith("message: "))
                again = json.loads(self.somlier("online", "register", self.runs["b"]["run_id"], name,
                                                "--output", "json", env=env, check=0).stdout)
                self.assertEqual((again["model_version"], again["is_newer_version"]), ("1", False))
                self.assertFails(self.somlier("register", "not-a-run-id", name, env=env),
                                 EXIT_INVALID, "not-a-run-id")
                self.assertFails(self.somlier("register", "0" * 32, name, env=env),
                                 EXIT_NOT_FOUND, "0" * 32)
                self.assertFails(self.somlier("register", self.runs["a"]["run_id"], name, env=env),
                                 EXIT_PRECONDITION, "model/MLmodel")

    def test_rest_endpoints_use_the_seed_shapes(self):
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        for prefix in ("", "/online"):
            answer = request_json("POST", f"{server.url}{prefix}/search", {
                "project_name": "example-projects/sklearn", "standard_metric": "training_mae",
                "order_by": "ASC"})
            self.assertEqual(answer, {"run_id": self.runs["b"]["run_id"], "metric_value": "0.12"})
        registered = request_json("POST", f"{server.url}/register",
                                  {"run_id": self.runs["b"]["run_id"], "model_name": "rest-model"})
        self.assertEqual(registered["model_version"], "1")
        self.assertIs(registered["is_newer_version"], True)
        for path, body, status in (
                ("/search", {"project_name": "nope", "standard_metric": "m", "order_by": "ASC"}, 404),
                ("/search", {"project_name": "example-projects/sklearn", "standard_metric": "rmse",
                             "order_by": "ASC"}, 422),
                ("/search", {"project_name": "empty-project", "standard_metric": "m", "order_by": "ASC"}, 404),
                ("/search", {"standard_metric": "m"}, 422),
                ("/register", {"run_id": "bad", "model_name": "m"}, 422),
                ("/register", {"run_id": "0" * 32, "model_name": "m"}, 404),
                ("/register", {"run_id": self.runs["a"]["run_id"], "model_name": "m"}, 412),
                ("/online/register", b"not json", 422)):
            with self.assertRaises(HttpError) as caught:
                request_json("POST", f"{server.url}{path}", body)
            error = caught.exception
            self.assertEqual(error.status, status, f"{path} {body}: {error.body}")
            self.assertEqual(sorted(error.json), ["detail", "status_code", "title"])
            self.assertEqual(error.json["status_code"], status)
            self.assertTrue(error.json["detail"])

    def test_server_unreachable(self):
        env = dict(self.env, SOMLIER_SERVER="http://127.0.0.1:1")
        self.assertFails(self.somlier("search", "p", "m", "ASC", env=env), 6, "127.0.0.1:1")
        env["SOMLIER_SERVER"] = "ftp://host"
        self.assertFails(self.somlier("search", "p", "m", "ASC", env=env), EXIT_INVALID, "ftp://host")


class PythonPathTest(SomlierTestCase):
    def test_prints_the_package_directory(self):
        out = self.somlier("python-path", check=0).stdout.strip()
        self.assertTrue(os.path.isfile(os.path.join(out, "somlier", "__init__.py")), out)
        env = dict(self.env, SOMLIER_PYTHON_PACKAGE_DIR=str(self.tmp))
        self.assertFails(self.somlier("python-path", env=env), 3, str(self.tmp))


if __name__ == "__main__":
    unittest.main()
