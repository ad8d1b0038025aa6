"""serve-model, register_v2 and deploy, end to end against the built binary: real scikit-learn
and PyTorch models, real Python workers, HTTP on 127.0.0.1."""
import concurrent.futures
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

from somlier_e2e import (SOURCE_DIR, GitRepo, HttpError, ModelServer, ServerProcess,
                         SomlierTestCase, http_file_server, metric, post, python_function_model,
                         request_json, running)

sys.path.insert(0, str(SOURCE_DIR / "python"))

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402

import somlier.sklearn  # noqa: E402

MODELS = pathlib.Path(tempfile.mkdtemp(prefix="somlier-serving-models-"))
X, Y = load_iris(return_X_y=True)
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def setUpModule():
    lr = LogisticRegression(max_iter=1000).fit(X, Y)
    joblib.dump(lr, MODELS / "lr.joblib")
    somlier.sklearn.save_model(lr, str(MODELS / "lr"))
    # A regressor: every input row has its own prediction.
    linreg = LinearRegression().fit(X, X @ np.array([0.3, -1.7, 2.9, 0.11]) + Y)
    somlier.sklearn.save_model(linreg, str(MODELS / "linreg"))
    named = LogisticRegression(max_iter=1000).fit(pd.DataFrame(X, columns=COLUMNS), Y)
    somlier.sklearn.save_model(named, str(MODELS / "named"))
    (MODELS / "not-a-model.bin").write_bytes(b"\x00\x01 definitely not a pickle")
    joblib.dump({"weights": [1, 2, 3]}, MODELS / "dict.joblib")


def tearDownModule():
    import shutil
    shutil.rmtree(MODELS, ignore_errors=True)


