"""MLflow's REST API on the built `somlier server`, written from MLflow's protocol
definitions (service.proto, model_registry.proto, mlflow_artifacts.proto), on SQLite and
on PostgreSQL."""
import http.client
import json
import random
import unittest
import urllib.parse

from somlier_e2e import HttpError, ServerProcess, SomlierTestCase, new_postgres_database
from somlier_e2e import request_json


class TrackingApiTests:
    """Mixed into a SomlierTestCase with `database_url()`."""

    def setUp(self):
        super().setUp()
        url = self.database_url()
        if url:
            self.env["SOMLIER_DATABASE_URL"] = url
        self.server = ServerProcess(self.env)
        self.addCleanup(self.server.stop)
        if url:
            self.assertIn("database postgresql://", "".join(self.server.stderr_lines))

    # -- helpers --------------------------------------------------------------------------

    def call(self, method, endpoint, body=None, prefix="/api/2.0/mlflow"):
        url = f"{self.server.url}{prefix}/{endpoint}"
        if method == "GET" and body:
            url += "?" + urllib.parse.urlencode(body, doseq=True)
            body = None
        return request_json(method, url, body)

    def fails(self, status, error_code, method, endpoint, body=None, fragment=None):
        with self.assertRaises(HttpError) as caught:
            self.call(method, endpoint, body)
        error = caught.exception
        self.assertEqual(error.status, status, error.body)
        self.assertEqual(error.json["error_code"], error_code, error.body)
        if fragment:
            self.assertIn(fragment, error.json["message"])
        return error.json

    def experiment(self, name="exp"):
        return self.call("POST", "experiments/create", {"name": name})["experiment_id"]

    def new_run(self, experiment_id, **extra):
        return self.call("POST", "runs/create",
                         {"experiment_id": experiment_id, **extra})["run"]["info"]["run_id"]

    # -- experiments ----------------------------------------------------------------------

    def test_experiments(self):
        self.assertEqual(request_json("GET", f"{self.server.url}/health", raw=True), b"OK")
        default = self.call("GET", "experiments/get", {"experiment_id": "0"})["experiment"]
        self.assertEqual((default["name"], default["lifecycle_stage"]), ("Default", "active"))

        exp_id = self.call("POST", "experiments/create", {
            "name": "proj/sklearn", "tags": [{"key": "team", "value": "ml"}]})["experiment_id"]
        self.assertIsInstance(exp_id, str)
        got = self.call("GET", "experiments/get", {"experiment_id": exp_id})["experiment"]
        self.assertEqual(got["name"], "proj/sklearn")
        self.assertEqual(got["artifact_location"], f"mlflow-artifacts:/{exp_id}")
        self.assertEqual(got["tags"], [{"key": "team", "value": "ml"}])
        self.assertIsInstance(got["creation_time"], int)
        by_name = self.call("GET", "experiments/get-by-name", {"experiment_name": "proj/sklearn"})
        self.assertEqual(by_name["experiment"]["experiment_id"], exp_id)
        # The ajax-api prefix serves the same API.
        self.assertEqual(self.call("GET", "experiments/get", {"experiment_id": exp_id},
                                   prefix="/ajax-api/2.0/mlflow")["experiment"]["name"],
                         "proj/sklearn")

        self.fails(400, "RESOURCE_ALREADY_EXISTS", "POST", "experiments/create",
                   {"name": "proj/sklearn"})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create", {},
                   "Missing value for required parameter 'name'")
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get",
                   {"experiment_id": "4242"})
        self.fails(400, "INVALID_PARAMETER_VALUE", "GET", "experiments/get",
                   {"experiment_id": "abc"})
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get-by-name",
                   {"experiment_name": "nope"})

        self.call("POST", "experiments/set-experiment-tag",
                  {"experiment_id": exp_id, "key": "owner", "value": "kim"})
        self.call("POST", "experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "team"})
        got = self.call("GET", "experiments/get", {"experiment_id": exp_id})["experiment"]
        self.assertEqual(got["tags"], [{"key": "owner", "value": "kim"}])

        other = self.experiment("other")
        self.call("POST", "experiments/update", {"experiment_id": other, "new_name": "renamed"})
        self.fails(400, "RESOURCE_ALREADY_EXISTS", "POST", "experiments/update",
                   {"experiment_id": other, "new_name": "proj/sklearn"})
        run = self.new_run(other)
        self.call("POST", "experiments/delete", {"experiment_id": other})
        self.assertEqual(self.call("GET", "runs/get", {"run_id": run})["run"]["info"]["lifecycle_stage"],
                         "deleted")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/set-experiment-tag",
                   {"experiment_id": other, "key": "k", "value": "v"})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/delete",
                   {"experiment_id": other})

        active = self.call("POST", "experiments/search", {"max_results": 10})["experiments"]
        self.assertEqual(sorted(e["name"] for e in active), ["Default", "proj/sklearn"])
        deleted = self.call("POST", "experiments/search", {"view_type": "DELETED_ONLY"})
        self.assertEqual([e["name"] for e in deleted["experiments"]], ["renamed"])
        self.assertEqual(len(self.call("GET", "experiments/search",
                                       {"view_type": "ALL", "max_results": "10"})["experiments"]), 3)
        found = self.call("POST", "experiments/search",
                          {"filter": "name LIKE 'proj%' and tags.owner = 'kim'"})
        self.assertEqual([e["experiment_id"] for e in found["experiments"]], [exp_id])
        ordered = self.call("POST", "experiments/search", {"order_by": ["name DESC"]})
        self.assertEqual([e["name"] for e in ordered["experiments"]], ["proj/sklearn", "Default"])
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/search",
                   {"filter": "metrics.x > 1"})
        self.call("POST", "experiments/restore", {"experiment_id": other})
        self.assertEqual(self.call("GET", "runs/get", {"run_id": run})["run"]["info"]["lifecycle_stage"],
                         "active")

    # -- runs -----------------------------------------------------------------------------

    def test_run_lifecycle_and_logging_in_every_form(self):
        exp = self.experiment()
        created = self.call("POST", "runs/create", {
            "experiment_id": exp, "run_name": "first", "start_time": 1000,
            "tags": [{"key": "mlflow.user", "value": "kim"}]})["run"]
        info = created["info"]
        run = info["run_id"]
        self.assertRegex(run, "^[0-9a-f]{32}$")
        self.assertEqual(info["run_uuid"], run)
        self.assertEqual((info["status"], info["run_name"], info["start_time"], info["user_id"]),
                         ("RUNNING", "first", 1000, "kim"))
        self.assertEqual(info["artifact_uri"], f"mlflow-artifacts:/{exp}/{run}/artifacts")
        self.assertEqual(info["experiment_id"], exp)
        default_run = self.call("POST", "runs/create", {})["run"]["info"]
        self.assertEqual(default_run["experiment_id"], "0")
        self.assertTrue(default_run["run_name"])
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/create", {"experiment_id": "777"})

        self.call("POST", "runs/log-metric",
                  {"run_id": run, "run_uuid": run, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0})
        self.call("POST", "runs/log-metric", {"run_id": run, "key": "loss", "value": 0.25,
                                              "timestamp": 2, "step": 1})
        self.call("POST", "runs/log-metric", {"run_id": run, "key": "weird", "value": "NaN",
                                              "timestamp": 3})
        self.call("POST", "runs/log-parameter", {"run_id": run, "key": "lr", "value": "0.1"})
        self.call("POST", "runs/log-parameter", {"run_id": run, "key": "lr", "value": "0.1"})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter",
                   {"run_id": run, "key": "lr", "value": "0.2"}, "write-once")
        self.call("POST", "runs/set-tag", {"run_id": run, "key": "stage", "value": "dev"})
        self.call("POST", "runs/log-batch", {
            "run_id": run,
            "metrics": [{"key": "acc", "value": 0.9, "timestamp": 5, "step": s} for s in range(3)]
            + [{"key": "inf", "value": "Infinity", "timestamp": 5}],
            "params": [{"key": "depth", "value": "3"}, {"key": "lr", "value": "0.1"}],
            "tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]})

        data = self.call("GET", "runs/get", {"run_id": run})["run"]["data"]
        metrics = {m["key"]: m for m in data["metrics"]}
        self.assertEqual(metrics["loss"]["value"], 0.25)
        self.assertEqual(metrics["loss"]["step"], 1)
        self.assertEqual(metrics["weird"]["value"], "NaN")
        self.assertEqual(metrics["inf"]["value"], "Infinity")
        self.assertEqual(metrics["acc"]["step"], 2)
        self.assertEqual({p["key"]: p["value"] for p in data["params"]}, {"lr": "0.1", "depth": "3"})
        tags = {t["key"]: t["value"] for t in data["tags"]}
        self.assertEqual((tags["stage"], tags["a"], tags["mlflow.runName"]), ("dev", "2", "first"))

        history = self.call("GET", "metrics/get-history", {"run_id": run, "metric_key": "loss"})
        self.assertEqual([(m["value"], m["step"]) for m in history["metrics"]], [(0.5, 0), (0.25, 1)])
        self.assertEqual(self.call("GET", "metrics/get-history", {"run_id": run, "metric_key": "none"}), {})

        self.call("POST", "runs/delete-tag", {"run_id": run, "key": "stage"})
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/delete-tag",
                   {"run_id": run, "key": "stage"})
        updated = self.call("POST", "runs/update", {"run_id": run, "status": "FINISHED",
                                                    "end_time": 2000, "run_name": "renamed"})
        self.assertEqual((updated["run_info"]["status"], updated["run_info"]["end_time"],
                          updated["run_info"]["run_name"]), ("FINISHED", 2000, "renamed"))
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/update",
                   {"run_id": run, "status": "EXPLODED"})
        self.call("POST", "runs/delete", {"run_id": run})
        self.assertEqual(self.call("GET", "runs/get", {"run_id": run})["run"]["info"]["lifecycle_stage"],
                         "deleted")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-metric",
                   {"run_id": run, "key": "x", "value": 1, "timestamp": 1})
        self.call("POST", "runs/restore", {"run_id": run})
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "runs/get", {"run_id": "0" * 32})
        self.fails(400, "INVALID_PARAMETER_VALUE", "GET", "runs/get", {"run_id": "bogus"})

    def test_log_batch_limits_and_bad_input(self):
        run = self.new_run(self.experiment())
        point = {"key": "m", "value": 1, "timestamp": 1}
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "metrics": [point] * 1001}, "1000")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "params": [{"key": "p", "value": "x" * 6001}]}, "6000")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "metrics": [{"key": "bad key!", "value": 1, "timestamp": 1}]})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "metrics": [{"key": "m", "value": "high", "timestamp": 1}]},
                   "metrics[0].value")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch", {"metrics": [point]},
                   "run_id")
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-batch",
                   {"run_id": "f" * 32, "metrics": [point]})
        # A batch that fails writes nothing.
        self.call("POST", "runs/log-parameter", {"run_id": run, "key": "fixed", "value": "1"})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                   {"run_id": run, "metrics": [{"key": "lost", "value": 1, "timestamp": 1}],
                    "params": [{"key": "fixed", "value": "2"}]})
        self.assertEqual(self.call("GET", "metrics/get-history", {"run_id": run, "metric_key": "lost"}), {})
        # Exactly at the limits is fine.
        self.call("POST", "runs/log-batch", {"run_id": run, "metrics": [
            {"key": "m", "value": i, "timestamp": i, "step": i} for i in range(1000)]})
        self.assertEqual(len(self.call("GET", "metrics/get-history",
                                       {"run_id": run, "metric_key": "m"})["metrics"]), 1000)

    def test_search_runs_filters_ordering_and_paging(self):
        exp = self.experiment()
        other = self.experiment("other")
        runs = []
        for i in range(7):
            run = self.new_run(exp, start_time=1000 + i, run_name=f"r{i}")
            batch = {"run_id": run, "params": [{"key": "model", "value": "ridge" if i % 2 else "lasso"}],
                     "tags": [{"key": "fold", "value": str(i % 3)}]}
            if i != 6:
                batch["metrics"] = [{"key": "rmse", "value": 1.0 - i / 10, "timestamp": 1}]
            self.call("POST", "runs/log-batch", batch)
            runs.append(run)
        self.new_run(other)

        def ids(body):
            return [r["info"]["run_id"] for r in self.call("POST", "runs/search", body).get("runs", [])]

        self.assertEqual(ids({"experiment_ids": [exp], "order_by": ["metrics.rmse ASC"]}),
                         [runs[5], runs[4], runs[3], runs[2], runs[1], runs[0], runs[6]])
        self.assertEqual(ids({"experiment_ids": [exp], "filter": "metrics.rmse < 0.75",
                              "order_by": ["metrics.rmse DESC"]}), [runs[3], runs[4], runs[5]])
        self.assertEqual(ids({"experiment_ids": [exp], "filter": "params.model = 'ridge' and tags.fold != '0'",
                              "order_by": ["attributes.start_time"]}), [runs[1], runs[5]])
        self.assertEqual(ids({"experiment_ids": [exp], "filter": "attributes.run_name LIKE 'r1%'"}),
                         [runs[1]])
        self.assertEqual(ids({"experiment_ids": [exp], "filter": f"attributes.run_id IN ('{runs[0]}', '{runs[2]}')"}),
                         [runs[2], runs[0]])
        self.assertEqual(len(ids({"experiment_ids": [exp, other]})), 8)
        self.assertEqual(ids({"experiment_ids": [exp], "filter": "attributes.status = 'RUNNING'",
                              "max_results": 1}), [runs[6]])

        # Pages follow each other without gaps or repeats.
        seen, token = [], None
        while True:
            body = {"experiment_ids": [exp], "order_by": ["metrics.rmse ASC"], "max_results": 3}
            if token:
                body["page_token"] = token
            page = self.call("POST", "runs/search", body)
            seen += [r["info"]["run_id"] for r in page.get("runs", [])]
            token = page.get("next_page_token")
            if not token:
                break
        self.assertEqual(seen, [runs[5], runs[4], runs[3], runs[2], runs[1], runs[0], runs[6]])

        for bad in ({"experiment_ids": [exp], "filter": "metrics.rmse < 'x'"},
                    {"experiment_ids": [exp], "order_by": ["metrics.rmse UP"]},
                    {"experiment_ids": [exp], "max_results": 50001},
                    {"experiment_ids": [exp], "page_token": "garbage"},
                    {"experiment_ids": ["x"]},
                    {"experiment_ids": [exp], "run_view_type": "SOME"}):
            self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search", bad)

    # -- dataset inputs -------------------------------------------------------------------

    def test_log_inputs_read_back_and_searched(self):
        exp = self.experiment()
        run, other, bare = (self.new_run(exp, start_time=t) for t in (3000, 2000, 1000))
        source = json.dumps({"uri": "/data/iris.csv"})
        schema = json.dumps({"mlflow_colspec": [{"type": "double", "name": "sepal length"}]})

        def dataset_input(name, digest, context, **extra):
            return {"tags": [{"key": "mlflow.data.context", "value": context}],
                    "dataset": {"name": name, "digest": digest, "source_type": "local",
                                "source": source, **extra}}

        train = dataset_input("iris", "a1b2c3d4", "training", schema=schema,
                              profile=json.dumps({"num_rows": 150}))
        evaluation = dataset_input("iris-eval", "e5f6", "eval")
        self.assertEqual(self.call("POST", "runs/log-inputs",
                                   {"run_id": run, "datasets": [train, evaluation]}), {})
        # Logging the same dataset again (even with another context) adds nothing.
        self.call("POST", "runs/log-inputs",
                  {"run_id": run, "datasets": [dataset_input("iris", "a1b2c3d4", "testing")]})
        self.call("POST", "runs/log-inputs",
                  {"run_id": other, "datasets": [dataset_input("iris", "a1b2c3d4", "eval")]})

        got = self.call("GET", "runs/get", {"run_id": run})["run"]
        self.assertEqual(got["inputs"]["dataset_inputs"], [train, evaluation])
        self.assertNotIn("schema", got["inputs"]["dataset_inputs"][1]["dataset"],
                         "empty fields are left out")
        self.assertEqual(self.call("GET", "runs/get", {"run_id": bare})["run"]["inputs"], {})

        def search(filter_string):
            runs = self.call("POST", "runs/search",
                             {"experiment_ids": [exp], "filter": filter_string}).get("runs", [])
            return [r["info"]["run_id"] for r in runs]

        self.assertEqual(search("datasets.name = 'iris'"), [run, other])
        self.assertEqual(search("datasets.name = 'iris-eval'"), [run])
        self.assertEqual(search("dataset.name IN ('iris-eval', 'nope')"), [run])
        self.assertEqual(search("datasets.digest = 'e5f6'"), [run])
        self.assertEqual(search("datasets.context = 'eval'"), [run, other])
        self.assertEqual(search("datasets.context = 'training' and datasets.name LIKE 'iris%'"),
                         [run])
        self.assertEqual(search("datasets.name = 'wine'"), [])
        found = self.call("POST", "runs/search", {"experiment_ids": [exp],
                                                  "filter": "datasets.digest = 'e5f6'"})["runs"]
        self.assertEqual(found[0]["inputs"]["dataset_inputs"], [train, evaluation])
        for bad in ("datasets.size = '1'", "datasets.name > 'a'"):
            self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                       {"experiment_ids": [exp], "filter": bad})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                   {"experiment_ids": [exp], "order_by": ["datasets.name"]})

        # A bad request changes nothing: a missing digest (even after a good input), an
        # over-long one, no datasets, no run.
        missing = dataset_input("wine", "w1", "training")
        del missing["dataset"]["digest"]
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"run_id": bare, "datasets": [dataset_input("wine", "w0", "eval"), missing]},
                   "'datasets[1].dataset.digest'")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"run_id": bare, "datasets": [dataset_input("wine", "d" * 37, "eval")]},
                   "the limit is 36")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"run_id": bare, "datasets": [{"dataset": "not an object"}]},
                   "'datasets[0].dataset'")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs", {"run_id": bare},
                   "'datasets'")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"datasets": [train]}, "'run_id'")
        nul = dataset_input("wine", "w2", "eval")
        nul["dataset"]["source"] = "a\u0000b"
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"run_id": bare, "datasets": [nul]},
                   "datasets[0].dataset.source contains a NUL byte")
        tagged = dataset_input("wine", "w3", "eval")
        tagged["tags"] += [{"key": f"k{i}", "value": "v"} for i in range(1000)]
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"run_id": bare, "datasets": [tagged]},
                   "at most 1000 input tags in all; got 1001")
        self.assertEqual(self.call("GET", "runs/get", {"run_id": bare})["run"]["inputs"], {})
        self.assertEqual(search("datasets.name = 'wine'"), [])
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-inputs",
                   {"run_id": "f" * 32, "datasets": [train]})
        # A deleted run refuses inputs (as MLflow does); a finished one takes them.
        self.call("POST", "runs/delete", {"run_id": bare})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                   {"run_id": bare, "datasets": [train]})
        self.call("POST", "runs/restore", {"run_id": bare})
        self.call("POST", "runs/update", {"run_id": bare, "status": "FINISHED", "end_time": 4000})
        self.call("POST", "runs/log-inputs", {"run_id": bare, "datasets": []})
        self.call("POST", "runs/log-inputs", {"run_id": bare, "datasets": [train]})
        self.assertEqual(search("datasets.name = 'iris'"), [run, other, bare])

    # -- artifacts ------------------------------------------------------------------------

    def test_artifacts_upload_download_list_delete(self):
        exp = self.experiment()
        run = self.new_run(exp)
        root = f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts"
        base = f"{exp}/{run}/artifacts"
        payload = bytes(random.getrandbits(8) for _ in range(300000))
        request_json("PUT", f"{root}/{base}/model/model.pkl", payload)
        request_json("PUT", f"{root}/{base}/model/MLmodel", b"flavors: {}\n")
        request_json("PUT", f"{root}/{base}/notes.txt", b"hello")
        self.assertEqual(request_json("GET", f"{root}/{base}/model/model.pkl", raw=True), payload)
        listing = request_json("GET", f"{root}?path={base}")
        self.assertEqual(listing["files"], [{"path": "model", "is_dir": True},
                                            {"path": "notes.txt", "is_dir": False, "file_size": 5}])
        run_list = self.call("GET", "artifacts/list", {"run_id": run})
        self.assertEqual(run_list["root_uri"], f"mlflow-artifacts:/{base}")
        self.assertEqual([f["path"] for f in run_list["files"]], ["model", "notes.txt"])
        sub = self.call("GET", "artifacts/list", {"run_id": run, "path": "model"})
        self.assertEqual([f["path"] for f in sub["files"]], ["model/MLmodel", "model/model.pkl"])
        # A file lists as empty, as MLflow's server answers: its client downloads a single
        # file (download_artifacts, load_dict, load_text) after seeing that.
        self.assertEqual(request_json("GET", f"{root}?path={base}/notes.txt"), {})
        self.assertEqual(request_json("GET", f"{root}/{base}/notes.txt", raw=True), b"hello")
        self.assertNotIn("files", self.call("GET", "artifacts/list",
                                            {"run_id": run, "path": "notes.txt"}))
        request_json("DELETE", f"{root}/{base}/notes.txt")
        with self.assertRaises(HttpError) as caught:
            request_json("GET", f"{root}/{base}/notes.txt", raw=True)
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(request_json("GET", f"{root}?path={exp}/nothing"), {})
        for bad in (f"{root}/{base}/%2e%2e/%2e%2e/%2e%2e/escape", f"{root}/{base}/a%5Cb"):
            with self.assertRaises(HttpError) as caught:
                request_json("PUT", bad, b"x")
            self.assertEqual(caught.exception.status, 400, bad)

    # -- registry -------------------------------------------------------------------------

    def test_model_registry(self):
        exp = self.experiment()
        runs = [self.new_run(exp) for _ in range(3)]
        created = self.call("POST", "registered-models/create", {
            "name": "price", "description": "predicts", "tags": [{"key": "team", "value": "ml"}]})
        self.assertEqual(created["registered_model"]["name"], "price")
        self.fails(400, "RESOURCE_ALREADY_EXISTS", "POST", "registered-models/create", {"name": "price"})
        versions = []
        for run in runs:
            v = self.call("POST", "model-versions/create", {
                "name": "price", "source": f"mlflow-artifacts:/{exp}/{run}/artifacts/model",
                "run_id": run, "tags": [{"key": "k", "value": run[:4]}]})["model_version"]
            versions.append(v)
        self.assertEqual([v["version"] for v in versions], ["1", "2", "3"])
        self.assertEqual(versions[0]["current_stage"], "None")
        self.assertEqual(versions[0]["status"], "READY")
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "model-versions/create",
                   {"name": "missing", "source": "mlflow-artifacts:/x"})

        got = self.call("GET", "model-versions/get", {"name": "price", "version": "2"})["model_version"]
        self.assertEqual(got["run_id"], runs[1])
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "model-versions/get", {"name": "price", "version": "9"})
        self.assertEqual(self.call("GET", "model-versions/get-download-uri", {"name": "price", "version": "1"}),
                         {"artifact_uri": f"mlflow-artifacts:/{exp}/{runs[0]}/artifacts/model"})

        staged = self.call("POST", "model-versions/transition-stage", {
            "name": "price", "version": "1", "stage": "production", "archive_existing_versions": False})
        self.assertEqual(staged["model_version"]["current_stage"], "Production")
        self.call("POST", "model-versions/transition-stage", {
            "name": "price", "version": "2", "stage": "Production", "archive_existing_versions": True})
        self.assertEqual(self.call("GET", "model-versions/get", {"name": "price", "version": "1"})
                         ["model_version"]["current_stage"], "Archived")
        latest = self.call("POST", "registered-models/get-latest-versions",
                           {"name": "price", "stages": ["Production"]})["model_versions"]
        self.assertEqual([v["version"] for v in latest], ["2"])
        latest_get = self.call("GET", "registered-models/get-latest-versions", {"name": "price"})
        self.assertEqual(sorted(v["version"] for v in latest_get["model_versions"]), ["1", "2", "3"])

        self.call("POST", "registered-models/alias", {"name": "price", "alias": "champion", "version": "3"})
        by_alias = self.call("GET", "registered-models/alias", {"name": "price", "alias": "champion"})
        self.assertEqual(by_alias["model_version"]["version"], "3")
        self.assertEqual(by_alias["model_version"]["aliases"], ["champion"])
        model = self.call("GET", "registered-models/get", {"name": "price"})["registered_model"]
        self.assertEqual(model["aliases"], [{"alias": "champion", "version": "3"}])
        self.assertEqual(len(model["latest_versions"]), 3)
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "registered-models/alias",
                   {"name": "price", "alias": "latest", "version": "1"})
        self.call("DELETE", "registered-models/alias", {"name": "price", "alias": "champion"})
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "registered-models/alias",
                   {"name": "price", "alias": "champion"})

        self.call("POST", "registered-models/set-tag", {"name": "price", "key": "owner", "value": "kim"})
        self.call("DELETE", "registered-models/delete-tag", {"name": "price", "key": "team"})
        self.call("POST", "model-versions/set-tag", {"name": "price", "version": "3", "key": "ok", "value": "y"})
        self.call("DELETE", "model-versions/delete-tag", {"name": "price", "version": "3", "key": "k"})
        v3 = self.call("GET", "model-versions/get", {"name": "price", "version": "3"})["model_version"]
        self.assertEqual(v3["tags"], [{"key": "ok", "value": "y"}])
        updated = self.call("PATCH", "model-versions/update",
                            {"name": "price", "version": "3", "description": "best so far"})
        self.assertEqual(updated["model_version"]["description"], "best so far")
        updated = self.call("PATCH", "registered-models/update", {"name": "price", "description": "new"})
        self.assertEqual(updated["registered_model"]["description"], "new")

        found = self.call("GET", "model-versions/search", {"filter": f"run_id = '{runs[0]}'"})
        self.assertEqual([v["version"] for v in found["model_versions"]], ["1"])
        found = self.call("GET", "model-versions/search", {"filter": "name = 'price'", "max_results": "2"})
        self.assertEqual(len(found["model_versions"]), 2)
        self.assertIn("next_page_token", found)
        self.call("POST", "registered-models/create", {"name": "house-rent"})
        found = self.call("GET", "registered-models/search", {"filter": "name LIKE 'pri%'"})
        self.assertEqual([m["name"] for m in found["registered_models"]], ["price"])
        found = self.call("GET", "registered-models/search", {"filter": "tags.owner = 'kim'"})
        self.assertEqual([m["name"] for m in found["registered_models"]], ["price"])

        renamed = self.call("POST", "registered-models/rename", {"name": "price", "new_name": "house-price"})
        self.assertEqual(renamed["registered_model"]["name"], "house-price")
        self.assertEqual(self.call("GET", "model-versions/get", {"name": "house-price", "version": "2"})
                         ["model_version"]["current_stage"], "Production")
        self.call("DELETE", "model-versions/delete", {"name": "house-price", "version": "1"})
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "model-versions/get",
                   {"name": "house-price", "version": "1"})
        self.call("DELETE", "registered-models/delete", {"name": "house-price"})
        self.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "registered-models/get", {"name": "house-price"})

    # -- errors ---------------------------------------------------------------------------

    def test_bad_requests_get_mlflow_errors_never_500(self):
        for body in (b"{not json", b"[1, 2]", b'"just a string"', b"\xff\xfe"):
            with self.assertRaises(HttpError) as caught:
                request_json("POST", f"{self.server.url}/api/2.0/mlflow/experiments/create", body)
            self.assertEqual(caught.exception.status, 400, body)
            self.assertEqual(caught.exception.json["error_code"], "INVALID_PARAMETER_VALUE")
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create",
                   {"name": "x", "tags": "not a list"})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create",
                   {"name": {"nested": True}})
        self.fails(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-metric",
                   {"run_id": "0" * 32, "key": "m", "value": [1], "timestamp": 1})
        with self.assertRaises(HttpError) as caught:
            self.call("GET", "no/such/endpoint")
        self.assertEqual((caught.exception.status, caught.exception.json["error_code"]),
                         (404, "ENDPOINT_NOT_FOUND"))
        # A body over the limit is refused from its Content-Length, before it is read.
        host, port = urllib.parse.urlparse(self.server.url).netloc.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.putrequest("POST", "/api/2.0/mlflow/runs/log-batch")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(64 << 20))
        connection.endheaders()
        response = connection.getresponse()
        self.assertEqual(response.status, 413)
        self.assertEqual(json.loads(response.read())["error_code"], "INVALID_PARAMETER_VALUE")
        connection.close()
        # Garbage of every shape at every endpoint: answers, never a server error.
        run = self.new_run(self.experiment())
        endpoints = ["experiments/create", "experiments/update", "runs/create", "runs/update",
                     "runs/log-batch", "runs/log-metric", "runs/search", "runs/set-tag",
                     "runs/log-inputs",
                     "registered-models/create", "model-versions/create",
                     "model-versions/transition-stage", "runs/log-model"]
        values = [None, 1, -1, 1.5, "", "x", [], [1], {}, {"a": 1}, True, "NaN", run, "9" * 40]
        rng = random.Random(7)
        for _ in range(300):
            endpoint = rng.choice(endpoints)
            body = {k: rng.choice(values) for k in rng.sample(
                ["name", "run_id", "experiment_id", "key", "value", "timestamp", "metrics", "params",
                 "tags", "status", "version", "stage", "source", "new_name", "filter", "model_json",
                 "datasets"],
                rng.randint(0, 6))}
            try:
                self.call("POST", endpoint, body)
            except HttpError as e:
                self.assertLess(e.status, 500, f"{endpoint} {body}: {e.body}")
        self.assertEqual(request_json("GET", f"{self.server.url}/health", raw=True), b"OK")


class SQLiteTrackingApiTest(TrackingApiTests, SomlierTestCase):
    def database_url(self):
        return None  # the default: sqlite under SOMLIER_HOME


class PostgresTrackingApiTest(TrackingApiTests, SomlierTestCase):
    def database_url(self):
        return new_postgres_database()


if __name__ == "__main__":
    unittest.main()
