#!/usr/bin/env bash
# Starts (or stops) a redis-server and a PostgreSQL 15 on loopback, with their data under
# .data/ in the repository (ignored by git). Used by deploy/demo.sh and the benchmarks.
#   deploy/local-servers.sh start   # prints the export lines for WHARF_REDIS_URL / WHARF_DATABASE_URL
#   deploy/local-servers.sh stop
# Ports: WHARF_LOCAL_REDIS_PORT (default 16379), WHARF_LOCAL_PG_PORT (default 15432).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${WHARF_DATA_DIR:-$here/.data}
redis_port=${WHARF_LOCAL_REDIS_PORT:-16379}
pg_port=${WHARF_LOCAL_PG_PORT:-15432}
pg_bin=/usr/lib/postgresql/15/bin

# PostgreSQL refuses to run as root: run it as the `postgres` user then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$data/redis" "$data/pg-run"
  if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$data/redis" --appendonly yes \
      --save '' --daemonize yes --pidfile "$data/redis/redis.pid" --logfile "$data/redis/redis.log"
  fi
  if [ ! -f "$data/pg/PG_VERSION" ]; then
    mkdir -p "$data/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data/pg" "$data/pg-run"
    as_pg "$pg_bin/initdb" -D "$data/pg" -A trust -U wharf --no-sync >"$data/initdb.log" 2>&1
  fi
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data/pg-run"
  if ! as_pg "$pg_bin/pg_ctl" -D "$data/pg" status >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" -D "$data/pg" -l "$data/pg-run/postgres.log" -w -t 60 \
      -o "-p $pg_port -k $data/pg-run -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  psql "postgresql://wharf@127.0.0.1:$pg_port/postgres" -qtAc "SELECT 1 FROM pg_database WHERE datname='wharf'" | grep -q 1 ||
    psql "postgresql://wharf@127.0.0.1:$pg_port/postgres" -qc "CREATE DATABASE wharf" >/dev/null
  echo "export WHARF_REDIS_URL=redis://127.0.0.1:$redis_port/0"
  echo "export WHARF_DATABASE_URL=postgresql://wharf@127.0.0.1:$pg_port/wharf"
}

stop() {
  if [ -f "$data/redis/redis.pid" ]; then
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$data/redis/redis.pid")" 2>/dev/null || true
  fi
  if [ -f "$data/pg/PG_VERSION" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$data/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
