"""Grid start-up cost of `somlier online train` (prints numbers; asserts nothing).

For a trivial project whose virtualenv is already cached, 8 runs at --max_parallel 8:
  * the time from starting the command until all 8 children have started (each child
    writes time.time() as its first statement), and until the first one has;
  * the same 8 children started directly (the cached virtualenv's python, in parallel), and
    the difference per run: what SoMLier adds to each run's start.
The command runs in-process (SQLite, synchronous=FULL, a loopback tracking server).

    /usr/bin/python3 bench/train_startup.py [--somlier build/somlier] [--repeat 7]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD = textwrap.dedent("""
    import time; started = time.time()
    import os, sys
    with open(os.environ["BENCH_MARKS"], "a") as f:
        f.write("%.6f\\n" % started)
    time.sleep(float(sys.argv[sys.argv.index("--hold") + 1]))
""").lstrip()


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@somlier.invalid",
                    *args], cwd=repo, check=True, capture_output=True)


def read_marks(path):
    return sorted(float(line) for line in path.read_text().split()) if path.exists() else []


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    root = pathlib.Path(__file__).resolve().parents[1]
    parser.add_argument("--somlier", default=str(root / "build" / "somlier"))
    parser.add_argument("--python", default=os.environ.get("SOMLIER_PYTHON", "/usr/bin/python3"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="somlier-train-bench-"))
    try:
        repo = work / "repo"
        (repo / "bench").mkdir(parents=True)
        (repo / "bench" / "somlier.yaml").write_text(
            "project:\n  name: bench\nentrypoints:\n  main:\n    command: python child.py\n")
        (repo / "bench" / "requirements.txt").write_text("# satisfied by the system\n")
        (repo / "bench" / "child.py").write_text(CHILD)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "bench")
        marks = work / "marks"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOMLIER_")}
        env.update(SOMLIER_HOME=str(work / "home"), SOMLIER_PYTHON=args.python,
                   BENCH_MARKS=str(marks))
        grid = ["--x", f"1..{args.runs + 1}..1", "--hold", "1.5"]
        command = [args.somlier, "online", "train", "bench", "main", "--github_uri", str(repo),
                   "--max_parallel", str(args.runs), "--quiet", *grid]

        # Warm-up: clones the mirror and creates the virtualenv once.
        subprocess.run(command, env=env, check=True, capture_output=True)
        venv = next(p for p in (work / "home" / "envs").iterdir() if p.is_dir())

        all_started, first_started = [], []
        for _ in range(args.repeat):
            marks.unlink(missing_ok=True)
            t0 = time.time()
            subprocess.run(command, env=env, check=True, capture_output=True)
            starts = read_marks(marks)
            assert len(starts) == args.runs, starts
            all_started.append(starts[-1] - t0)
            first_started.append(starts[0] - t0)

        direct = []
        child = work / "child.py"
        child.write_text(CHILD)
        for _ in range(args.repeat):
            marks.unlink(missing_ok=True)
            t0 = time.time()
            procs = [subprocess.Popen([str(venv / "bin" / "python"), str(child), "--x", str(i),
                                       "--hold", "0"], env=env) for i in range(args.runs)]
            for p in procs:
                p.wait()
            direct.append(read_marks(marks)[-1] - t0)

        ms = lambda values: f"median {statistics.median(values) * 1000:.0f} ms " \
                            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
        print(f"train start-up, {args.runs} runs of a trivial project, cached virtualenv, "
              f"{os.cpu_count()} cores, {args.repeat} repeats")
        print(f"  somlier online train, command start -> all {args.runs} children started: "
              f"{ms(all_started)}")
        print(f"  somlier online train, command start -> first child started: {ms(first_started)}")
        print(f"  the same {args.runs} children started directly -> all started: {ms(direct)}")
        overhead = (statistics.median(all_started) - statistics.median(direct)) / args.runs
        print(f"  overhead per run (median difference / {args.runs}): {overhead * 1000:.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
