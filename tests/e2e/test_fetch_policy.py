"""POST /register_v2 on `somlier server` is neither an SSRF nor a local-file oracle: the URIs
its callers send may name public sources only (no local paths, no file://, no host whose
addresses are loopback, private or link-local, checked again at every redirect) unless the
server is started with --allow_local_sources, and no error quotes the fetched file's bytes.
Every server here listens on 127.0.0.1 only."""
import contextlib
import http.server
import json
import sqlite3
import subprocess
import sys
import threading
import unittest

from somlier_e2e import (PYTHON, SOURCE_DIR, HttpError, ServerProcess, SomlierTestCase,
                         request_json)

# What another endpoint might answer: the first bytes of a pickle, then a secret that joblib's
# error would quote ("invalid literal for int() with base 10: b'top-secret-token'").
SECRET = b"\x80\x04gtop-secret-token\n"
HINT = "a server fetches only public sources unless started with --allow_local_sources"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves `files` ({path: bytes}); redirects every other path to `redirect` when set.
    Records the paths it was asked for."""
    files = {}
    redirect = None
    seen = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        if self.path in self.files:
            body = self.files[self.path]
            self.send_response(200)
        elif self.redirect:
            body = b""
            self.send_response(302)
            self.send_header("Location", self.redirect)
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def recording_server(files=None, redirect=None):
    """An HTTP server on 127.0.0.1; yields (base URL, the list of paths requested)."""
    seen = []
    handler = type("Handler", (_Recorder,), {"files": files or {}, "redirect": redirect,
                                             "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class FetchPolicyTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        sys.path.insert(0, str(SOURCE_DIR / "python"))
        self.addCleanup(sys.path.remove, str(SOURCE_DIR / "python"))
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        x, y = load_iris(return_X_y=True)
        self.model_file = self.tmp / "lr.joblib"
        joblib.dump(LogisticRegression(max_iter=1000).fit(x, y), self.model_file)
        self.model_bytes = self.model_file.read_bytes()

    def register(self, server, uri, name="fetched"):
        return request_json("POST", server.url + "/register_v2", {
            "model_type": "sklearn", "uri": uri, "model_name": name}, timeout=120)

    def counts(self):
        if not (self.home / "somlier.db").exists():
            return (0, 0, 0)
        with sqlite3.connect(self.home / "somlier.db") as db:
            return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in ("runs", "registered_models", "model_versions"))

    def assertRefused(self, server, uri, *fragments):
        with self.assertRaises(HttpError, msg=uri) as caught:
            self.register(server, uri)
        self.assertEqual(caught.exception.status, 422, caught.exception.body)
        detail = caught.exception.json["detail"]
        self.assertTrue(detail.startswith("refusing to fetch "), detail)
        self.assertTrue(detail.endswith(HINT), detail)
        for fragment in fragments:
            self.assertIn(fragment, detail)
        return detail

    def test_a_server_refuses_local_files_and_addresses_even_behind_a_redirect(self):
        with recording_server({"/lr.joblib": self.model_bytes}) as (base, seen), \
                recording_server(redirect=base + "/lr.joblib") as (emulator, redirected):
            port = base.rsplit(":", 1)[1]
            # The GCS emulator the operator configured is allowed; where it redirects is not.
            env = dict(self.env, STORAGE_EMULATOR_HOST=emulator.split("://")[1])
            server = ServerProcess(env)
            self.addCleanup(server.stop)
            local = str(self.model_file)
            cases = [
                (local, f"refusing to fetch {local}: it names a file on this machine"),
                ("file://" + local, "it names a file on this machine"),
                ("/etc/passwd", "it names a file on this machine"),
                ("/no/such/file", "it names a file on this machine"),  # not 404: no oracle
                (base + "/lr.joblib",
                 f"refusing to fetch {base}/lr.joblib: 127.0.0.1 is a loopback address; "),
                (f"http://localhost:{port}/lr.joblib", "localhost resolves to "),
                (f"http://2130706433:{port}/lr.joblib",
                 "2130706433 resolves to 127.0.0.1, a loopback address"),
                (f"http://[::ffff:127.0.0.1]:{port}/lr.joblib",
                 "::ffff:127.0.0.1 is a loopback address"),
                (f"http://0.0.0.0:{port}/lr.joblib", "0.0.0.0 is an unspecified address"),
                ("http://169.254.169.254/latest/meta-data/",
                 "169.254.169.254 is a link-local address"),
                ("http://10.20.30.40/model.pkl", "10.20.30.40 is a private address"),
                ("gs://models/lr.joblib",
                 f"refusing to fetch gs://models/lr.joblib: it redirects to {base}/lr.joblib, "
                 "and 127.0.0.1 is a loopback address; "),
            ]
            for uri, fragment in cases:
                self.assertRefused(server, uri, fragment)
            self.assertEqual(seen, [], "no request reached the file server")
            self.assertEqual(len(redirected), 1, "the emulator was asked once, for gs://")
            self.assertEqual(self.counts(), (0, 0, 0), "nothing was registered")

            # Clients of that server get the same answer (exit code 2: invalid argument).
            client_env = dict(self.env, SOMLIER_SERVER=server.url)
            self.assertFails(self.somlier("online", "register_v2", "sklearn", local, "m",
                                          env=client_env, timeout=60),
                             2, "it names a file on this machine", "--allow_local_sources")

            # Started with --allow_local_sources, the same server fetches them as before.
            server.stop()
            trusting = ServerProcess(env, "--allow_local_sources")
            self.addCleanup(trusting.stop)
            answer = self.register(trusting, base + "/lr.joblib", "local")
            self.assertEqual(answer["model_version"], "1")
            self.assertEqual(self.register(trusting, local, "local")["model_version"], "2")
            self.assertEqual(self.register(trusting, "gs://models/lr.joblib",
                                           "local")["model_version"], "3")
        self.assertEqual(self.counts(), (3, 1, 3))

    def test_the_in_process_cli_still_reads_the_users_own_files(self):
        result = self.somlier("online", "register_v2", "sklearn", str(self.model_file), "mine",
                              "--output", "json", check=0, timeout=120)
        self.assertEqual(json.loads(result.stdout)["model_version"], "1")

    def test_a_file_that_does_not_load_is_not_quoted_back(self):
        with recording_server({"/secret": SECRET, "/text": b"OPEN SESAME"}) as (base, _):
            server = ServerProcess(self.env, "--allow_local_sources")
            self.addCleanup(server.stop)
            for path in ("/secret", "/text"):
                with self.assertRaises(HttpError) as caught:
                    self.register(server, base + path)
                self.assertEqual(caught.exception.status, 422, caught.exception.body)
                detail = caught.exception.json["detail"]
                self.assertRegex(detail, r"^the file is not a scikit-learn model saved with "
                                         r"joblib or pickle \(\w+\)$")
                for leak in ("top-secret", "OPEN", "SESAME", "79", "invalid"):
                    self.assertNotIn(leak, detail)
        self.assertEqual(self.counts()[1:], (0, 0))

    def test_the_pytorch_loader_does_not_quote_the_file_either(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("no torch")
        (self.tmp / "secret.pth").write_bytes(SECRET)
        module = self.write("net.py", """
            import torch

            class Net(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = torch.nn.Linear(2, 1)
            """)
        env = dict(self.env, PYTHONPATH=str(SOURCE_DIR / "python"))
        result = subprocess.run(
            [PYTHON, "-m", "somlier._import_model", "pytorch", str(self.tmp / "secret.pth"),
             str(self.tmp / "out"), str(module), "Net"],
            env=env, capture_output=True, text=True, timeout=120)
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(answer["error"], "unreadable", answer)
        self.assertRegex(answer["message"], r"^the file is not a PyTorch state dict saved with "
                                            r"torch.save \(\w+\)$")
        self.assertNotIn("top-secret", answer["message"])


if __name__ == "__main__":
    unittest.main()
