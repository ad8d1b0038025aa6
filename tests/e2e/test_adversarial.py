"""Hostile requests against `somlier server` and `somlier serve-model`, as an attacker on
the same machine (or a web page in the user's browser) would send them: deep JSON, bodies
that bypass limits, cross-site requests, paths that try to delete too much. After each
attack the server must still be alive and answer correctly."""
import http.client
import json
import time
import pathlib
import tempfile
import unittest
import urllib.parse

from slow_clients import SlowClientAttack, timed_request
from somlier_e2e import HttpError, PYTHON, ServerProcess, SomlierTestCase, request_json

DEEP = 100_000

# One endpoint of every family the API server has: MLflow tracking and registry, the
# seed's routes and SoMLier's own.
JSON_ENDPOINTS = [
    "/api/2.0/mlflow/experiments/create",
    "/api/2.0/mlflow/runs/create",
    "/api/2.0/mlflow/runs/search",
    "/api/2.0/mlflow/runs/log-metric",
    "/api/2.0/mlflow/runs/log-batch",
    "/api/2.0/mlflow/registered-models/create",
    "/api/2.0/mlflow/model-versions/create",
    "/ajax-api/2.0/mlflow/experiments/search",
    "/search", "/register", "/register_v2", "/online/train", "/train", "/deploy",
    "/runs/list", "/runs/logs", "/runs/kill", "/deployments/list", "/deployments/logs",
]


