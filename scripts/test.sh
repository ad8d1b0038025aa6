#!/usr/bin/env bash
# Sets up (Debian packages), checks the sources, builds and runs the whole test suite: unit
# tests (GoogleTest, the store suite against SQLite and a PostgreSQL server started for the
# run) and the end-to-end tests that drive the built `somlier` binary — once in the release
# build (build/) and once under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/).
#
#   scripts/test.sh [--release-only | --sanitize-only] [ctest arguments...]
#
# Tests carry CTest labels: `unit`, `e2e`, and `heavy` for the slowest end-to-end tests,
# which run in the release variant only (their time goes to Python and model training,
# not to the C++ the sanitizers check). Both variants run even when the first fails; the
# last lines say `VARIANT: N passed, N failed` for each, and the exit status is non-zero
# when any variant failed, did not build, or ran no test. A PostgreSQL server the suite
# started is stopped however the script ends (also on Ctrl-C).
#
# Before the builds, two checks of the sources: that each module of src/somlier includes
# only the modules it links (scripts/check_layers.py) and that the C++ is formatted as
# clang-format-14 says (scripts/check_format.sh). A failed check makes the exit status
# non-zero, but the builds and tests still run; the line `checks: layers ok, format ok`
# (or `format FAILED (N files)`, ...) comes before the variants' lines.
set -uo pipefail
cd "$(dirname "$0")/.."

variants=(release sanitize)
case "${1:-}" in
  --release-only) variants=(release); shift ;;
  --sanitize-only) variants=(sanitize); shift ;;
esac

stop_postgres() {
  local dir
  for dir in build build-asan; do
    if [ -f "$dir/test-postgres/datadir" ]; then
      scripts/test-postgres.sh stop "$dir/test-postgres" >/dev/null 2>&1 || true
    fi
  done
}
trap stop_postgres EXIT
trap 'echo "test: interrupted" >&2; exit 130' INT TERM

export SOMLIER_PYTHON=${SOMLIER_PYTHON:-/usr/bin/python3}
summary=()
times=()
checks=()
failed=0

# run_check NAME PATTERN COMMAND...: runs a check and shows its output; adds `NAME ok`, or
# `NAME FAILED (WHAT)` with WHAT taken from its output by the sed -E script PATTERN (the
# exit status if nothing matches), to the checks line.
run_check() {
  local name=$1 pattern=$2 out rc what
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  if [ "$rc" = 0 ]; then
    checks+=("$name ok")
  else
    what=$(sed -nE "$pattern" <<<"$out" | tail -n 1)
    checks+=("$name FAILED (${what:-exit $rc})")
    failed=1
  fi
}
# The checks need python3 and clang-format-14 from the packages, but no build.
scripts/setup.sh --tests --packages-only || echo "test: installing the packages failed" >&2
echo "test: checking the sources"
run_check layers 's/^check_layers: FAILED: ([0-9]+ problems?) .*/\1/p' \
  python3 scripts/check_layers.py
run_check format 's/^check_format: FAILED: ([0-9]+ files?) .*/\1/p' scripts/check_format.sh

for variant in "${variants[@]}"; do
  start=$SECONDS
  if [ "$variant" = sanitize ]; then
    setup_args=(--tests --sanitize)
    dir=build-asan
    filter=(-LE heavy)
  else
    setup_args=(--tests)
    dir=build
    filter=()
  fi
  if ! scripts/setup.sh "${setup_args[@]}"; then
    times+=("test: $variant did not build")
    summary+=("$variant: 0 passed, 1 failed")
    failed=1
    continue
  fi
  echo "test: running the suite in $dir"
  log=$dir/ctest-output.log
  (cd "$dir" && ctest --output-on-failure --no-tests=error --timeout 900 -j2 \
     "${filter[@]}" "$@") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # ctest's own closing line: "NN% tests passed, F tests failed out of T".
  counts=$(sed -nE 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' \
           "$log" | tail -n 1)
  if [ -n "$counts" ]; then
    read -r nfail total <<<"$counts"
    line="$variant: $((total - nfail)) passed, $nfail failed"
  else
    line="$variant: no tests ran"
  fi
  if [ "$rc" != 0 ] || [ -z "$counts" ] || [ "${nfail:-1}" != 0 ]; then
    failed=1
  fi
  times+=("test: $variant took $((SECONDS - start)) s to build and run (ctest exit $rc)")
  summary+=("$line")
done

echo
printf '%s\n' "${times[@]}"
checks_line=$(printf '%s, ' "${checks[@]}")
echo "checks: ${checks_line%, }"
printf '%s\n' "${summary[@]}"
exit "$failed"
