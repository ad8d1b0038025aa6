"""Batch inference throughput and memory: `somlier offline predict` of a registered
LogisticRegression (4 numeric features) over one day's rows of a SQLite feature table into a
SQLite predictions table, beside the idiomatic pandas script doing the same in one process
(`read_sql` of the date's rows, `predict`, `to_sql(index=False, chunksize=10_000)`).

Prints, for each: rows/s over the work itself (first row read to last row written; the
command reports it, the script times it), rows/s over the whole process (start-up, imports
and model loading included), and the peak resident memory of the whole process tree (the
command and its Python worker, sampled every 10 ms). With --memory_rows it then runs the
command alone over that many rows (default 10,000,000) for its peak memory.
Targets (issue 14): >= 3x the pandas script's rows/s; peak memory < 300 MB at 10,000,000 rows.

    /usr/bin/python3 bench/offline_predict_bench.py [--somlier build/somlier] [--rows 1000000]
        [--memory_rows 10000000] [--repeat 3]
"""
import argparse
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYTHON = "/usr/bin/python3"
DAY = "2026-12-01"

REGISTER = """
import numpy as np, pandas as pd, somlier, somlier.sklearn, pickle, sys
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(1)
X = pd.DataFrame(rng.normal(size=(2000, 4)), columns=["f0", "f1", "f2", "f3"])
model = LogisticRegression().fit(X, (X.f0 + X.f1 - X.f3 > 0).astype(int))
with somlier.start_run():
    somlier.sklearn.log_model(model, "model", registered_model_name="bench")
with open(sys.argv[1], "wb") as f:
    pickle.dump(model, f)
"""

PANDAS = """
import pickle, sqlite3, sys, time
import pandas as pd
model = pickle.load(open(sys.argv[1], "rb"))
start = time.monotonic()
source = sqlite3.connect(sys.argv[2])
frame = pd.read_sql("SELECT * FROM daily WHERE load_date = ?", source, params=(sys.argv[4],))
frame["prediction"] = model.predict(frame[["f0", "f1", "f2", "f3"]])
frame["model_name"], frame["model_version"] = "bench", "1"
frame["inference_date"], frame["predicted_at"] = sys.argv[4], pd.Timestamp.utcnow().isoformat()
destination = sqlite3.connect(sys.argv[3])
frame.to_sql("daily", destination, index=False, chunksize=10_000, if_exists="append")
destination.commit()
print(len(frame), time.monotonic() - start)
"""


def tree_rss(root):
    """The resident memory (bytes) of `root` and all its descendants."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(argv, env):
    """Runs argv to completion; returns (stdout, wall seconds, peak tree RSS in bytes)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}):\n{err}")
    return out, wall, peak[0]


def fill(path, rows, day=DAY):
    """A `daily` table of `rows` rows of the day (and 1% of another day), made in SQL."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE IF EXISTS daily")
        db.execute("CREATE TABLE daily (id INTEGER, f0 REAL, f1 REAL, f2 REAL, f3 REAL, "
                   "load_date TEXT)")
        db.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
                                    WHERE i < {rows + rows // 100 - 1})
            INSERT INTO daily SELECT i, random() / 9.2e18, random() / 9.2e18,
                                     random() / 9.2e18, random() / 9.2e18,
                                     CASE WHEN i < {rows} THEN '{day}' ELSE '2026-11-30' END
            FROM n""")


def somlier_run(somlier, env, home, rows):
    for name in ("scores.db", "scores.db-wal", "scores.db-shm"):
        pathlib.Path(home, "warehouse", name).unlink(missing_ok=True)
    out, wall, peak = run_measured(
        [somlier, "offline", "predict", "bench/1", "--dataset", "features.daily",
         "--load_column", "load_date", "--date", DAY, "--destination", "scores.daily",
         "--output", "json"], env)
    answer = json.loads(out)
    if answer["rows"] != rows:
        raise SystemExit(f"somlier predicted {answer['rows']} rows, not {rows}")
    return answer["rows_per_second"], rows / wall, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--somlier", default=str(ROOT / "build" / "somlier"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory_rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="somlier-offline-bench-"))
    try:
        home = work / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOMLIER_")}
        env.update(SOMLIER_HOME=str(home), SOMLIER_PYTHON=PYTHON)
        server = subprocess.Popen([args.somlier, "server", "--port", "0"], env=env,
                                  stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            while "listening on" not in line:
                line = server.stderr.readline()
                if not line:
                    raise SystemExit("the server did not start")
            url = line.split("listening on ")[1].split()[0]
            package = subprocess.run([args.somlier, "python-path"], env=env, check=True,
                                     capture_output=True, text=True).stdout.strip()
            (work / "register.py").write_text(REGISTER)
            subprocess.run([PYTHON, str(work / "register.py"), str(work / "model.pickle")],
                           env=dict(env, PYTHONPATH=package, MLFLOW_TRACKING_URI=url),
                           check=True, capture_output=True)
        finally:
            server.terminate()
            server.wait(timeout=30)

        (home / "warehouse").mkdir(parents=True, exist_ok=True)
        fill(home / "warehouse" / "features.db", args.rows)
        print(f"{args.rows:,} rows of {DAY} (+1% of another day), 4 REAL features; "
              f"best of {args.repeat}")
        best = max((somlier_run(args.somlier, env, home, args.rows)
                    for _ in range(args.repeat)), key=lambda r: r[0])
        (work / "pandas_script.py").write_text(PANDAS)
        pandas = []
        for _ in range(args.repeat):
            (work / "pandas.db").unlink(missing_ok=True)
            out, wall, peak = run_measured(
                [PYTHON, str(work / "pandas_script.py"), str(work / "model.pickle"),
                 str(home / "warehouse" / "features.db"), str(work / "pandas.db"), DAY], env)
            rows, seconds = out.split()
            pandas.append((int(rows) / float(seconds), int(rows) / wall, peak))
        pandas_best = max(pandas, key=lambda r: r[0])
        print(f"{'':24}{'rows/s (work)':>16}{'rows/s (process)':>19}{'peak MB (tree)':>16}")
        for name, (work_rate, process_rate, peak) in (("somlier offline predict", best),
                                                       ("pandas script", pandas_best)):
            print(f"{name:24}{work_rate:16,.0f}{process_rate:19,.0f}{peak / 2**20:16.0f}")
        print(f"speed-up: {best[0] / pandas_best[0]:.2f}x (work), "
              f"{best[1] / pandas_best[1]:.2f}x (process); target >= 3x")

        if args.memory_rows:
            fill(home / "warehouse" / "features.db", args.memory_rows)
            rate, _, peak = somlier_run(args.somlier, env, home, args.memory_rows)
            print(f"{args.memory_rows:,} rows: {rate:,.0f} rows/s, peak {peak / 2**20:.0f} MB "
                  f"(the command and its worker); target < 300 MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