class ServeModelTest(SomlierTestCase):
    def test_every_input_form_and_the_v2_protocol_predict_what_the_model_predicts(self):
        server = ModelServer(self, MODELS / "lr")
        model = joblib.load(MODELS / "lr.joblib")
        rows = X[[0, 60, 120, 149]]
        expected = model.predict(rows).tolist()
        records = [dict(zip(COLUMNS, map(float, r))) for r in rows]
        bodies = [
            {"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}},
            {"dataframe_records": records},
            {"instances": rows.tolist()},
            {"instances": records},
            {"inputs": rows.tolist()},
            {"inputs": {c: rows[:, i].tolist() for i, c in enumerate(COLUMNS)}},
        ]
        for body in bodies:
            self.assertEqual(post(server.url + "/invocations", body),
                             {"predictions": expected}, list(body))
        csv = ",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n"
        self.assertEqual(post(server.url + "/invocations", csv, "text/csv"),
                         {"predictions": expected})

        self.assertEqual(request_json("GET", server.url + "/v2/health/live"), {"live": True})
        self.assertEqual(request_json("GET", server.url + "/v2/health/ready"), {"ready": True})
        meta = request_json("GET", server.url + "/v2/models/lr")
        self.assertEqual(meta["name"], "lr")
        self.assertEqual(meta["inputs"][0]["shape"], [-1, 4])
        self.assertEqual(request_json("GET", server.url + "/v2/models/lr/ready")["ready"], True)
        answer = post(server.url + "/v2/models/lr/infer", {
            "id": "q1", "inputs": [{"name": "x", "shape": [4, 4], "datatype": "FP64",
                                    "data": rows.flatten().tolist()}]})
        self.assertEqual(answer["id"], "q1")
        self.assertEqual(answer["model_name"], "lr")
        self.assertEqual(answer["outputs"][0]["shape"], [4])
        self.assertEqual(answer["outputs"][0]["datatype"], "INT64")
        self.assertEqual(answer["outputs"][0]["data"], expected)
        with self.assertRaises(HttpError) as e:
            request_json("GET", server.url + "/v2/models/other")
        self.assertEqual(e.exception.status, 404)
        self.assertIn("'other' is not served here", e.exception.json["error"])
        self.assertEqual(request_json("GET", server.url + "/ping", raw=True), b"\n")

    def test_bad_input_is_a_400_with_a_message_and_the_worker_survives(self):
        server = ModelServer(self, MODELS / "named", "--max_body_mb", "1")
        cases = [
            ({"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[1, 2, 3, 4]]}},
             "application/json", "missing: 'sepal_length'"),
            ({"instances": [[1, 2, 3]]}, "application/json",
             "the model expects 4 features per row, the input has 3"),
            ({"instances": [[1, 2, "x", 4]]}, "application/json", "is not a number"),
            ({"instances": [[1, 2, 3, 4], [1, 2]]}, "application/json", "row 1 has 2 values"),
            ("", "application/json", "the request body is empty"),
            ("{not json", "application/json", "not valid JSON"),
            ("sepal_length,sepal_width,petal_length,petal_width\n1,2,x,4\n", "text/csv",
             "row 0, column 'petal_length': 'x' is not a number"),
            ("x" * (2 << 20), "application/json", "limited to 1048576 bytes; this one has 2097152"),
        ]
        for body, content_type, fragment in cases:
            with self.assertRaises(HttpError, msg=fragment) as e:
                post(server.url + "/invocations", body, content_type)
            too_large = len(body) > (1 << 20)
            self.assertEqual(e.exception.status, 413 if too_large else 400, e.exception.body)
            self.assertEqual(e.exception.json["error_code"], "BAD_REQUEST")
            self.assertIn(fragment, e.exception.json["message"])
        with self.assertRaises(HttpError) as e:
            post(server.url + "/v2/models/named/infer", {"inputs": [
                {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
        self.assertEqual(e.exception.status, 400)
        self.assertIn("expects 4 features", e.exception.json["error"])
        # Named columns in any order are put in the model's order.
        reordered = {"dataframe_split": {"columns": COLUMNS[::-1], "data": [X[0][::-1].tolist()]}}
        self.assertEqual(post(server.url + "/invocations", reordered), {"predictions": [0]})
        # Paths that are not valid UTF-8, or that try to write metrics lines, are just 404s.
        for path in ("/%FF%FE", "/v2/x%22}%0Afake_metric%201"):
            with self.assertRaises(HttpError) as e:
                request_json("GET", server.url + path)
            self.assertEqual(e.exception.status, 404)
        metrics = request_json("GET", server.url + "/metrics", raw=True).decode()
        self.assertEqual(metric(metrics, "somlier_worker_restarts_total"), 0)
        self.assertNotIn("fake_metric", metrics)

    def test_a_plain_python_function_model(self):
        model = python_function_model(self.tmp / "pyfunc", "row_sums",
                                      "return frame.sum(axis=1) * 2")
        server = ModelServer(self, model)
        self.assertEqual(post(server.url + "/invocations",
                              {"dataframe_split": {"columns": ["a", "b"],
                                                   "data": [[1, 2], [3, 4.5]]}}),
                         {"predictions": [6.0, 15.0]})

    def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(self):
        server = ModelServer(self, MODELS / "linreg", "--max_batch_delay_us", "5000")
        model = joblib.load(MODELS / "linreg" / "model.pkl")
        inputs = [X[i % len(X)] + i / 1000.0 for i in range(200)]
        expected = model.predict(np.array(inputs)).tolist()

        def one(i):
            return post(server.url + "/invocations", {"instances": [inputs[i].tolist()]})

        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(one, range(200)))
        for i, answer in enumerate(answers):
            self.assertEqual(len(answer["predictions"]), 1)
            self.assertAlmostEqual(answer["predictions"][0], expected[i], places=9, msg=i)
        metrics = request_json("GET", server.url + "/metrics", raw=True).decode()
        batches = metric(metrics, "somlier_batch_size_rows_count")
        self.assertEqual(metric(metrics, "somlier_batch_size_rows_sum"), 200)
        self.assertLess(batches, 200, "some requests were joined into batches")
        self.assertEqual(
            metric(metrics, 'somlier_requests_total{path="/invocations",code="200"}'), 200)

    def test_a_full_queue_answers_503_at_once(self):
        server = ModelServer(self, MODELS / "lr", "--max_queue", "1",
                             "--max_batch_delay_us", "3000000")
        waiting = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        first = waiting.submit(post, server.url + "/invocations", {"instances": [X[0].tolist()]})
        time.sleep(0.5)  # the first request is queued, waiting for others to join its batch
        start = time.monotonic()
        with self.assertRaises(HttpError) as e:
            post(server.url + "/invocations", {"instances": [X[1].tolist()]})
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(e.exception.status, 503)
        self.assertIn("queue is full", e.exception.json["message"])
        self.assertEqual(first.result(timeout=10), {"predictions": [0]})
        waiting.shutdown()

    def test_a_killed_worker_gives_503s_not_hangs_and_the_server_recovers(self):
        server = ModelServer(self, MODELS / "linreg", "--max_batch_delay_us", "0")
        [worker] = server.workers()
        statuses = []
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    post(server.url + "/invocations", {"instances": [X[0].tolist()]}, timeout=10)
                    statuses.append(200)
                except HttpError as e:
                    statuses.append(e.status)

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.7)
        os.kill(worker, signal.SIGKILL)
        time.sleep(0.7)
        stop.set()
        for t in threads:
            t.join(timeout=15)
            self.assertFalse(t.is_alive(), "a request hung")
        self.assertIn(503, statuses)
        self.assertEqual(set(statuses) - {200, 503}, set())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                post(server.url + "/invocations", {"instances": [X[0].tolist()]})
                break
            except HttpError as e:
                self.assertEqual(e.status, 503)
                time.sleep(0.2)
        else:
            self.fail("the server did not recover:\n" + server.output())
        new_workers = server.workers()
        self.assertEqual(len(new_workers), 1)
        self.assertNotEqual(new_workers, [worker])
        metrics = request_json("GET", server.url + "/metrics", raw=True).decode()
        self.assertEqual(metric(metrics, "somlier_worker_restarts_total"), 1)

    def test_sigterm_answers_requests_in_flight_then_stops_the_workers(self):
        server = ModelServer(self, MODELS / "lr", "--max_batch_delay_us", "1500000")
        workers = server.workers()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        pending = pool.submit(post, server.url + "/invocations", {"instances": [X[0].tolist()]})
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(pending.result(timeout=10), {"predictions": [0]})
        self.assertEqual(server.proc.wait(timeout=20), 0)
        for pid in workers:
            self.assertFalse(running(pid), "a worker was left behind")
        pool.shutdown()

    def test_sigterm_while_the_model_loads_stops_at_once(self):
        model = self.tmp / "slow"
        (model / "code").mkdir(parents=True)
        (model / "code" / "slow_model.py").write_text(
            "import time\n\ndef _load_pyfunc(path):\n    time.sleep(60)\n")
        (model / "MLmodel").write_text(
            "flavors:\n  python_function:\n    loader_module: slow_model\n    code: code\n")
        proc = self.start_somlier("serve-model", str(model), "--port", "0")
        time.sleep(1.5)  # the worker is importing the model now
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        self.assertLess(time.monotonic() - start, 10, err)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
        self.assertIn("stopped (SIGTERM)", err)

    def test_a_model_that_cannot_load_and_unknown_uris_are_clear_errors(self):
        broken = self.tmp / "broken"
        broken.mkdir()
        (broken / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: model.pkl\n")
        result = self.somlier("serve-model", str(broken), "--port", "0", timeout=60)
        self.assertFails(result, 5, "cannot be loaded", "model.pkl")
        self.assertFails(self.somlier("serve-model", "models:/nope/1"), 3, "nope")
        self.assertFails(self.somlier("serve-model", str(self.tmp)), 3, "no MLmodel")
        self.assertFails(self.somlier("serve-model", str(MODELS / "lr"), "--workers", "0"), 2)


class RegisterV2Test(SomlierTestCase):
    def register(self, *args, check=0):
        return self.somlier("online", "register_v2", *args, "--output", "json", check=check,
                            timeout=180)

    def test_a_scikit_learn_file_from_a_path_a_file_uri_and_http(self):
        path = str(MODELS / "lr.joblib")
        first = json.loads(self.register("sklearn", path, "iris").stdout)
        self.assertEqual(first["model_version"], "1")
        self.assertTrue(first["is_newer_version"])
        self.assertIn("version 1 of 'iris'", first["message"])
        second = json.loads(self.register("scikit-learn", "file://" + path, "iris").stdout)
        self.assertEqual(second["model_version"], "2")
        with http_file_server(MODELS) as base:
            third = json.loads(self.register("sklearn", base + "/lr.joblib", "iris").stdout)
        self.assertEqual(third["model_version"], "3")
        # The registered version is an MLflow model that serves the same predictions.
        server = ModelServer(self, "models:/iris/3")
        expected = joblib.load(path).predict(X[:5]).tolist()
        self.assertEqual(post(server.url + "/invocations", {"instances": X[:5].tolist()}),
                         {"predictions": expected})

    def test_a_pytorch_state_dict_with_its_class_from_a_git_repository(self):
        import torch
        repo = GitRepo(self.tmp / "repo")
        repo.write("vision/models/net.py", """
            import torch

            class TinyNet(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = torch.nn.Linear(4, 8)
                    self.fc2 = torch.nn.Linear(8, 3)

                def forward(self, x):
                    return self.fc2(torch.relu(self.fc1(x)))

            class Wider(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = torch.nn.Linear(4, 16)
            """)
        repo.commit("model class")
        sys.path.insert(0, str(self.tmp / "repo" / "vision" / "models"))
        try:
            import net
            torch.manual_seed(7)
            model = net.TinyNet().eval()
        finally:
            sys.path.pop(0)
            sys.modules.pop("net", None)
        torch.save(model.state_dict(), self.tmp / "weights.pth")
        with torch.no_grad():
            expected = model(torch.tensor(X[:3], dtype=torch.float32)).numpy()

        project = [str(self.tmp / "repo"), "vision", "main", "models/net.py"]
        answer = json.loads(self.register("pytorch", str(self.tmp / "weights.pth"), "tiny",
                                          *project, "TinyNet").stdout)
        self.assertEqual(answer["model_version"], "1")
        # The flags spell the same arguments.
        flags = json.loads(self.register(
            "torch", str(self.tmp / "weights.pth"), "tiny", "--github_uri", project[0],
            "--project_name", "vision", "--project_ref", "main",
            "--model_module_path", "models/net.py", "--model_class_name", "TinyNet").stdout)
        self.assertEqual(flags["model_version"], "2")

        server = ModelServer(self, "models:/tiny/1")
        got = post(server.url + "/invocations", {"inputs": X[:3].tolist()})["predictions"]
        np.testing.assert_allclose(np.array(got), expected, rtol=1e-5)
        v2 = post(server.url + "/v2/models/tiny/infer", {"inputs": [
            {"name": "x", "shape": [3, 4], "datatype": "FP32", "data": X[:3].tolist()}]})
        self.assertEqual(v2["outputs"][0]["shape"], [3, 3])
        self.assertEqual(v2["outputs"][0]["datatype"], "FP32")
        np.testing.assert_allclose(np.array(v2["outputs"][0]["data"]), expected.flatten(),
                                   rtol=1e-5)

        # Each error has its own message — and records nothing.
        pth = str(self.tmp / "weights.pth")
        before = self.counts()
        self.assertFails(self.register("pytorch", pth, "tiny", *project, "Wider", check=None), 2,
                         "the weights do not fit Wider", "fc1.weight")
        self.assertFails(self.register("pytorch", pth, "tiny", *project, "Missing", check=None), 3,
                         "class Missing is not defined in net.py", "TinyNet")
        self.assertFails(self.register("pytorch", pth, "tiny", *project[:3], "models/none.py",
                                       "TinyNet", check=None), 3,
                         "module file 'models/none.py' not found in project 'vision'")
        self.assertFails(self.register("pytorch", pth, "tiny", check=None), 2,
                         "a pytorch model needs", "GITHUB_URI")
        self.assertEqual(self.counts(), before)

    def counts(self):
        with sqlite3.connect(self.home / "somlier.db") as db:
            return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in ("runs", "model_versions"))

    def test_each_error_has_its_own_message_and_records_nothing(self):
        lr = str(MODELS / "lr.joblib")
        self.assertFails(self.register("xgboost", lr, "m", check=None), 2,
                         "unsupported MODEL_TYPE 'xgboost'", "sklearn", "pytorch")
        self.assertFails(self.register("sklearn", str(self.tmp / "none.pkl"), "m", check=None), 3,
                         "no model file at", "none.pkl")
        with http_file_server(MODELS) as base:
            self.assertFails(self.register("sklearn", base + "/none.pkl", "m", check=None), 3,
                             "no model file at", "404")
        self.assertFails(self.register("sklearn", str(MODELS / "not-a-model.bin"), "m",
                                       check=None), 2, "not a scikit-learn model")
        self.assertFails(self.register("sklearn", str(MODELS / "dict.joblib"), "m", check=None),
                         2, "holds a builtins.dict, not a scikit-learn model")
        self.assertFails(self.register("sklearn", lr, "bad/name", check=None), 2, "bad/name")
        self.assertFalse((self.home / "somlier.db").exists() and any(self.counts_of()))

    def counts_of(self):
        with sqlite3.connect(self.home / "somlier.db") as db:
            return [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("runs", "registered_models", "model_versions")]

    def test_object_storage_gcs_emulator_and_s3_with_sigv4(self):
        payload = (MODELS / "lr.joblib").read_bytes()
        seen = []

        class Fake(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                seen.append(url.path)
                if url.path == "/storage/v1/b/models/o/team%2Flr.joblib" and \
                        url.query == "alt=media":
                    return self.reply(200, payload)
                if url.path == "/bucket/team/lr.joblib":
                    if not verify_sigv4(self, "AKIDTEST", "s3cret", "eu-west-1"):
                        return self.reply(403, b"<Error>SignatureDoesNotMatch</Error>")
                    return self.reply(200, payload)
                return self.reply(404, b"not found")

            def reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        self.addCleanup(fake.server_close)
        self.addCleanup(fake.shutdown)
        port = fake.server_address[1]

        env = dict(self.env, STORAGE_EMULATOR_HOST=f"127.0.0.1:{port}")
        answer = self.somlier("online", "register_v2", "sklearn", "gs://models/team/lr.joblib",
                              "from-gcs", "--output", "json", env=env, check=0, timeout=120)
        self.assertEqual(json.loads(answer.stdout)["model_version"], "1")

        env = dict(self.env, AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}",
                   AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="s3cret",
                   AWS_REGION="eu-west-1")
        answer = self.somlier("online", "register_v2", "sklearn", "s3://bucket/team/lr.joblib",
                              "from-s3", "--output", "json", env=env, check=0, timeout=120)
        self.assertEqual(json.loads(answer.stdout)["model_version"], "1")
        env["AWS_SECRET_ACCESS_KEY"] = "wrong"
        self.assertFails(self.somlier("online", "register_v2", "sklearn",
                                      "s3://bucket/team/lr.joblib", "from-s3", env=env,
                                      timeout=120), 5, "HTTP 403")
        self.assertNotIn("wrong", "".join(seen))

    def test_post_register_v2_answers_the_seeds_register_shape(self):
        # A local path: allowed by a server only with --allow_local_sources (test_fetch_policy).
        server = ServerProcess(self.env, "--allow_local_sources")
        self.addCleanup(server.stop)
        answer = request_json("POST", server.url + "/register_v2", {
            "model_type": "sklearn", "uri": str(MODELS / "lr.joblib"), "model_name": "rest"})
        self.assertEqual(set(answer), {"model_version", "is_newer_version", "message"})
        with self.assertRaises(HttpError) as e:
            request_json("POST", server.url + "/online/register_v2", {
                "model_type": "keras", "uri": str(MODELS / "lr.joblib"), "model_name": "rest"})
        self.assertEqual(e.exception.status, 422)
        self.assertIn("unsupported MODEL_TYPE 'keras'", e.exception.json["detail"])


def verify_sigv4(handler, key_id, secret, region):
    """Checks a request's AWS Signature Version 4 (an independent implementation)."""
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key, date, reg, service, _ = fields["Credential"].split("/")
    if key != key_id or reg != region or service != "s3":
        return False
    names = fields["SignedHeaders"].split(";")
    canonical_headers = "".join(f"{n}:{handler.headers.get(n, '').strip()}\n" for n in names)
    url = urllib.parse.urlsplit(handler.path)
    canonical = "\n".join(["GET", url.path, url.query, canonical_headers,
                           fields["SignedHeaders"], handler.headers["x-amz-content-sha256"]])
    amz_date = handler.headers["x-amz-date"]
    scope = f"{date}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])

    def sign(k, msg):
        return hmac.new(k, msg.encode(), hashlib.sha256).digest()

    k = sign(sign(sign(sign(("AWS4" + secret).encode(), date), region), "s3"), "aws4_request")
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["Signature"])


class DeployTest(SomlierTestCase):
    def test_deploy_list_predict_redeploy_and_stop(self):
        self.somlier("online", "register_v2", "sklearn", str(MODELS / "lr.joblib"), "iris-lr",
                     check=0, timeout=120)
        self.addCleanup(self.somlier, "deployments", "stop", "iris-lr-v1", timeout=60)
        result = self.somlier("deploy", "iris", "iris-lr", "1", "--output", "json", check=0,
                              timeout=180)
        answer = json.loads(result.stdout)
        self.assertEqual(answer["status"], "deployed")
        self.assertEqual(answer["name"], "iris-lr-v1")
        self.assertIn(answer["url"], answer["message"])
        url = answer["url"]
        expected = joblib.load(MODELS / "lr.joblib").predict(X[:3]).tolist()
        self.assertEqual(post(url + "/invocations", {"instances": X[:3].tolist()}),
                         {"predictions": expected})

        listed = json.loads(self.somlier("deployments", "list", "--output", "json",
                                         check=0).stdout)["deployments"]
        [d] = listed
        self.assertEqual((d["name"], d["status"], d["url"], d["model_version"]),
                         ("iris-lr-v1", "RUNNING", url, "1"))
        supervisor = d["pid"]
        self.assertIn(f"SOMLIER_DEPLOYMENT=iris-lr-v1".encode(),
                      pathlib.Path(f"/proc/{supervisor}/environ").read_bytes())

        # Deploying it again reports the running one, also through the seed's REST API.
        again = json.loads(self.somlier("online", "deploy", "iris", "iris-lr", "1", "--output",
                                        "json", check=0, timeout=60).stdout)
        self.assertEqual((again["status"], again["url"]), ("already_deployed", url))
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        rest = request_json("POST", server.url + "/deploy", {
            "project_name": "iris", "model_name": "iris-lr", "model_version": "1",
            "use_k8s_job": False, "istio_enabled": False})
        self.assertEqual(rest["status"], "already_deployed")
        self.assertIn(url, rest["message"])
        with self.assertRaises(HttpError) as e:
            request_json("POST", server.url + "/deploy", {
                "project_name": "iris", "model_name": "iris-lr", "model_version": "1",
                "use_k8s_job": True})
        self.assertEqual(e.exception.status, 412)
        self.assertIn("Kubernetes is not configured for this server", e.exception.body)
        listed = json.loads(self.somlier("deployments", "list", "--output", "json",
                                         check=0).stdout)["deployments"]
        self.assertEqual([d["pid"] for d in listed], [supervisor], "no second server")

        logs = self.somlier("deployments", "logs", "iris-lr-v1", check=0).stdout
        self.assertIn("serving models:/iris-lr/1", logs)

        self.somlier("deployments", "stop", "iris-lr-v1", check=0, timeout=60)
        listed = json.loads(self.somlier("deployments", "list", "--output", "json",
                                         check=0).stdout)["deployments"]
        self.assertEqual(listed[0]["status"], "STOPPED")
        self.assertFalse(running(supervisor))
        with self.assertRaises(Exception):
            post(url + "/invocations", {"instances": X[:1].tolist()}, timeout=5)

    def test_deploy_errors(self):
        self.assertFails(self.somlier("deploy", "p", "none", "1", timeout=60), 3, "none")
        self.assertFails(self.somlier("deploy", "p", "m", "one", timeout=60), 2,
                         "MODEL_VERSION 'one'")
        self.assertFails(self.somlier("deploy", "p", "m", "1", "--use_k8s_job=true", timeout=60),
                         5, "Kubernetes needs a SoMLier server", "use_k8s_job=false")
        self.assertFails(self.somlier("deploy", "p", "m", "1", "--canary_percent", "10",
                                      timeout=60), 5, "canary_percent", "SOMLIER_SERVER")
        self.assertFails(self.somlier("deployments", "stop", "nothing"), 3, "nothing")
        self.assertFalse((self.home / "deployments").exists()
                         and any((self.home / "deployments").iterdir()))


if __name__ == "__main__":
    unittest.main()
