#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs SoMLier's demo end to end on its embedded
# defaults, in a fresh SOMLIER_HOME under build/demo-home.
#
# The demo project is examples/hello, the seed's example: check its somlier.yaml with
# `config show`, list its requirements with `config show -d`, and run its `main`
# entrypoint with `config run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

root=$PWD
somlier=$root/build/somlier
export SOMLIER_HOME=$root/build/demo-home
export SOMLIER_PYTHON=${SOMLIER_PYTHON:-/usr/bin/python3}
rm -rf "$SOMLIER_HOME"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

cd "$root/examples/hello"
step "somlier config show"
"$somlier" config show
step "somlier config show -d"
"$somlier" config show -d
step "somlier config run main"
"$somlier" config run main
step "demo finished"
