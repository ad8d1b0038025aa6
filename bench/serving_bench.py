"""Model serving throughput and latency: `somlier serve-model` with its default settings
(batching that never waits while a worker is free), with a wait-to-fill delay, and without
batching, against the same model behind a one-file Python standard-library HTTP server.

Two models: `numeric`, a LogisticRegression on 4 features (iris) with one-row requests
{"instances": [[...]]}; and `categorical`, the churn pipeline of examples/tabular (one-hot
encoded strings, scaled numbers; a typed signature) with one-row {"dataframe_records": [...]}
requests. wrk on the same machine at 1, 8, 32 and 128 keep-alive connections. Prints
requests/s and p50/p99 latency per row. Targets with the defaults (issue 12): >= 1,500 req/s
at 1 connection with p99 <= 2 ms; >= 12,000 at 32 with p99 <= 10 ms; >= 15,000 at 128 with
p99 <= 30 ms; the categorical pipeline within 2x of the numeric model at 32.

    /usr/bin/python3 bench/serving_bench.py [--somlier build/somlier] [--seconds 5]
        [--models numeric,categorical] [--connections 1,8,32,128]
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

BODIES = {
    "numeric": {"instances": [[5.9, 3.0, 5.1, 1.8]]},
    "categorical": {"dataframe_records": [{"plan": "pro", "region": "north", "tenure_months": 12,
                                           "has_support": True, "monthly_spend": 42.5}]},
}
LUA = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, body, timeout=60):
    deadline = time.monotonic() + timeout
    body = body.encode()
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
    parser.add_argument("--models", default="numeric,categorical")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk, or scripts/setup.sh --tests)")

    parser_models = [m for m in args.models.split(",") if m]
    for m in parser_models:
        if m not in BODIES:
            raise SystemExit(f"unknown model '{m}'; expected numeric or categorical")
    work = pathlib.Path(tempfile.mkdtemp(prefix="somlier-serving-bench-"))
    try:
        env = dict(os.environ, SOMLIER_HOME=str(work / "home"), SOMLIER_PYTHON=sys.executable,
                   SOMLIER_LOG_LEVEL="warning")
        connections = [int(c) for c in args.connections.split(",")]
        print(f"one-row requests; wrk {args.seconds} s per row on this machine "
              f"({os.cpu_count()} cores)")
        print(f"{'model':12} {'server':50} {'conns':>5} {'req/s':>10} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'non-2xx':>8}")
        for name in parser_models:
            model_dir = save_model(name, work)
            body = json.dumps(BODIES[name])
            script = work / f"{name}.lua"
            script.write_text(LUA.replace("{body}", body))
            setups = [("somlier, defaults (max_batch_size 64, delay 0)", "somlier", [])]
            if name == "numeric":
                setups += [
                    ("somlier, wait to fill (max_batch_delay_us 2000)", "somlier",
                     ["--max_batch_delay_us", "2000"]),
                    ("somlier, batching off (max_batch_size 1)", "somlier",
                     ["--max_batch_size", "1", "--max_batch_delay_us", "0"])]
            setups.append(("python stdlib ThreadingHTTPServer", "stdlib", []))
            for label, kind, extra in setups:
                port = free_port()
                if kind == "somlier":
                    argv = [args.somlier, "serve-model", str(model_dir), "--port", str(port),
                            *extra]
                else:
                    argv = [sys.executable, str(ROOT / "bench" / "stdlib_model_server.py"),
                            str(model_dir / "model.pkl"), str(port),
                            "records" if name == "categorical" else "instances"]
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                try:
                    url = f"http://127.0.0.1:{port}/invocations"
                    wait_ready(url, proc, body)
                    for c in connections:
                        rps, p50, p99, errors = wrk(url, c, args.seconds, str(script))
                        print(f"{name:12} {label:50} {c:>5} {rps:>10.0f} {p50:>8.2f} "
                              f"{p99:>8.2f} {errors:>8}", flush=True)
                finally:
                    stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def save_model(name, work):
    """The model directory of `name`, saved under `work`."""
    import somlier.sklearn
    path = work / name
    if name == "numeric":
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        X, y = load_iris(return_X_y=True)
        somlier.sklearn.save_model(LogisticRegression(max_iter=1000).fit(X, y), str(path))
        return path
    sys.path.insert(0, str(ROOT / "examples" / "tabular"))
    from data import FEATURES, LABEL, make_churn
    from train import build_model
    table = make_churn()
    model = build_model().fit(table[FEATURES], table[LABEL])
    somlier.sklearn.save_model(model, str(path), input_example=table[FEATURES].head(3))
    return path


if __name__ == "__main__":
    main()
