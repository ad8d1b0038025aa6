#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs SoMLier's demo end to end on its embedded
# defaults, in a fresh SOMLIER_HOME under build/demo-home:
#   1. builds a git repository of ML projects from examples/ (as example-projects/...),
#   2. checks the seed's example project with `config show` and runs it with `config run`,
#   3. trains the seed's example grid on the PyTorch example (8 runs in parallel),
#   4. searches the best run and registers its model,
#   5. deploys it as a local model server and sends it a prediction with curl.
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

step "demo finished (state in $SOMLIER_HOME; try: $somlier runs list example-projects/pytorch)"
echo "the model server keeps running until: $somlier deployments stop pytorch-digits-v1"
trap - EXIT
