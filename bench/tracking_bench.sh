#!/usr/bin/env bash
# Tracking server benchmarks (prints numbers; asserts nothing):
#   (a) log-batch throughput, 100 metrics per request, at 8 and 64 connections, against
#       `somlier server` on SQLite (a fresh database for each), load generator on this
#       machine (bench/log_batch_load.cc);
#   (b) best-run search latency in an experiment of 100,000 runs (bench/search_latency.cc).
#
#   bench/tracking_bench.sh [--seconds S] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
runs=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --runs) runs=$2; shift ;;
    *) echo "usage: bench/tracking_bench.sh [--seconds S] [--runs N]" >&2; exit 2 ;;
  esac
  shift
done
scripts/setup.sh --tests >/dev/null
work=$(mktemp -d /tmp/somlier-bench.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
echo "tracking benchmarks on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); SQLite, synchronous=FULL"
for connections in 8 64; do
  rm -rf "$work/home"
  SOMLIER_HOME="$work/home" build/somlier server --port "$port" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  build/bench/log_batch_load "http://127.0.0.1:$port" --connections "$connections" --seconds "$seconds"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
done
build/bench/search_latency --runs "$runs" --requests 2000 2>/dev/null
