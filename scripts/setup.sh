#!/usr/bin/env bash
# Installs the Debian packages SoMLier needs (only those missing), then configures and
# builds it with CMake + Ninja.
#
#   scripts/setup.sh [--demo] [--tests] [--sanitize] [--build-dir DIR]
#
#   --demo       also install the ML libraries the demo's projects and models use
#   --tests      also install what the test suite needs (PostgreSQL, GoogleTest, ...)
#   --sanitize   build with AddressSanitizer + UndefinedBehaviorSanitizer (default dir:
#                build-asan)
#
# Runs as root (apt-get directly) or as a user with sudo. Only Debian packages are used.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
demo=0
sanitize=0
build_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests=1 ;;
    --demo) demo=1 ;;
    --sanitize) sanitize=1 ;;
    --build-dir) build_dir=$2; shift ;;
    *) echo "setup.sh: unknown option '$1' (expected --demo, --tests, --sanitize, --build-dir DIR)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$build_dir" ]; then
  build_dir=build
  [ "$sanitize" = 1 ] && build_dir=build-asan
fi

# Build tools and libraries (DESIGN.md §5), the Python the examples run with, and git.
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
  # files, and wrk for the serving benchmark.
  packages+=(libgtest-dev libgmock-dev postgresql python3-yaml wrk)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=()
  [ "$(id -u)" != 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake_args=(-S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release)
# Benchmarks under the sanitizers would measure the sanitizers: not built there.
[ "$sanitize" = 1 ] && cmake_args+=(-DCMAKE_BUILD_TYPE=Sanitize -DSOMLIER_SANITIZE=ON
                                    -DSOMLIER_BUILD_BENCH=OFF)
[ "$tests" = 1 ] || cmake_args+=(-DSOMLIER_BUILD_TESTS=OFF -DSOMLIER_BUILD_BENCH=OFF)
cmake "${cmake_args[@]}" >/dev/null
echo "setup: building in $build_dir"
cmake --build "$build_dir"
