#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs SoMLier's demo end to end on its embedded
# defaults, in a fresh SOMLIER_HOME under build/demo-home:
#   1. builds a git repository of ML projects from examples/ (as example-projects/...),
#   2. checks the seed's example project with `config show` and runs it with `config run`,
#   3. trains the seed's example grid on the PyTorch example (8 runs in parallel),
#   4. searches the best run and registers its model,
#   5. deploys it as a local model server and sends it a prediction with curl,
#   6. renders a scheduled batch job's Airflow DAG (a dry run), commits the DAG of a daily
#      batch inference of the model to the local DAGs repository, and runs that inference
#      (`offline predict`) over a small table of digit images in the default warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --demo

root=$PWD
somlier=$root/build/somlier
export SOMLIER_HOME=$root/build/demo-home
export SOMLIER_PYTHON=${SOMLIER_PYTHON:-/usr/bin/python3}
# A model server an earlier demo left running goes first (its state is about to be removed).
"$somlier" deployments stop pytorch-digits-v1 >/dev/null 2>&1 || true
rm -rf "$SOMLIER_HOME"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# The repository `train` fetches from, as a team would keep its projects.
repo=$SOMLIER_HOME/ml-projects
mkdir -p "$repo/example-projects"
cp -r examples/. "$repo/example-projects/"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=demo -c user.email=demo@somlier.invalid commit -q -m "example projects"
export SOMLIER_DEFAULT_PROJECT_URI=$repo

cd "$root/examples/hello"
step "somlier config show   (the seed's example project)"
"$somlier" config show
step "somlier config run main"
"$somlier" config run main

cd "$root"
step "somlier online train example-projects/pytorch main --learning_rate 0.001..0.005..0.001 --batch_size 64,128 --num_epochs 3"
"$somlier" online train example-projects/pytorch main --github_uri "$repo" \
  --learning_rate 0.001..0.005..0.001 --batch_size 64,128 --num_epochs 3

step "somlier search example-projects/pytorch validation_accuracy DESC"
"$somlier" search example-projects/pytorch validation_accuracy DESC --top 3
best=$("$somlier" search example-projects/pytorch validation_accuracy DESC --output json |
       "$SOMLIER_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')

step "somlier register $best pytorch-digits"
"$somlier" register "$best" pytorch-digits

step "somlier deploy example-projects/pytorch pytorch-digits 1"
trap '"$somlier" deployments stop pytorch-digits-v1 >/dev/null 2>&1 || true' EXIT
url=$("$somlier" deploy example-projects/pytorch pytorch-digits 1 --output json |
      "$SOMLIER_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["url"])')
"$somlier" deployments list

# Two images of scikit-learn's digits (8x8 pixels / 16, as train.py scales them): a 0 and a 1.
body=$("$SOMLIER_PYTHON" -c '
import json
from sklearn.datasets import load_digits
x, y = load_digits(return_X_y=True)
print(json.dumps({"instances": (x[:2] / 16.0).round(4).tolist()}))')
step "curl -X POST $url/invocations   (two digit images -> the network's 10 scores each)"
curl -sS -X POST "$url/invocations" -H 'Content-Type: application/json' -d "$body" |
  "$SOMLIER_PYTHON" -c '
import json, sys
scores = json.load(sys.stdin)["predictions"]
for row in scores:
    print("predicted digit", max(range(10), key=row.__getitem__), " scores", [round(s, 2) for s in row])'

# Batch: the DAGs run in pods of the runtime image against a server the cluster reaches;
# here they are only written (no Airflow or cluster), so example values stand in for both.
export SOMLIER_K8S_IMAGE=registry.example.com/ml/somlier:0.1.0
export SOMLIER_K8S_TRACKING_URL=http://somlier.ml.svc.cluster.local:5000
step "somlier batch create busybox:1.36 \"0 9 * * *\" \"sh -c 'echo nightly report'\" nightly_report --dry_run"
"$somlier" batch create busybox:1.36 "0 9 * * *" "sh -c 'echo nightly report'" nightly_report \
  --dry_run

step "somlier offline create_v2 pytorch-digits/1 digits_daily \"0 3 * * *\" digits.daily load_date digits.predictions --warehouse default"
"$somlier" offline create_v2 pytorch-digits/1 digits_daily "0 3 * * *" digits.daily load_date \
  digits.predictions --warehouse default
"$somlier" offline list

# What the DAG's pod would read: a day's digit images (64 pixels each) in the default
# warehouse ($SOMLIER_HOME/warehouse/digits.db is its dataset `digits`).
mkdir -p "$SOMLIER_HOME/warehouse"
"$SOMLIER_PYTHON" - "$SOMLIER_HOME/warehouse/digits.db" <<'PY'
import sqlite3, sys
from sklearn.datasets import load_digits
x, _ = load_digits(return_X_y=True)
with sqlite3.connect(sys.argv[1]) as db:
    columns = ", ".join(f"pixel_{i} REAL" for i in range(64))
    db.execute(f"CREATE TABLE daily ({columns}, load_date TEXT)")
    db.executemany(f"INSERT INTO daily VALUES ({', '.join('?' * 65)})",
                   [(*(x[i] / 16.0), "2026-12-01") for i in range(200)])
PY
step "somlier offline predict pytorch-digits/1 --dataset digits.daily --load_column load_date --date 2026-12-01 --destination digits.predictions"
"$somlier" offline predict pytorch-digits/1 --dataset digits.daily --load_column load_date \
  --date 2026-12-01 --destination digits.predictions
"$SOMLIER_PYTHON" - "$SOMLIER_HOME/warehouse/digits.db" <<'PY'
import json, sqlite3, sys
from sklearn.datasets import load_digits
_, y = load_digits(return_X_y=True)
with sqlite3.connect(sys.argv[1]) as db:
    rows = db.execute("SELECT prediction, model_name, model_version, inference_date "
                      "FROM predictions ORDER BY rowid").fetchall()
digits = [max(range(10), key=json.loads(r[0]).__getitem__) for r in rows]
right = sum(d == label for d, label in zip(digits, y))
print(f"{len(rows)} rows in digits.predictions ({rows[0][1]} v{rows[0][2]}, "
      f"inference_date {rows[0][3]}): {right} digits right; first ten {digits[:10]}")
PY

step "demo finished (state in $SOMLIER_HOME; try: $somlier runs list example-projects/pytorch)"
echo "the model server keeps running until: $somlier deployments stop pytorch-digits-v1"
trap - EXIT
