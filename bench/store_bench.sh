#!/usr/bin/env bash
# Builds and runs the store benchmark on SQLite (synchronous=FULL, the default, and
# NORMAL) and on a throwaway PostgreSQL server with fsync on. Prints metric points/s.
#
#   bench/store_bench.sh [--batches N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests >/dev/null
work=$(mktemp -d /tmp/somlier-bench.XXXXXX)
trap 'scripts/test-postgres.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
SOMLIER_PG_DURABLE=1 scripts/test-postgres.sh start "$work/pg" >/dev/null
echo "store benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
build/bench/store_bench "$@" \
  "sqlite-sync-full=sqlite:///$work/full.db" \
  "sqlite-sync-normal=sqlite:///$work/normal.db?synchronous=normal" \
  "postgresql-fsync-on=$(cat "$work/pg/url")"
