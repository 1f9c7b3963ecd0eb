#!/usr/bin/env bash
# Queue benchmark: wharf-worker (PostgreSQL job state on) vs BullMQ vs bee-queue, side by side on
# ONE redis-server and one PostgreSQL that this script starts on free loopback ports and stops on
# exit (by PID). Results: bench/results/queue-<UTC stamp>/{drain,trickle}.jsonl and summary.md.
#
#   bench/queue/run.sh             # full run: N=50,000, C=1,10,100, trickle 2,000 at 500/s, 3 reps
#   QUICK=1 bench/queue/run.sh     # smoke: N=2,000, C=10, trickle 200, 1 rep (about a minute)
#
# Env: WHARF_BUILD_DIR (default <repo>/build-bench; wharf-worker and wharfctl are built there when
# missing), N, CS, REPS, LAT_N, RATE, LAT_CS, LIBS (wharf,bullmq,bee), WORKER_ARGS (extra flags for
# wharf-worker), WORKERS (wharf-worker processes per drain run, each with --queues noop=C and
# WORKER_ARGS; default 1; the trickle phase always runs one), PHASES ("drain trickle"), QUIET_MAX
# (seconds to wait for an idle box per run), RETRIES (re-runs of a run during which other
# processes used > 10 % of the box; default 1).
# Benchmarks print figures; they assert nothing about timings.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${WHARF_BUILD_DIR:-$repo/build-bench}
peers_queue=${WHARF_PEERS_QUEUE:-$(cd "$repo/.." && pwd)/shared/peers/queue}
export WHARF_PEERS_QUEUE=$peers_queue
pg_bin=/usr/lib/postgresql/15/bin

if [ "${QUICK:-0}" = 1 ]; then
  : "${N:=2000}" "${CS:=10}" "${REPS:=1}" "${LAT_N:=200}" "${LAT_CS:=1}" "${QUIET_MAX:=5}"
fi
N=${N:-50000} CS=${CS:-1,10,100} REPS=${REPS:-3} LAT_N=${LAT_N:-2000} RATE=${RATE:-500}
LAT_CS=${LAT_CS:-1,10} LIBS=${LIBS:-wharf,bullmq,bee} PHASES=${PHASES:-drain trickle} QUIET_MAX=${QUIET_MAX:-30}
RETRIES=${RETRIES:-1}

# ---------- tools and binaries ----------
[ -f "$peers_queue/bench-bullmq.js" ] || { echo "peer scripts not found in $peers_queue" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
if [ ! -d "$here/peers/node_modules/bullmq" ] || [ ! -d "$here/peers/node_modules/bee-queue" ]; then
  (cd "$here/peers" && npm install --no-audit --no-fund --loglevel=error)
fi
export NODE_PATH=$here/peers/node_modules
worker=$build/worker/wharf-worker
wharfctl=$build/wharfctl/wharfctl
if [[ ,$LIBS, == *,wharf,* ]] && { [ ! -x "$worker" ] || [ ! -x "$wharfctl" ]; }; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target wharf-worker wharfctl -j2
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------- servers (temp dir; stopped by PID on exit) ----------
tmp=$(mktemp -d /tmp/wharf-bench-queue.XXXXXX)
chmod 755 "$tmp"
redis_pid=
pg_data=$tmp/pg
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  set +e
  if [ -n "$redis_pid" ] && tr '\0' ' ' < "/proc/$redis_pid/cmdline" 2>/dev/null | grep -q redis-server; then
    kill "$redis_pid"; wait "$redis_pid" 2>/dev/null
  fi
  [ -f "$pg_data/postmaster.pid" ] && as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(free_port)
mkdir -p "$tmp/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/redis" \
  --logfile "$tmp/redis/redis.log" &
redis_pid=$!

pg_port=$(free_port)
mkdir -p "$pg_data" "$tmp/pgsock"
[ "$(id -u)" -eq 0 ] && chown postgres: "$pg_data" "$tmp/pgsock"
as_pg "$pg_bin/initdb" -D "$pg_data" -A trust -U wharf --no-sync >"$tmp/initdb.log" 2>&1
# PostgreSQL defaults otherwise (fsync on, synchronous_commit on): job state is durable.
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$tmp/pgsock/postgres.log" -w -t 60 \
  -o "-p $pg_port -k $tmp/pgsock -c listen_addresses=127.0.0.1" start >/dev/null
pg_pid=$(head -1 "$pg_data/postmaster.pid")
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
psql "postgresql://wharf@127.0.0.1:$pg_port/postgres" -qc "CREATE DATABASE wharf" >/dev/null
pg_url="postgresql://wharf@127.0.0.1:$pg_port/wharf"
if [[ ,$LIBS, == *,wharf,* ]]; then
  WHARF_DATABASE_URL=$pg_url "$wharfctl" migrate
fi

# ---------- run ----------
out=${OUT_DIR:-$repo/bench/results/queue-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(nproc) cpu, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r)"
  echo "redis: $(redis-server --version)"
  echo "postgres: $("$pg_bin/postgres" --version)"
  echo "node: $(node --version); bullmq $(node -p 'require("bullmq/package.json").version'); bee-queue $(node -p 'require("bee-queue/package.json").version')"
  echo "wharf: $(git -C "$repo" rev-parse --short HEAD) ($(git -C "$repo" log -1 --format=%cI))"
  echo "params: N=$N CS=$CS REPS=$REPS LAT_N=$LAT_N RATE=$RATE LAT_CS=$LAT_CS LIBS=$LIBS WORKER_ARGS=${WORKER_ARGS:-} WORKERS=${WORKERS:-1}"
} | tee "$out/env.txt"

# WORKER_ARGS goes with a leading space: the peers' argument parser takes a value that starts with
# "--" for the next flag, so "--threads 2" on its own would reach the harness as `true`.
common=(--port "$redis_port" --pg-url "$pg_url" --pg-pid "$pg_pid" --worker "$worker"
        --worker-args " ${WORKER_ARGS:-}" --workers "${WORKERS:-1}" --libs "$LIBS" --reps "$REPS" --outdir "$out" --quiet-max "$QUIET_MAX" --retries "$RETRIES")
for phase in $PHASES; do
  case $phase in
    drain) node "$here/harness.js" drain "${common[@]}" --n "$N" --cs "$CS" ;;
    trickle) node "$here/harness.js" trickle "${common[@]}" --lat-n "$LAT_N" --rate "$RATE" --lat-cs "$LAT_CS" ;;
    *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done
node "$here/summarize.js" "$out" | tee "$out/summary.md"
echo "results: $out"
