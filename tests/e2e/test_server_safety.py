"""The server as a team runs it: tokens, listening addresses, artifact paths that try to
escape, many clients at once, and a SIGKILL in the middle of a metric load."""
import base64
import concurrent.futures
import os
import signal
import subprocess
import threading
import time
import unittest

from somlier_e2e import (SOMLIER_BIN, HttpError, ServerProcess, SomlierTestCase, request_json)


class TokenTest(SomlierTestCase):
    def test_token_is_required_everywhere_but_health(self):
        server = ServerProcess(self.env, "--token", "s3cret-token")
        self.addCleanup(server.stop)
        api = f"{server.url}/api/2.0/mlflow/experiments/search"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret-tokenX"},
                        {"Authorization": "Basic " + base64.b64encode(b"kim:wrong").decode()}):
            with self.assertRaises(HttpError) as caught:
                request_json("POST", api, {}, headers=headers)
            self.assertEqual(caught.exception.status, 401, headers)
            self.assertEqual(caught.exception.json["error_code"], "UNAUTHENTICATED")
        with self.assertRaises(HttpError) as caught:
            request_json("PUT", f"{server.url}/api/2.0/mlflow-artifacts/artifacts/0/x", b"data")
        self.assertEqual(caught.exception.status, 401)
        with self.assertRaises(HttpError) as caught:
            request_json("POST", f"{server.url}/search", {})
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(request_json("GET", f"{server.url}/health", raw=True), b"OK")
        ok = request_json("POST", api, {}, headers={"Authorization": "Bearer s3cret-token"})
        self.assertEqual(ok["experiments"][0]["name"], "Default")
        basic = base64.b64encode(b"anyone:s3cret-token").decode()
        self.assertIn("experiments", request_json("POST", api, {},
                                                  headers={"Authorization": "Basic " + basic}))
        # Clients send the token from SOMLIER_TOKEN.
        env = dict(self.env, SOMLIER_SERVER=server.url, SOMLIER_TOKEN="s3cret-token")
        result = self.somlier("search", "nope", "m", "ASC", env=env)
        self.assertEqual(result.returncode, 3, result.stderr)  # reached the server: not found
        env["SOMLIER_TOKEN"] = "wrong"
        result = self.somlier("search", "nope", "m", "ASC", env=env)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("token", result.stderr)

    def test_refuses_public_address_without_token(self):
        result = self.somlier("server", "--host", "0.0.0.0", "--port", "0", timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("0.0.0.0", result.stderr)
        self.assertIn("--token", result.stderr)
        self.assertIn("--insecure", result.stderr)


class ArtifactEscapeTest(SomlierTestCase):
    def test_symlinks_and_dot_dot_cannot_leave_the_root(self):
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        root = self.home / "artifacts"
        outside = self.tmp / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_text("secret")
        (root / "0").mkdir(parents=True, exist_ok=True)
        os.symlink(outside, root / "0" / "link")
        base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
        for method, url, body in (("GET", f"{base}/0/link/secret.txt", None),
                                  ("PUT", f"{base}/0/link/planted.txt", b"x"),
                                  ("GET", f"{base}?path=0/link", None),
                                  ("DELETE", f"{base}/0/link/secret.txt", None),
                                  ("GET", f"{base}/%2e%2e/%2e%2e/etc/passwd", None)):
            with self.assertRaises(HttpError) as caught:
                request_json(method, url, body, raw=True)
            self.assertEqual(caught.exception.status, 400, url)
        self.assertFalse((outside / "planted.txt").exists())
        self.assertEqual((outside / "secret.txt").read_text(), "secret")


class LoadTest(SomlierTestCase):
    def test_64_clients_logging_at_once_lose_nothing(self):
        server = ServerProcess(self.env)
        self.addCleanup(server.stop)
        api = f"{server.url}/api/2.0/mlflow"
        exp = request_json("POST", f"{api}/experiments/create", {"name": "load"})["experiment_id"]
        runs = [request_json("POST", f"{api}/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
                for _ in range(8)]
        batches, per_batch = 20, 50

        def client(index):
            run = runs[index % len(runs)]
            for b in range(batches):
                metrics = [{"key": f"c{index}", "value": b * per_batch + i, "timestamp": 1000 + b,
                            "step": b * per_batch + i} for i in range(per_batch)]
                request_json("POST", f"{api}/runs/log-batch", {"run_id": run, "metrics": metrics})
            return index

        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            done = list(pool.map(client, range(64)))
        self.assertEqual(done, list(range(64)))
        for index in range(64):
            history = request_json("GET", f"{api}/metrics/get-history?run_id={runs[index % 8]}"
                                          f"&metric_key=c{index}")["metrics"]
            self.assertEqual([m["step"] for m in history], list(range(batches * per_batch)), index)


class DurabilityTest(SomlierTestCase):
    def test_sigkill_mid_load_loses_no_acknowledged_metric(self):
        server = ServerProcess(self.env)
        self.addCleanup(server.kill)
        api = f"{server.url}/api/2.0/mlflow"
        exp = request_json("POST", f"{api}/experiments/create", {"name": "crash"})["experiment_id"]
        runs = [request_json("POST", f"{api}/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
                for _ in range(4)]
        acknowledged = {run: [] for run in runs}
        stop = threading.Event()

        def writer(run):
            step = 0
            while not stop.is_set():
                metrics = [{"key": "m", "value": step + i, "timestamp": 1, "step": step + i}
                           for i in range(100)]
                try:
                    request_json("POST", f"{api}/runs/log-batch", {"run_id": run, "metrics": metrics},
                                 timeout=10)
                except Exception:
                    return  # the server died under us: this batch was not acknowledged
                acknowledged[run].extend(range(step, step + 100))
                step += 100

        threads = [threading.Thread(target=writer, args=(run,)) for run in runs]
        for t in threads:
            t.start()
        time.sleep(2.0)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertTrue(all(acknowledged[r] for r in runs), "the load ran before the kill")

        restarted = ServerProcess(self.env)
        self.addCleanup(restarted.stop)
        api = f"{restarted.url}/api/2.0/mlflow"
        for run in runs:
            history = request_json("GET", f"{api}/metrics/get-history?run_id={run}&metric_key=m")
            stored = {int(m["step"]) for m in history.get("metrics", [])}
            missing = set(acknowledged[run]) - stored
            self.assertFalse(missing, f"{len(missing)} acknowledged points of {run} were lost")
        # And the database still takes writes.
        request_json("POST", f"{api}/runs/log-metric",
                     {"run_id": runs[0], "key": "after", "value": 1, "timestamp": 1})


if __name__ == "__main__":
    unittest.main()
