"""Helpers for end-to-end tests that drive the built `somlier` binary.

SOMLIER_BIN names the binary (CTest sets it); SOMLIER_SOURCE_DIR the source tree. Every
test gets its own SOMLIER_HOME in a temporary directory, so tests never share state.
"""
import contextlib
import functools
import http.server
import json
import os
import pathlib
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

SOMLIER_BIN = os.environ.get("SOMLIER_BIN") or str(
    pathlib.Path(__file__).resolve().parents[2] / "build" / "somlier")
SOURCE_DIR = pathlib.Path(os.environ.get("SOMLIER_SOURCE_DIR")
                          or pathlib.Path(__file__).resolve().parents[2])
PYTHON = os.environ.get("SOMLIER_PYTHON") or sys.executable

_LIBC = None


def die_with_test_runner():
    """preexec_fn for long-lived children (servers): the kernel kills them when the test
    process dies, however it dies (a ctest timeout, Ctrl-C), so no server outlives a run."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        _LIBC = ctypes.CDLL(None, use_errno=True)
    _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class SomlierTestCase(unittest.TestCase):
    """A test with a private temporary directory, SOMLIER_HOME and environment."""

    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="somlier-e2e-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.home = self.tmp / "home"
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("SOMLIER_") and key not in ("SOMLIER_BIN", "SOMLIER_SOURCE_DIR"):
                del self.env[key]
        self.env["SOMLIER_HOME"] = str(self.home)
        self.env["SOMLIER_PYTHON"] = PYTHON

    def write(self, relative, text, mode=None):
        path = self.tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if mode is not None:
            path.chmod(mode)
        return path

    def somlier(self, *args, cwd=None, env=None, timeout=60, check=None):
        """Runs somlier to completion; returns CompletedProcess with text stdout/stderr."""
        result = subprocess.run(
            [SOMLIER_BIN, *args], cwd=cwd or self.tmp, env=env or self.env,
            capture_output=True, text=True, timeout=timeout)
        if check is not None:
            self.assertEqual(result.returncode, check,
                             f"somlier {' '.join(args)}\nstdout:\n{result.stdout}\n"
                             f"stderr:\n{result.stderr}")
        return result

    def start_somlier(self, *args, cwd=None, env=None):
        """Starts somlier in the background with piped stdout/stderr."""
        proc = subprocess.Popen(
            [SOMLIER_BIN, *args], cwd=cwd or self.tmp, env=env or self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=die_with_test_runner)
        self.addCleanup(_kill_quietly, proc)
        return proc

    def assertFails(self, result, exit_code, *fragments):
        """The command failed with `exit_code` and stderr names every fragment."""
        self.assertEqual(result.returncode, exit_code,
                         f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)


def postgres_base_url():
    """The test PostgreSQL server's URL (started by CTest), or None."""
    url = os.environ.get("SOMLIER_TEST_POSTGRES_URL")
    url_file = os.environ.get("SOMLIER_TEST_POSTGRES_URL_FILE")
    if not url and url_file and os.path.exists(url_file):
        url = pathlib.Path(url_file).read_text().strip()
    return url or None


def new_postgres_database():
    """A fresh database on the test PostgreSQL server; returns its URL. Skips the test when
    there is no server, unless SOMLIER_TEST_REQUIRE_POSTGRES=1."""
    base = postgres_base_url()
    if not base:
        if os.environ.get("SOMLIER_TEST_REQUIRE_POSTGRES") == "1":
            raise AssertionError("SOMLIER_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL URL")
        raise unittest.SkipTest("no PostgreSQL server (set SOMLIER_TEST_POSTGRES_URL)")
    name = "e2e_" + uuid.uuid4().hex[:16]
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True, timeout=60)
    return base.rsplit("/", 1)[0] + "/" + name


class ServerProcess:
    """`somlier server --port 0` in the background; `url` once it listens."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen([SOMLIER_BIN, "server", "--port", "0", *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_test_runner)
        self.url = None
        self.stderr_lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.url is None:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if ready:
                line = self.proc.stderr.readline()
                if not line:
                    break
                self.stderr_lines.append(line)
                match = re.search(r"listening on (http://\S+)", line)
                if match:
                    self.url = match.group(1)
        if self.url is None:
            self.kill()
            raise AssertionError("the server did not start: " + "".join(self.stderr_lines)
                                 + (self.proc.stderr.read() if self.proc.stderr else ""))
        # Keep draining stderr so the server never blocks on a full pipe.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()

    def _close(self):
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(timeout=5)
        if self.proc.stderr and not self.proc.stderr.closed and (drainer is None or not drainer.is_alive()):
            self.proc.stderr.close()


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        try:
            self.json = json.loads(body)
        except ValueError:
            self.json = None


def request_json(method, url, body=None, headers=None, timeout=60, raw=False):
    """One HTTP request; returns the decoded JSON (or bytes with raw=True), raises
    HttpError for statuses >= 400. Bodies go as application/json unless `headers` names
    another Content-Type."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and not any(k.lower() == "content-type" for k in (headers or {})):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as e:
        raise HttpError(e.code, e.read().decode("utf-8", "replace")) from None
    if raw:
        return payload
    return json.loads(payload) if payload else None


