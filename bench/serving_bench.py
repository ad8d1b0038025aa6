"""Model serving throughput and latency: `somlier serve-model` with its default settings
(batching that never waits while a worker is free), with a wait-to-fill delay, and without
batching, against the same model behind a one-file Python standard-library HTTP server.

A LogisticRegression on 4 features (iris), one-row JSON requests ({"instances": [[...]]}),
wrk on the same machine at 1, 8, 32 and 128 keep-alive connections. Prints requests/s and
p50/p99 latency per row. Targets with the defaults (issue 12): >= 1,500 req/s at 1
connection with p99 <= 2 ms; >= 12,000 at 32 with p99 <= 10 ms; >= 15,000 at 128 with
p99 <= 30 ms.

    /usr/bin/python3 bench/serving_bench.py [--somlier build/somlier] [--seconds 5]
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

LUA = """
wrk.method = "POST"
wrk.body = '{"instances": [[5.9, 3.0, 5.1, 1.8]]}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, timeout=60):
    deadline = time.monotonic() + timeout
    body = json.dumps({"instances": [[5.9, 3.0, 5.1, 1.8]]}).encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def to_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url, connections, seconds, script):
    threads = str(min(2, connections))
    subprocess.run(["wrk", "-t", threads, "-c", str(connections), "-d", "1s", "-s", script, url],
                   capture_output=True, check=True)  # warm-up
    out = subprocess.run(["wrk", "-t", threads, "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s*50%\s+([\d.]+(?:us|ms|s|m))", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s*99%\s+([\d.]+(?:us|ms|s|m))", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(errors.group(1)) if errors else 0


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--somlier", default=str(ROOT / "build" / "somlier"))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", default="1,8,32,128")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk, or scripts/setup.sh --tests)")

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    import somlier.sklearn

    work = pathlib.Path(tempfile.mkdtemp(prefix="somlier-serving-bench-"))
    try:
        X, y = load_iris(return_X_y=True)
        model = LogisticRegression(max_iter=1000).fit(X, y)
        somlier.sklearn.save_model(model, str(work / "model"))
        script = work / "post.lua"
        script.write_text(LUA)
        env = dict(os.environ, SOMLIER_HOME=str(work / "home"), SOMLIER_PYTHON=sys.executable,
                   SOMLIER_LOG_LEVEL="warning")
        connections = [int(c) for c in args.connections.split(",")]

        setups = [
            ("somlier, defaults (max_batch_size 64, delay 0)", "somlier", []),
            ("somlier, wait to fill (max_batch_delay_us 2000)", "somlier",
             ["--max_batch_delay_us", "2000"]),
            ("somlier, batching off (max_batch_size 1)", "somlier",
             ["--max_batch_size", "1", "--max_batch_delay_us", "0"]),
            ("python stdlib ThreadingHTTPServer", "stdlib", []),
        ]
        print(f"model: LogisticRegression, 4 features; one-row requests; wrk {args.seconds} s "
              f"per row on this machine ({os.cpu_count()} cores)")
        print(f"{'server':58} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for label, kind, extra in setups:
            port = free_port()
            if kind == "somlier":
                argv = [args.somlier, "serve-model", str(work / "model"), "--port", str(port),
                        *extra]
            else:
                argv = [sys.executable, str(ROOT / "bench" / "stdlib_model_server.py"),
                        str(work / "model" / "model.pkl"), str(port)]
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                url = f"http://127.0.0.1:{port}/invocations"
                wait_ready(url, proc)
                for c in connections:
                    rps, p50, p99, errors = wrk(url, c, args.seconds, str(script))
                    print(f"{label:58} {c:>5} {rps:>10.0f} {p50:>8.2f} {p99:>8.2f} {errors:>8}",
                          flush=True)
            finally:
                stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