def raw_request(url, method, path, body=b"", headers=None, timeout=30):
    """One request over a fresh connection; returns (status, parsed JSON or text)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        headers = dict(headers or {})
        headers.setdefault("Host", f"{parts.hostname}:{parts.port}")
        for key, value in headers.items():
            conn.putheader(key, value)
        if body and not any(k.lower() in ("content-length", "transfer-encoding")
                            for k in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        payload = response.read()
        try:
            return response.status, json.loads(payload)
        except ValueError:
            return response.status, payload.decode("utf-8", "replace")
    finally:
        conn.close()


def deep_json(field="name"):
    return ('{"%s": ' % field + "[" * DEEP + "]" * DEEP + "}").encode()


class ApiServerAttackTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.server = ServerProcess(self.env)
        self.addCleanup(self.server.stop)

    def assertAlive(self):
        self.assertIsNone(self.server.proc.poll(), "the server died:\n"
                          + "".join(self.server.stderr_lines[-20:]))
        experiments = request_json("POST", f"{self.server.url}/api/2.0/mlflow/experiments/search",
                                   {})["experiments"]
        self.assertIn("Default", [e["name"] for e in experiments])

    def test_deep_json_is_refused_on_every_endpoint(self):
        for path in JSON_ENDPOINTS:
            for field in ("name", "experiment_id", "project_name", "filter", "params"):
                status, body = raw_request(self.server.url, "POST", path, deep_json(field),
                                           {"Content-Type": "application/json"})
                self.assertIn(status, (400, 404, 422), f"{path} {field}: {body}")
                self.assertNotIn("SELECT", json.dumps(body))
            self.assertAlive()

    def test_artifact_delete_never_takes_the_root_or_an_experiment(self):
        url = f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts"
        request_json("PUT", f"{url}/0/run1/artifacts/a.txt", b"precious",
                     headers={"Content-Type": "application/octet-stream"})
        for path in ("%2e", ".", "%2e/", "0", "0/", "0/%2e", "0//run1", "%2e%2e", "0/run1/%2e"):
            status, body = raw_request(self.server.url, "DELETE",
                                       f"/api/2.0/mlflow-artifacts/artifacts/{path}")
            self.assertIn(status, (400, 404), f"{path}: {body}")
        self.assertEqual(request_json("GET", f"{url}/0/run1/artifacts/a.txt", raw=True),
                         b"precious")
        # What MLflow's garbage collection deletes: a run's artifacts directory.
        status, _ = raw_request(self.server.url, "DELETE",
                                "/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts")
        self.assertEqual(status, 200)
        with self.assertRaises(HttpError) as caught:
            request_json("GET", f"{url}/0/run1/artifacts/a.txt")
        self.assertEqual(caught.exception.status, 404)

    def test_uploads_that_stop_early_or_name_no_file_keep_nothing(self):
        url = urllib.parse.urlsplit(self.server.url)
        status, _ = raw_request(self.server.url, "PUT", "/api/2.0/mlflow-artifacts/artifacts/",
                                b"x" * 10, {"Content-Type": "application/octet-stream"})
        self.assertEqual(status, 404)
        # Announce 1 MB, send 10 bytes, hang up: no partial file may appear.
        import socket
        with socket.create_connection((url.hostname, url.port), timeout=10) as s:
            s.sendall(b"PUT /api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/part.bin HTTP/1.1\r\n"
                      b"Host: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n" + b"y" * 10)
        time.sleep(0.5)
        with self.assertRaises(HttpError) as caught:
            request_json("GET", f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts/0/r/"
                                "artifacts/part.bin")
        self.assertEqual(caught.exception.status, 404)
        # Compressed bodies are refused, not inflated past the limits.
        status, answer = raw_request(self.server.url, "POST", "/api/2.0/mlflow/experiments/create",
                                     b"\x1f\x8b", {"Content-Type": "application/json",
                                                   "Content-Encoding": "gzip"})
        self.assertEqual(status, 415, answer)
        self.assertAlive()

    def test_cross_site_requests_are_refused(self):
        evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
        body = b'{"project_name": "p", "project_ref": "main", "github_uri": "/tmp/x"}'
        for path in ("/train", "/register_v2", "/api/2.0/mlflow/experiments/create"):
            status, answer = raw_request(self.server.url, "POST", path, body, evil)
            self.assertEqual(status, 403, f"{path}: {answer}")
            self.assertIn("cross-origin", answer["message"])
            # A "simple" cross-site POST: text/plain, form, or no type at all.
            for content_type in ("text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", None):
                headers = {} if content_type is None else {"Content-Type": content_type}
                status, answer = raw_request(self.server.url, "POST", path, body, headers)
                self.assertEqual(status, 415, f"{path} {content_type}: {answer}")
                self.assertIn("application/json", answer["message"])
        # DNS rebinding: the page's own name in Host, pointing at 127.0.0.1.
        status, answer = raw_request(self.server.url, "POST", "/api/2.0/mlflow/experiments/search",
                                     b"{}", {"Host": "evil.example:5000",
                                             "Content-Type": "application/json"})
        self.assertEqual(status, 403, answer)
        self.assertIn("evil.example", answer["message"])
        status, _ = raw_request(self.server.url, "GET", "/api/2.0/mlflow/experiments/search",
                                headers={"Host": "rebound.example"})
        self.assertEqual(status, 403)
        # The server's own origin, and loopback names with any port, are fine.
        port = urllib.parse.urlsplit(self.server.url).port
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST", f"[::1]:{port}"):
            status, answer = raw_request(
                self.server.url, "POST", "/api/2.0/mlflow/experiments/search", b"{}",
                {"Host": host, "Origin": f"http://{host}", "Content-Type": "application/json"})
            self.assertEqual(status, 200, f"{host}: {answer}")
        # Nothing was created by any of it.
        self.assertEqual(len(request_json("POST", f"{self.server.url}/api/2.0/mlflow/experiments/search",
                                          {})["experiments"]), 1)

    def test_allowed_hosts_and_a_token_admit_other_names(self):
        allowed = ServerProcess(self.env, "--allowed_hosts", "somlier.internal,ui.internal:8080")
        self.addCleanup(allowed.stop)
        search = "/api/2.0/mlflow/experiments/search"
        ok = {"Content-Type": "application/json"}
        self.assertEqual(raw_request(allowed.url, "POST", search, b"{}",
                                     dict(ok, Host="somlier.internal:5000"))[0], 200)
        self.assertEqual(raw_request(allowed.url, "POST", search, b"{}",
                                     dict(ok, Host="somlier.internal",
                                          Origin="http://ui.internal:8080"))[0], 200)
        self.assertEqual(raw_request(allowed.url, "POST", search, b"{}",
                                     dict(ok, Host="other.internal"))[0], 403)
        # With a token, a client without Origin may use any name (pods, probes, CLIs) ...
        token_file = self.tmp / "token"
        token_file.write_text("t0ken-from-file\n")
        with_token = ServerProcess(self.env, "--token_file", str(token_file))
        self.addCleanup(with_token.stop)
        auth = dict(ok, Authorization="bearer t0ken-from-file")  # schemes are case-insensitive
        self.assertEqual(raw_request(with_token.url, "POST", search, b"{}",
                                     dict(auth, Host="somlier.somlier.svc:5000"))[0], 200)
        # ... but a web page on another name is still refused.
        self.assertEqual(raw_request(with_token.url, "POST", search, b"{}",
                                     dict(auth, Host="evil.example",
                                          Origin="http://evil.example"))[0], 403)
        self.assertEqual(raw_request(with_token.url, "POST", search, b"{}",
                                     dict(ok, Authorization="Bearer wrong"))[0], 401)

    def test_token_file_errors(self):
        result = self.somlier("server", "--port", "0", "--token_file", str(self.tmp / "none"))
        self.assertFails(result, 2, "--token_file", "cannot be read")
        (self.tmp / "empty").write_text("\n")
        result = self.somlier("server", "--port", "0", "--token_file", str(self.tmp / "empty"))
        self.assertFails(result, 2, "holds no token")

    def test_body_limits_cannot_be_bypassed(self):
        big = str(64 << 20)
        for path in ("/api/2.0/mlflow-artifacts/nope", "/api/2.0/mlflow-artifacts/artifacts/0/x",
                     "/x/mlflow-artifacts/y", "/api/2.0/mlflow/experiments/create"):
            status, answer = raw_request(self.server.url, "POST", path, b"",
                                         {"Content-Type": "application/json",
                                          "Content-Length": big})
            self.assertEqual(status, 413, f"{path}: {answer}")
        # Chunked bodies, in any spelling, are decoded and held to the same limit.
        create = "/api/2.0/mlflow/experiments/create"
        for i, spelling in enumerate(("chunked", "Chunked", "CHUNKED")):
            body = json.dumps({"name": f"chunked-{i}"}).encode()
            chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            status, answer = raw_request(self.server.url, "POST", create, chunked,
                                         {"Content-Type": "application/json",
                                          "Transfer-Encoding": spelling})
            self.assertEqual(status, 200, f"{spelling}: {answer}")
        status, answer = raw_request(self.server.url, "POST", create, b"0\r\n\r\n",
                                     {"Content-Type": "application/json",
                                      "Transfer-Encoding": "gzip, chunked"})
        self.assertEqual(status, 501, answer)
        # A chunked body that grows past the limit gets a 413 the client can read, even
        # while it is still sending.
        huge = b"".join(b"100000\r\n" + b" " * 0x100000 + b"\r\n" for _ in range(40))
        status, answer = raw_request(self.server.url, "POST", create, huge + b"0\r\n\r\n",
                                     {"Content-Type": "application/json",
                                      "Transfer-Encoding": "chunked"})
        self.assertEqual(status, 413, answer)
        self.assertIn("limited to", answer["message"])
        self.assertAlive()

    def test_search_with_too_many_keys_is_a_400_without_sql(self):
        keys = [f"metrics.m{i} > 0" for i in range(70)]
        with self.assertRaises(HttpError) as caught:
            request_json("POST", f"{self.server.url}/api/2.0/mlflow/runs/search",
                         {"experiment_ids": ["0"], "filter": " and ".join(keys)})
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("at most 50", caught.exception.json["message"])
        self.assertNotIn("SELECT", caught.exception.body)
        with self.assertRaises(HttpError) as caught:
            request_json("POST", f"{self.server.url}/api/2.0/mlflow/runs/search",
                         {"experiment_ids": ["0"],
                          "order_by": [f"params.p{i} DESC" for i in range(70)]})
        self.assertEqual(caught.exception.status, 400)
        self.assertNotIn("SELECT", caught.exception.body)
        self.assertAlive()


MODELS = None


def setUpModule():
    """A small scikit-learn regressor in the MLflow format, for the model-server attacks."""
    global MODELS
    import subprocess
    MODELS = pathlib.Path(tempfile.mkdtemp(prefix="somlier-adversarial-models-"))
    python_dir = pathlib.Path(__file__).resolve().parents[2] / "python"
    subprocess.run([PYTHON, "-c", f"""