def _kill_quietly(proc):
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(Exception):
        proc.communicate(timeout=10)


@contextlib.contextmanager
def http_file_server(directory):
    """Serves `directory` on 127.0.0.1 at a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class GitRepo:
    """A git repository made in a test's temporary directory: write files, commit, branch, tag."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args):
        result = subprocess.run(
            ["git", "-c", "user.name=SoMLier Test", "-c", "user.email=test@somlier.invalid",
             "-c", "commit.gpgsign=false", *args],
            cwd=self.path, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def write(self, relative, text, mode=None):
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if mode is not None:
            path.chmod(mode)
        return path

    def commit(self, message="change"):
        """Commits everything; returns the new commit's full id."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def wait_for_lines(stream, predicate, count, timeout=60):
    """Reads lines from a text stream until `count` of them satisfy `predicate`; returns all
    lines read. Fails on timeout or end of stream."""
    lines, matched = [], 0
    deadline = time.monotonic() + timeout
    while matched < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for output; got:\n{''.join(lines)}")
        ready, _, _ = select.select([stream], [], [], min(remaining, 0.5))
        if not ready:
            continue
        line = stream.readline()
        if not line:
            raise AssertionError(f"the stream ended early; got:\n{''.join(lines)}")
        lines.append(line)
        if predicate(line):
            matched += 1
    return lines


def wait_until(predicate, timeout=30, what="the condition"):
    """Polls `predicate` every 50 ms until it returns something true (returned), or fails
    after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def process_group_alive(pgid):
    """Whether any process of group `pgid` is still running (zombies excluded)."""
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class ModelServer:
    """`somlier serve-model` on a free port; `url` once it is ready."""

    def __init__(self, case, model, *args, env=None):
        self.ready_file = case.tmp / f"ready-{time.monotonic_ns()}.json"
        self.log = open(case.tmp / f"serve-{time.monotonic_ns()}.log", "w+")
        self.proc = subprocess.Popen(
            [os.environ.get("SOMLIER_BIN"), "serve-model", str(model), "--port", "0",
             "--ready_file", str(self.ready_file), *args],
            env=env or case.env, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_test_runner)
        case.addCleanup(self.stop)
        deadline = time.monotonic() + 60
        while not self.ready_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("serve-model did not become ready:\n" + self.output())
            time.sleep(0.05)
        self.url = json.loads(self.ready_file.read_text())["url"]

    def output(self):
        self.log.flush()
        return pathlib.Path(self.log.name).read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def workers(self):
        """The pids of the server's Python workers."""
        pids = []
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid and b"somlier._worker" in cmdline:
                pids.append(int(entry.name))
        return pids


def running(pid):
    """Whether process `pid` exists and has not exited (a zombie has)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def post(url, body, content_type="application/json", timeout=30):
    data = body if isinstance(body, bytes) else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    return request_json("POST", url, data, headers={"Content-Type": content_type},
                        timeout=timeout)


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


def python_function_model(directory, module, predict_body, signature_inputs=None):
    """A python_function model at `directory` whose loader module `module` (under code/)
    defines `_Model.predict(self, frame)` with `predict_body` (its indented lines) and
    `_load_pyfunc`; `signature_inputs` (a list) becomes MLmodel's signature.inputs."""
    directory = pathlib.Path(directory)
    (directory / "code").mkdir(parents=True)
    (directory / "code" / f"{module}.py").write_text(
        "import pandas as pd\n\n\nclass _Model:\n    def predict(self, frame):\n" +
        textwrap.indent(textwrap.dedent(predict_body), " " * 8) +
        "\n\ndef _load_pyfunc(path):\n    return _Model()\n")
    mlmodel = f"flavors:\n  python_function:\n    loader_module: {module}\n    code: code\n"
    if signature_inputs is not None:  # a YAML single-quoted string holding the JSON
        mlmodel += "signature:\n  inputs: '" + json.dumps(signature_inputs).replace("'", "''") + "'\n"
    (directory / "MLmodel").write_text(mlmodel)
    return directory
