#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server on 127.0.0.1 for the tests and benchmarks.
#
#   scripts/test-postgres.sh start STATE_DIR   # writes STATE_DIR/url (postgresql://...)
#   scripts/test-postgres.sh stop STATE_DIR
#
# The cluster lives in a fresh temporary directory (recorded in STATE_DIR/datadir) and
# listens on a free port on 127.0.0.1 only, with its socket in that directory too.
# initdb and postgres refuse to run as root, so as root they run as the `postgres` user.
# SOMLIER_PG_DURABLE=1 keeps fsync on (benchmarks); tests run with fsync off.
set -euo pipefail

action=${1:?usage: test-postgres.sh start|stop STATE_DIR}
state=${2:?usage: test-postgres.sh start|stop STATE_DIR}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  echo "test-postgres: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
  if [ -f "$state/datadir" ]; then
    local data
    data=$(cat "$state/datadir")
    if [ -d "$data/data" ]; then
      as_owner "$pg_bin/pg_ctl" -D "$data/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$data"
    rm -f "$state/datadir" "$state/url"
  fi
}

free_port() {
  for _ in $(seq 1 50); do
    local port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "test-postgres: no free port found" >&2
  return 1
}

case "$action" in
  start)
    stop
    mkdir -p "$state"
    data=$(mktemp -d /tmp/somlier-pg.XXXXXX)
    echo "$data" >"$state/datadir"
    chmod 755 "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    as_owner "$pg_bin/initdb" -D "$data/data" -U postgres --auth=trust -E UTF8 \
      --no-instructions >"$state/initdb.log" 2>&1 ||
      { cat "$state/initdb.log" >&2; exit 1; }
    fsync=off
    [ "${SOMLIER_PG_DURABLE:-0}" = 1 ] && fsync=on
    for attempt in 1 2 3; do
      port=$(free_port)
      if as_owner "$pg_bin/pg_ctl" -D "$data/data" -l "$data/server.log" -w -t 60 \
          -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=$fsync \
              -c synchronous_commit=$fsync -c full_page_writes=$fsync -c max_connections=200" \
          start >/dev/null; then
        echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$state/url"
        echo "test-postgres: started on 127.0.0.1:$port (data in $data, fsync=$fsync)"
        exit 0
      fi
      echo "test-postgres: start attempt $attempt on port $port failed" >&2
    done
    cat "$data/server.log" >&2 || true
    exit 1
    ;;
  stop)
    stop
    echo "test-postgres: stopped"
    ;;
  *)
    echo "usage: test-postgres.sh start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