import sys
sys.path.insert(0, {str(python_dir)!r})
import numpy as np
from sklearn.linear_model import LinearRegression
import somlier.sklearn
x = np.arange(40, dtype=float).reshape(10, 4)
somlier.sklearn.save_model(LinearRegression().fit(x, x.sum(axis=1)), {str(MODELS / 'lr')!r})
"""], check=True, timeout=120)


def tearDownModule():
    import shutil
    shutil.rmtree(MODELS, ignore_errors=True)


class ModelServerAttackTest(SomlierTestCase):
    def test_deep_inputs_and_bad_csv_never_crash_or_restart_workers(self):
        from somlier_e2e import ModelServer, metric
        server = ModelServer(self, MODELS / "lr")
        nest = "[" * DEEP + "]" * DEEP
        bodies = [
            '{"inputs": %s}' % nest,
            '{"instances": %s}' % nest,
            '{"dataframe_records": %s}' % nest,
            '{"dataframe_split": {"columns": %s, "data": [[1,2,3,4]]}}' % nest,
        ]
        for body in bodies:
            status, answer = raw_request(server.url, "POST", "/invocations", body.encode(),
                                         {"Content-Type": "application/json"})
            self.assertEqual(status, 400, answer)
        v2 = ['{"inputs": [{"name": "x", "shape": %s, "datatype": "FP64", "data": [1]}]}' % nest,
              '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": %s}]}' % nest]
        for body in v2:
            status, answer = raw_request(server.url, "POST", "/v2/models/lr/infer", body.encode(),
                                         {"Content-Type": "application/json"})
            self.assertEqual(status, 400, answer)
        for _ in range(5):
            status, answer = raw_request(server.url, "POST", "/invocations",
                                         b"\xff,b,c,d\n1,2,3,4\n", {"Content-Type": "text/csv"})
            self.assertEqual(status, 400, answer)
            self.assertIn("UTF-8", answer["message"])
        good = request_json("POST", f"{server.url}/invocations",
                            {"inputs": [[1.0, 2.0, 3.0, 4.0]]})
        self.assertAlmostEqual(good["predictions"][0], 10.0, places=6)
        metrics = request_json("GET", f"{server.url}/metrics", raw=True).decode()
        self.assertEqual(metric(metrics, "somlier_worker_restarts_total"), 0)


WRONG_TYPES = {
    "name": {"a": [1]}, "experiment_id": [[1]], "experiment_ids": "0", "run_id": {"x": 1},
    "run_uuid": 12, "key": [], "value": {}, "timestamp": -1.5, "step": 2 ** 64,
    "max_results": 1e30, "filter": 12, "order_by": {"x": 1}, "page_token": [1],
    "project_name": 1e308, "project_ref": None, "params": "x", "workers": 2 ** 64,
    "model_name": ["x"], "model_version": {"v": 1}, "version": -(2 ** 70), "tags": "x",
    "description": ["d" * 10], "source": 5, "alias": {}, "stage": [], "tail": "x",
    "offset": -1, "top": 1e9, "uri": {"u": 1}, "model_type": 7, "use_k8s_job": "maybe",
}


def route_table(case, *args):
    """The routes a server prints with --print_routes."""
    result = case.somlier(*args, "--print_routes", check=0, timeout=120)
    routes = json.loads(result.stdout)
    case.assertGreater(len(routes), 3)
    return routes


class EveryEndpointTest(SomlierTestCase):
    """Every route a server has — read from its own route table, so endpoints added later
    are attacked too — gets deep, malformed, wrongly typed, oversized and cross-site
    requests. None may answer 5xx, and the server must still answer correctly after."""

    def attack(self, url, routes, alive):
        failures = []

        def expect(route, what, status, allowed):
            if status not in allowed:
                failures.append(f"{route['method']} {route['path']} {what}: {status}")

        json_type = {"Content-Type": "application/json"}
        for route in routes:
            method, path = route["method"], route["path"]
            upload = method == "PUT" and "mlflow-artifacts" in path
            if method == "GET":
                status, _ = raw_request(url, "GET", path + "?name=" + "a" * 5000
                                        + "&experiment_id=" + "%5B" * 2000 + "&max_results=1e999")
                expect(route, "hostile query", status, range(200, 500))
                continue
            status, _ = raw_request(url, method, path, b"{}",
                                    {"Content-Type": "application/json",
                                     "Origin": "http://evil.example"})
            expect(route, "cross-site", status, (403,))
            status, _ = raw_request(url, method, path, b"",
                                    {"Content-Type": "application/json",
                                     "Content-Length": str(10 ** 13)})
            expect(route, "oversized", status, (413,))
            if upload:
                continue
            for what, body in (("deep", deep_json()), ("malformed", b"{not json"),
                               ("wrong types", json.dumps(WRONG_TYPES).encode()),
                               ("deep in a field", deep_json("params"))):
                status, _ = raw_request(url, method, path, body, json_type)
                expect(route, what, status, range(400, 500))
            if method in ("POST", "PATCH"):
                status, _ = raw_request(url, method, path, b"{}", {"Content-Type": "text/plain"})
                expect(route, "text/plain", status, (415,))
        self.assertEqual(failures, [])
        alive()

    def test_every_api_server_endpoint(self):
        routes = route_table(self, "server", "--port", "0")
        paths = {r["path"] for r in routes}
        for expected in ("/train", "/register_v2", "/api/2.0/mlflow/runs/log-batch",
                         "/ajax-api/2.0/mlflow/registered-models/create", "/deployments/stop"):
            self.assertIn(expected, paths)
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)

        def alive():
            self.assertIsNone(server.proc.poll())
            created = request_json("POST", f"{server.url}/api/2.0/mlflow/experiments/create",
                                   {"name": "still-works"})
            self.assertTrue(created["experiment_id"])

        self.attack(server.url, routes, alive)

    def test_unknown_fields_are_refused_by_somlier_and_ignored_by_mlflow(self):
        """SoMLier's own endpoints (the seed's and ours) refuse a field they do not know with
        422 naming it and the accepted ones; MLflow's routes ignore it, as MLflow does."""
        routes = route_table(self, "server", "--port", "0")
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        json_type = {"Content-Type": "application/json"}
        own = [r for r in routes if r["method"] == "POST" and "mlflow" not in r["path"]]
        self.assertIn("/train", {r["path"] for r in own})
        self.assertIn("/online/deploy", {r["path"] for r in own})
        for route in own:
            with self.subTest(path=route["path"]):
                status, answer = raw_request(server.url, "POST", route["path"],
                                             b'{"bogus_field": 1}', json_type)
                self.assertEqual(status, 422, answer)
                self.assertEqual(answer["status_code"], 422)
                self.assertIn("unknown field 'bogus_field' (accepted: ", answer["detail"])
        mlflow = [r for r in routes if r["method"] in ("POST", "PATCH")
                  and "/api/2.0/mlflow/" in r["path"] and not r["path"].endswith("log-batch")]
        self.assertGreater(len(mlflow), 10)
        for route in mlflow:
            with self.subTest(path=route["path"]):
                status, answer = raw_request(server.url, route["method"], route["path"],
                                             b'{"bogus_field": 1}', json_type)
                self.assertNotIn("bogus_field", json.dumps(answer))
        created = request_json("POST", server.url + "/api/2.0/mlflow/experiments/create",
                               {"name": "with-a-newer-client", "bogus_field": 1})
        self.assertTrue(created["experiment_id"])

    def test_every_model_server_endpoint(self):
        from somlier_e2e import ModelServer
        routes = route_table(self, "serve-model", str(MODELS / "lr"), "--port", "0")
        self.assertIn("/v2/models/x/infer", {r["path"] for r in routes})
        server = ModelServer(self, MODELS / "lr")

        def alive():
            answer = request_json("POST", f"{server.url}/invocations",
                                  {"inputs": [[1.0, 2.0, 3.0, 4.0]]})
            self.assertAlmostEqual(answer["predictions"][0], 10.0, places=6)

        # The model server changes no state: no Origin or content-type rules there, only
        # bounded parsing and sizes.
        failures = []
        for route in routes:
            if route["method"] != "POST":
                continue
            for what, body in (("deep", deep_json("inputs")), ("malformed", b"{not json"),
                               ("wrong types", json.dumps(WRONG_TYPES).encode())):
                status, _ = raw_request(server.url, "POST", route["path"], body,
                                        {"Content-Type": "application/json"})
                if not 400 <= status < 500:
                    failures.append(f"{route['path']} {what}: {status}")
            status, _ = raw_request(server.url, "POST", route["path"], b"",
                                    {"Content-Type": "application/json",
                                     "Content-Length": str(10 ** 13)})
            if status != 413:
                failures.append(f"{route['path']} oversized: {status}")
        self.assertEqual(failures, [])
        alive()


