#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs the whole test suite: unit tests (GoogleTest,
# the store suite against SQLite and a PostgreSQL server started for the run) and the
# end-to-end tests that drive the built `somlier` binary — once in the release build
# (build/) and once under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/).
#
#   scripts/test.sh [--release-only | --sanitize-only] [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

variants=(release sanitize)
case "${1:-}" in
  --release-only) variants=(release); shift ;;
  --sanitize-only) variants=(sanitize); shift ;;
esac

export SOMLIER_PYTHON=${SOMLIER_PYTHON:-/usr/bin/python3}
for variant in "${variants[@]}"; do
  if [ "$variant" = sanitize ]; then
    scripts/setup.sh --tests --sanitize
    dir=build-asan
  else
    scripts/setup.sh --tests
    dir=build
  fi
  echo "test: running the suite in $dir"
  (cd "$dir" && ctest --output-on-failure --timeout 900 -j2 "$@")
done
