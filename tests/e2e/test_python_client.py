"""The `somlier` Python package against the built server: tracking calls, and real
scikit-learn and PyTorch models logged by a script and loaded back with equal predictions."""
import json
import os
import subprocess
import unittest
import urllib.parse

from somlier_e2e import PYTHON, SOMLIER_BIN, ServerProcess, SomlierTestCase, request_json


class PythonClientTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.server = ServerProcess(self.env)
        self.addCleanup(self.server.stop)
        package_dir = subprocess.run([SOMLIER_BIN, "python-path"], env=self.env, check=True,
                                     capture_output=True, text=True).stdout.strip()
        self.assertTrue(os.path.exists(os.path.join(package_dir, "somlier", "__init__.py")))
        self.env["PYTHONPATH"] = package_dir
        self.env["MLFLOW_TRACKING_URI"] = self.server.url

    def python(self, code, env=None, check=True):
        script = self.write(f"script_{abs(hash(code))}.py", code)
        result = subprocess.run([PYTHON, str(script)], cwd=self.tmp, env=env or self.env,
                                capture_output=True, text=True, timeout=300)
        if check:
            self.assertEqual(result.returncode, 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def api(self, method, endpoint, body=None):
        url = f"{self.server.url}/api/2.0/mlflow/{endpoint}"
        if method == "GET" and body:
            return request_json(method, url + "?" + urllib.parse.urlencode(body))
        return request_json(method, url, body)

    def test_tracking_calls(self):
        out = self.python("""
            import json, math, somlier
            somlier.set_experiment("client-test")
            with somlier.start_run(run_name="tracked", tags={"team": "ml"}) as run:
                somlier.log_param("alpha", 0.5)
                somlier.log_params({"depth": 3, "kind": "tree"})
                for step in range(2500):            # more than one log-batch's worth
                    somlier.log_metric("loss", 1.0 / (step + 1), step=step)
                somlier.log_metrics({"acc": 0.9, "nan": float("nan")})
                somlier.set_tag("stage", "dev")
                with open("notes.txt", "w") as f:
                    f.write("hello")
                somlier.log_artifact("notes.txt", "docs")
            print(json.dumps({"run_id": run.run_id, "experiment_id": run.experiment_id}))
            try:
                with somlier.start_run():
                    raise RuntimeError("boom")
            except RuntimeError:
                pass
            print(json.dumps({"failed": somlier.active_run() is None}))
        """).stdout.splitlines()
        ids = json.loads(out[0])
        run = self.api("GET", "runs/get", {"run_id": ids["run_id"]})["run"]
        self.assertEqual(run["info"]["status"], "FINISHED")
        self.assertEqual(run["info"]["run_name"], "tracked")
        data = run["data"]
        self.assertEqual({p["key"]: p["value"] for p in data["params"]},
                         {"alpha": "0.5", "depth": "3", "kind": "tree"})
        tags = {t["key"]: t["value"] for t in data["tags"]}
        self.assertEqual((tags["team"], tags["stage"], tags["mlflow.source.type"]), ("ml", "dev", "LOCAL"))
        metrics = {m["key"]: m["value"] for m in data["metrics"]}
        self.assertEqual(metrics["nan"], "NaN")
        history = self.api("GET", "metrics/get-history", {"run_id": ids["run_id"], "metric_key": "loss"})
        self.assertEqual(len(history["metrics"]), 2500)
        listing = self.api("GET", "artifacts/list", {"run_id": ids["run_id"], "path": "docs"})
        self.assertEqual([f["path"] for f in listing["files"]], ["docs/notes.txt"])
        runs = self.api("POST", "runs/search", {"experiment_ids": [ids["experiment_id"]],
                                                "filter": "attributes.status = 'FAILED'"})
        self.assertEqual(len(runs["runs"]), 1)

    def test_attaches_to_the_run_named_by_the_environment(self):
        exp = self.api("POST", "experiments/create", {"name": "attach"})["experiment_id"]
        run_id = self.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        for variable in ("SOMLIER_RUN_ID", "MLFLOW_RUN_ID"):
            env = dict(self.env, **{variable: run_id})
            self.python(f"""
                import somlier
                with somlier.start_run() as run:
                    assert run.run_id == {run_id!r}, run.run_id
                    somlier.log_metric("from_{variable.lower()}", 1.0)
            """, env=env)
        data = self.api("GET", "runs/get", {"run_id": run_id})["run"]["data"]
        self.assertEqual(sorted(m["key"] for m in data["metrics"]),
                         ["from_mlflow_run_id", "from_somlier_run_id"])

    def test_run_info_and_data_are_objects_like_mlflows(self):
        out = self.python("""
            import json, somlier
            exp = somlier.set_experiment("info-test")
            with somlier.start_run(run_name="attrs", tags={"team": "ml"}) as run:
                info = run.info
                assert info.run_id == run.run_id == info.run_uuid, info
                assert info.experiment_id == run.experiment_id == exp, info
                assert info.status == "RUNNING", info
                assert (info.run_name, info.lifecycle_stage) == ("attrs", "active"), info
                assert isinstance(info.start_time, int) and info.end_time is None, info
                assert info.artifact_uri == run.artifact_uri and info.run_id in info.artifact_uri
                assert sorted(dict(info)) == ["artifact_uri", "end_time", "experiment_id",
                                              "lifecycle_stage", "run_id", "run_name", "run_uuid",
                                              "start_time", "status", "user_id"], dict(info)
                assert run.data.tags["team"] == "ml", run.data
                assert (run.data.params, run.data.metrics) == ({}, {}), run.data
                assert somlier.active_run().info.run_id == info.run_id
                somlier.log_param("alpha", 1)
            print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}))
        """).stdout
        ids = json.loads(out)
        run = self.api("GET", "runs/get", {"run_id": ids["run_id"]})["run"]
        self.assertEqual(run["info"]["status"], "FINISHED")
        self.assertEqual(run["info"]["experiment_id"], ids["experiment_id"])
        # Attached to an existing run: its info and data as they were when the run started.
        exp = self.api("POST", "experiments/create", {"name": "info-attach"})["experiment_id"]
        run_id = self.api("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        self.api("POST", "runs/log-batch", {
            "run_id": run_id, "params": [{"key": "p", "value": "1"}],
            "metrics": [{"key": "m", "value": 2.5, "timestamp": 1, "step": 0},
                        {"key": "nan", "value": "NaN", "timestamp": 1, "step": 0}]})
        self.python(f"""
            import math, somlier
            with somlier.start_run(tags={{"k": "v"}}) as run:
                assert run.info.run_id == {run_id!r} and run.info.experiment_id == {exp!r}
                assert run.info.status == "RUNNING", run.info
                assert run.data.params == {{"p": "1"}}, run.data
                assert run.data.metrics["m"] == 2.5 and math.isnan(run.data.metrics["nan"])
                assert run.data.tags["k"] == "v", run.data
        """, env=dict(self.env, MLFLOW_RUN_ID=run_id))

    def test_package_modules_import_in_any_order_without_a_cycle(self):
        self.python("""
            import ast, itertools, os, subprocess, sys
            package = os.path.join(os.environ["PYTHONPATH"], "somlier")
            # A bare `somlier` package: submodules import without __init__.py importing all.
            bare = ("import sys, types; package = types.ModuleType('somlier'); "
                    f"package.__path__ = [{package!r}]; sys.modules['somlier'] = package; ")
            check = ("import somlier._flavors as f; "
                     "assert f.names() == ['sklearn', 'pytorch', 'python_function']; "
                     "assert f.get('sklearn').load is sys.modules['somlier.sklearn'].load_model; "
                     "assert f.get('pytorch').load is sys.modules['somlier.pytorch'].load_model")
            modules = ["somlier.sklearn", "somlier.pytorch", "somlier._models", "somlier._flavors"]
            for order in itertools.permutations(modules):
                for prefix in ("import sys; ", bare):
                    code = prefix + "".join(f"import {m}; " for m in order) + check
                    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                            text=True)
                    assert result.returncode == 0, (order, prefix, result.stderr)
            # _models imports no flavor and not the table, not even inside a function.
            code = bare + ("import somlier._models; "
                           "print(sorted(m for m in sys.modules if m.startswith('somlier.')))")
            loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout
            for name in ("somlier.sklearn", "somlier.pytorch", "somlier._flavors"):
                assert repr(name) not in loaded, loaded
            def imported(path):
                names = set()
                for node in ast.walk(ast.parse(open(path).read())):
                    if isinstance(node, ast.ImportFrom):
                        names.add(node.module or "")
                        names.update(alias.name for alias in node.names)
                    elif isinstance(node, ast.Import):
                        names.update(alias.name for alias in node.names)
                return names
            models = imported(os.path.join(package, "_models.py"))
            assert not models & {"sklearn", "pytorch", "_flavors"}, models
            for flavor in ("sklearn.py", "pytorch.py"):
                assert "_flavors" not in imported(os.path.join(package, flavor)), flavor
        """)

    def test_flavor_table_is_the_one_source_of_loaders(self):
        self.write("tiny.py", """
            import torch

            class Tiny(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.linear = torch.nn.Linear(3, 2)

                def forward(self, x):
                    return self.linear(x)
        """)
        self.python("""
            import numpy as np, torch, somlier
            from sklearn.linear_model import LinearRegression
            from somlier import _flavors, _models, _worker
            from tiny import Tiny
            X = np.arange(12.0).reshape(4, 3)
            sk = LinearRegression().fit(X, X @ [1.0, 2.0, 3.0])
            torch.manual_seed(0)
            net = Tiny()
            x = torch.from_numpy(X).float()
            somlier.set_experiment("flavors")
            with somlier.start_run() as run:
                somlier.sklearn.log_model(sk, "sk")
                somlier.pytorch.log_model(net, "net", code_paths=["tiny.py"])
            sk_uri, net_uri = f"runs:/{run.info.run_id}/sk", f"runs:/{run.info.run_id}/net"
            calls = []
            for flavor in _flavors.FLAVORS:
                def load(path, load=flavor.load, name=flavor.name):
                    calls.append(name)
                    return load(path)
                flavor.load = load
            # somlier.load_model and the model server's worker both load through the table.
            np.testing.assert_allclose(somlier.load_model(sk_uri).predict(X), sk.predict(X))
            assert torch.allclose(somlier.load_model(net_uri)(x), net(x))
            served = [_worker._Model(_models.download_model(uri)) for uri in (sk_uri, net_uri)]
            assert calls == ["sklearn", "pytorch", "sklearn", "pytorch"], calls
            assert [m.flavor for m in served] == ["sklearn", "pytorch"]
            assert [m.n_features for m in served] == [3, 3]
            np.testing.assert_allclose(served[0].predict(X, None), sk.predict(X))
            np.testing.assert_allclose(served[1].predict(X, None), net(x).detach().numpy(),
                                       rtol=1e-6)
            # The flavor modules' own loaders give the same models.
            np.testing.assert_allclose(somlier.sklearn.load_model(sk_uri).predict(X), sk.predict(X))
            assert torch.allclose(somlier.pytorch.load_model(net_uri)(x), net(x))
        """)
        # register_v2's import goes through the table too: its entry, its arguments.
        answers = []
        for args in (["sklearn", "model.joblib", "out"], ["pytorch", "w.pt", "out"],
                     ["python_function", "model", "out"]):
            result = self.python(f"""
                import sys
                from somlier import _flavors, _import_model
                _flavors.get("sklearn").import_file = lambda path, out: f"table: {{path}} {{out}}"
                sys.exit(_import_model.main({args!r}))
            """, check=False)
            answers.append((result.returncode, json.loads(result.stdout.splitlines()[-1])))
        self.assertEqual(answers[0], (0, {"ok": True, "flavor": "sklearn",
                                          "detail": "table: model.joblib out"}))
        self.assertEqual([(code, answer["error"]) for code, answer in answers[1:]],
                         [(2, "usage"), (2, "usage")])

    def test_log_model_writes_an_mlflow_signature_and_input_example(self):
        out = self.python("""
            import json, numpy as np, pandas as pd, torch, somlier
            from somlier import _models
            from sklearn.linear_model import LogisticRegression
            X = pd.DataFrame({"size": [1.5, 2.5, 3.5, 4.5], "rooms": [1, 2, 3, 4],
                              "garden": [True, False, True, False]})
            model = LogisticRegression().fit(X, [0, 1, 0, 1])
            somlier.set_experiment("signatures")
            with somlier.start_run():
                inferred = somlier.sklearn.log_model(model, "inferred", input_example=X.head(2))
                given = somlier.sklearn.log_model(model, "given", signature={
                    "inputs": [{"type": "double", "name": "size"}]})
            net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
            somlier.pytorch.save_model(net, "cnn",
                                       input_example=np.zeros((2, 1, 8, 8), dtype=np.float32))
            out = {}
            for name, info in (("inferred", inferred), ("given", given)):
                path = _models.download_model(info["model_uri"])
                out[name] = _models.read_mlmodel(path)
                if name == "inferred":
                    out["example"] = json.load(open(path + "/input_example.json"))
            out["cnn"] = _models.read_mlmodel("cnn")
            print(json.dumps(out))
        """).stdout
        got = json.loads(out)
        inferred = got["inferred"]
        self.assertEqual(json.loads(inferred["signature"]["inputs"]), [
            {"type": "double", "name": "size", "required": True},
            {"type": "long", "name": "rooms", "required": True},
            {"type": "boolean", "name": "garden", "required": True}])
        self.assertEqual(json.loads(inferred["signature"]["outputs"]),
                         [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}])
        self.assertEqual(inferred["saved_input_example_info"],
                         {"artifact_path": "input_example.json", "type": "dataframe",
                          "pandas_orient": "split"})
        self.assertEqual(got["example"], {"columns": ["size", "rooms", "garden"],
                                          "data": [[1.5, 1, True], [2.5, 2, False]]})
        self.assertEqual(json.loads(got["given"]["signature"]["inputs"]),
                         [{"type": "double", "name": "size"}])
        self.assertNotIn("saved_input_example_info", got["given"])
        cnn = got["cnn"]["signature"]
        self.assertEqual(json.loads(cnn["inputs"]), [
            {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 8, 8]}}])
        self.assertEqual(json.loads(cnn["outputs"]), [
            {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}}])

    def test_sklearn_model_round_trip(self):
        out = self.python("""
            import json, numpy as np, somlier
            from sklearn.linear_model import LogisticRegression
            rng = np.random.default_rng(0)
            X = rng.normal(size=(200, 4))
            y = (X @ [1.0, -2.0, 0.5, 0.0] > 0).astype(int)
            model = LogisticRegression().fit(X, y)
            somlier.set_experiment("sklearn")
            with somlier.start_run() as run:
                info = somlier.sklearn.log_model(model, "model", registered_model_name="clf")
            np.save("X.npy", X)
            np.save("expected.npy", model.predict_proba(X))
            print(json.dumps({"run_id": run.run_id, "version": info["registered_model_version"]}))
        """).stdout
        ids = json.loads(out)
        self.assertEqual(ids["version"], "1")
        self.api("POST", "registered-models/alias", {"name": "clf", "alias": "champion", "version": "1"})
        self.api("POST", "model-versions/transition-stage",
                 {"name": "clf", "version": "1", "stage": "Staging"})
        self.python(f"""
            import numpy as np, somlier
            X, expected = np.load("X.npy"), np.load("expected.npy")
            for uri in ["models:/clf/1", "models:/clf@champion", "models:/clf/latest",
                        "models:/clf/Staging", "runs:/{ids['run_id']}/model"]:
                model = somlier.load_model(uri)
                np.testing.assert_allclose(model.predict_proba(X), expected)
                np.testing.assert_array_equal(somlier.sklearn.load_model(uri).predict(X),
                                              expected.argmax(axis=1))
        """)
        # The files follow MLflow's model format.
        files = self.api("GET", "artifacts/list", {"run_id": ids["run_id"], "path": "model"})["files"]
        self.assertEqual(sorted(f["path"] for f in files),
                         ["model/MLmodel", "model/conda.yaml", "model/model.pkl",
                          "model/python_env.yaml", "model/requirements.txt"])
        self.check_mlmodel(self.mlmodel_of(ids["run_id"]), ids["run_id"], "sklearn")

    def mlmodel_of(self, run_id):
        uri = self.api("GET", "runs/get", {"run_id": run_id})["run"]["info"]["artifact_uri"]
        path = uri[len("mlflow-artifacts:/"):]
        return request_json("GET", f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts/"
                                   f"{path}/model/MLmodel", raw=True).decode()

    def check_mlmodel(self, text, run_id, flavor):
        try:
            import yaml  # a real YAML parser checks what SoMLier's small writer produces
        except ImportError:
            self.skipTest("python3-yaml is not installed")
        model = yaml.safe_load(text)
        self.assertEqual(model["run_id"], run_id)
        self.assertEqual(model["artifact_path"], "model")
        self.assertIn(flavor, model["flavors"])
        self.assertEqual(model["flavors"]["python_function"]["loader_module"], f"mlflow.{flavor}")
        self.assertRegex(model["utc_time_created"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+$")
        self.assertRegex(model["model_uuid"], "^[0-9a-f]{32}$")

    def test_pytorch_model_round_trip(self):
        self.write("nets.py", """
            import torch

            class Scorer(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(),
                                                      torch.nn.Linear(8, 2))

                def forward(self, x):
                    return self.layers(x)
        """)
        out = self.python("""
            import json, torch, somlier
            from nets import Scorer

            class InScript(torch.nn.Module):      # defined in __main__: saved by value
                def __init__(self):
                    super().__init__()
                    self.w = torch.nn.Parameter(torch.arange(5.0))
                def forward(self, x):
                    return x @ self.w

            torch.manual_seed(0)
            x = torch.randn(16, 5)
            somlier.set_experiment("torch")
            with somlier.start_run() as run:
                somlier.pytorch.log_model(Scorer(), "model", registered_model_name="scorer",
                                          code_paths=["nets.py"])
            with somlier.start_run() as run2:
                somlier.pytorch.log_model(InScript(), "model")
            scorer = somlier.pytorch.load_model("models:/scorer/1")
            torch.save({"x": x}, "x.pt")
            print(json.dumps({"run": run.run_id, "run2": run2.run_id}))
        """).stdout
        ids = json.loads(out)
        # A fresh process without nets.py on its path: the class comes from the model's code/.
        os.remove(self.tmp / "nets.py")
        self.python(f"""
            import torch, somlier
            x = torch.load("x.pt")["x"]
            first = somlier.load_model("models:/scorer/1")
            again = somlier.pytorch.load_model("runs:/{ids['run']}/model")
            assert not first.training
            assert torch.allclose(first(x), again(x))
            in_script = somlier.load_model("runs:/{ids['run2']}/model")
            assert torch.allclose(in_script(x), x @ torch.arange(5.0))
        """)
        self.check_mlmodel(self.mlmodel_of(ids["run"]), ids["run"], "pytorch")

    def test_errors_are_exceptions_with_mlflow_codes(self):
        out = self.python("""
            import somlier
            try:
                somlier.load_model("models:/does-not-exist/1")
            except somlier.SomlierException as e:
                print(e.error_code)
            somlier.set_tracking_uri("ftp://nowhere")
            try:
                somlier.start_run()
            except somlier.SomlierException as e:
                print(e.error_code)
        """).stdout.split()
        self.assertEqual(out, ["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"])


if __name__ == "__main__":
    unittest.main()
