"""A new client's latency while 1,000 slow-header and 1,000 idle keep-alive sockets (from
127.0.0.2-127.0.0.9) hold connections to `somlier server` and to `somlier serve-model`.
Prints p50/p99/max of the new client's requests (a fresh connection each, from 127.0.0.1)
before and during the attack. Target (issue 10): p99 under 100 ms during the attack.

    /usr/bin/python3 bench/slow_clients_bench.py [--somlier build/somlier] [--requests 200]
"""
import argparse
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from slow_clients import SlowClientAttack, timed_request  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure(port, path, count):
    times = []
    for _ in range(count):
        seconds, status = timed_request("127.0.0.1", port, path)
        if status != 200:
            raise SystemExit(f"a request to {path} answered {status}")
        times.append(seconds * 1000)
        time.sleep(0.01)
    return times


def report(name, phase, times):
    print(f"{name:<12} {phase:<22} n={len(times):<4} p50 {percentile(times, 50):7.2f} ms   "
          f"p99 {percentile(times, 99):7.2f} ms   max {max(times):7.2f} ms", flush=True)


def start_api_server(somlier, home):
    env = dict(os.environ, SOMLIER_HOME=str(home))
    proc = subprocess.Popen([somlier, "server", "--port", "0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            match = re.search(r"listening on http://[^:]+:(\d+)", proc.stderr.readline())
            if match:
                return proc, int(match.group(1))
    proc.kill()
    raise SystemExit("somlier server did not start")


def start_model_server(somlier, home, python):
    model = home / "model"
    subprocess.run([python, "-c", f"""
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.datasets import load_iris
import somlier.sklearn
x, y = load_iris(return_X_y=True)
somlier.sklearn.save_model(LogisticRegression(max_iter=1000).fit(x, y), {str(model)!r})
"""], check=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
    ready = home / "ready.json"
    env = dict(os.environ, SOMLIER_HOME=str(home), SOMLIER_PYTHON=python)
    proc = subprocess.Popen([somlier, "serve-model", str(model), "--port", "0", "--ready_file",
                             str(ready)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("somlier serve-model did not start")
        time.sleep(0.1)
    return proc, int(json.loads(ready.read_text())["url"].rsplit(":", 1)[1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--somlier", default=str(ROOT / "build" / "somlier"))
    parser.add_argument("--python", default=os.environ.get("SOMLIER_PYTHON", "/usr/bin/python3"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="somlier-slow-bench-") as tmp:
        home = pathlib.Path(tmp)
        for name, start, path in (
                ("server", lambda: start_api_server(args.somlier, home / "api"), "/health"),
                ("serve-model", lambda: start_model_server(args.somlier, home / "model-home",
                                                           args.python), "/ping")):
            proc, port = start()
            try:
                report(name, "quiet", measure(port, path, args.requests))
                attack = SlowClientAttack("127.0.0.1", port, slow=args.slow, idle=args.idle)
                try:
                    report(name, f"{args.slow} slow + {args.idle} idle",
                           measure(port, path, args.requests))
                finally:
                    attack.stop()
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
