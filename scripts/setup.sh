#!/usr/bin/env bash
# Installs the Debian packages SoMLier needs (only those missing), then configures and
# builds it with CMake + Ninja.
#
#   scripts/setup.sh [--demo] [--tests] [--sanitize] [--build-dir DIR]
#                    [--configure-only | --packages-only]
#
#   --demo            also install the ML libraries the demo's projects and models use
#   --tests           also install what the test suite needs (PostgreSQL, GoogleTest, the
#                     npm packages of tests/k8s-schemas, ...) and build the tests and
#                     benchmarks
#   --sanitize        build with AddressSanitizer + UndefinedBehaviorSanitizer (default
#                     dir: build-asan); the benchmarks are not built there
#   --configure-only  only run CMake: no package installs, no build
#   --packages-only   only install the packages: no CMake, no build
#
# Every CMake option this script controls is passed on every run, so a build directory
# configured earlier by another invocation (the demo's, say) never keeps a stale value.
#
# Runs as root (apt-get directly) or as a user with sudo. Only Debian packages are used.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
demo=0
sanitize=0
build_dir=""
configure_only=0
packages_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests=1 ;;
    --demo) demo=1 ;;
    --sanitize) sanitize=1 ;;
    --configure-only) configure_only=1 ;;
    --packages-only) packages_only=1 ;;
    --build-dir)
      [ $# -ge 2 ] || { echo "setup.sh: --build-dir needs a directory" >&2; exit 2; }
      build_dir=$2; shift ;;
    *) echo "setup.sh: unknown option '$1' (expected --demo, --tests, --sanitize, --build-dir DIR, --configure-only, --packages-only)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$configure_only" = 1 ] && [ "$packages_only" = 1 ]; then
  echo "setup.sh: --configure-only and --packages-only exclude each other" >&2
  exit 2
fi
if [ -z "$build_dir" ]; then
  build_dir=build
  [ "$sanitize" = 1 ] && build_dir=build-asan
fi

# Build tools and libraries, the Python the examples run with, and git.
packages=(
  cmake ninja-build g++ pkg-config git ca-certificates curl
  libsqlite3-dev libpq-dev libssl-dev zlib1g-dev libbrotli-dev
  nlohmann-json3-dev libsimdjson-dev libyaml-cpp-dev libcli11-dev libfmt-dev libcpp-httplib-dev
  python3 python3-venv
)
if [ "$demo" = 1 ] || [ "$tests" = 1 ]; then
  # The examples train with PyTorch and scikit-learn; their models are served with them.
  packages+=(python3-numpy python3-pandas python3-sklearn python3-joblib python3-torch)
fi
if [ "$tests" = 1 ]; then
  # GoogleTest, a PostgreSQL server for the store tests, PyYAML to check written MLmodel
  # files, Jinja2 to render the DAGs' Airflow templates as Airflow would, wrk for the serving
  # benchmark, and the clang-format scripts/check_format.sh checks the sources with.
  packages+=(libgtest-dev libgmock-dev postgresql python3-yaml python3-jinja2 wrk clang-format-14)
  # Node and npm for the Kubernetes schema packages (tests/k8s-schemas); a Node already on
  # PATH (NodeSource's, say) is kept: Debian's npm would conflict with it.
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
fi

sudo=()
[ "$(id -u)" != 0 ] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
missing=()
[ "$configure_only" = 1 ] && packages=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$tests" = 1 ] && [ "$configure_only" != 1 ] && ! command -v npm >/dev/null 2>&1; then
  # Debian's nodejs comes without npm; NodeSource's brings its own (and conflicts with it).
  echo "setup: installing npm"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
if [ "$tests" = 1 ] && [ "$configure_only" != 1 ] && [ ! -f tests/k8s-schemas/node_modules/.package-lock.json -o tests/k8s-schemas/package-lock.json -nt tests/k8s-schemas/node_modules/.package-lock.json ]; then
  echo "setup: installing the Kubernetes schema packages (npm ci in tests/k8s-schemas)"
  (cd tests/k8s-schemas && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
[ "$packages_only" = 1 ] && exit 0

on_off() { if [ "$1" = 1 ]; then echo ON; else echo OFF; fi; }
build_type=Release
bench=$tests
if [ "$sanitize" = 1 ]; then
  build_type=Sanitize
  bench=0  # benchmarks under the sanitizers would measure the sanitizers
fi
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DSOMLIER_SANITIZE="$(on_off "$sanitize")" \
  -DSOMLIER_BUILD_TESTS="$(on_off "$tests")" \
  -DSOMLIER_BUILD_BENCH="$(on_off "$bench")" >/dev/null
if [ "$configure_only" = 1 ]; then
  echo "setup: configured $build_dir (tests $(on_off "$tests"), benchmarks $(on_off "$bench"), $build_type)"
  exit 0
fi
echo "setup: building in $build_dir"
cmake --build "$build_dir"