class SlowClientsTest(SomlierTestCase):
    """1,000 slow-header and 1,000 idle keep-alive sockets from 127.0.0.2-9 must not keep a
    new client from 127.0.0.1 from being answered, and slow heads are cut off."""

    def attack_and_check(self, url, path):
        port = urllib.parse.urlsplit(url).port
        attack = SlowClientAttack("127.0.0.1", port, slow=1000, idle=1000)
        self.addCleanup(attack.stop)
        for _ in range(10):
            seconds, status = timed_request("127.0.0.1", port, path)
            self.assertEqual(status, 200)
            self.assertLess(seconds, 2.0)
        # One byte a second does not keep a head open past the head deadline (10 s).
        deadline = time.monotonic() + 25
        while attack.slow_closed < len(attack.slow) and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(attack.slow_closed, len(attack.slow))
        seconds, status = timed_request("127.0.0.1", port, path)
        self.assertEqual(status, 200)

    def test_api_server_holds_slow_and_idle_clients(self):
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        self.attack_and_check(server.url, "/health")
        self.assertIsNone(server.proc.poll())

    def test_model_server_holds_slow_and_idle_clients(self):
        from somlier_e2e import ModelServer
        server = ModelServer(self, MODELS / "lr")
        self.attack_and_check(server.url, "/ping")


if __name__ == "__main__":
    unittest.main()
