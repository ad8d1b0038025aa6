"""Helpers for end-to-end tests that drive the built `somlier` binary.

SOMLIER_BIN names the binary (CTest sets it); SOMLIER_SOURCE_DIR the source tree. Every
test gets its own SOMLIER_HOME in a temporary directory, so tests never share state.
"""
import contextlib
import functools
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest

SOMLIER_BIN = os.environ.get("SOMLIER_BIN") or str(
    pathlib.Path(__file__).resolve().parents[2] / "build" / "somlier")
SOURCE_DIR = pathlib.Path(os.environ.get("SOMLIER_SOURCE_DIR")
                          or pathlib.Path(__file__).resolve().parents[2])
PYTHON = os.environ.get("SOMLIER_PYTHON") or sys.executable


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
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(_kill_quietly, proc)
        return proc

    def assertFails(self, result, exit_code, *fragments):
        """The command failed with `exit_code` and stderr names every fragment."""
        self.assertEqual(result.returncode, exit_code,
                         f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)


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
