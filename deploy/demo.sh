#!/usr/bin/env bash
# The quick start's first command: builds wharf, starts a local redis-server and PostgreSQL under
# .data/, applies the migrations, starts two workers, enqueues a sample pipeline and shows every
# job finish. Local-filesystem storage (.data/storage) is the embedded default.
#   deploy/demo.sh           # run it
#   deploy/demo.sh --stop    # stop the servers it left running
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build}
cd "$here"

if [ "${1:-}" = "--stop" ]; then deploy/local-servers.sh stop; exit 0; fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing dependencies (Debian packages; skipped when present)"
deploy/install-deps.sh

step "Building wharf-worker and wharfctl"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target wharf-worker wharfctl
worker=$build/worker/wharf-worker
ctl=$build/wharfctl/wharfctl

step "Starting redis-server and PostgreSQL on loopback (data in .data/)"
eval "$(deploy/local-servers.sh start)"
echo "WHARF_REDIS_URL=$WHARF_REDIS_URL"
echo "WHARF_DATABASE_URL=$WHARF_DATABASE_URL"


step "Applying migrations"
"$ctl" migrate

step "Starting two workers"
mkdir -p .data/logs .data/samples
pids=()
for i in 1 2; do
  "$worker" --queues noop=8,sleep=4,upload=2 --diagnostics --grace 10s --local-source-roots "$here/.data/samples" >".data/logs/worker-$i.log" 2>&1 &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true' EXIT
sleep 0.5

step "Enqueueing a sample pipeline"
run=$(date +%s)
mkdir -p .data/samples
sample=.data/samples/clip-$run.bin
head -c 12000000 /dev/urandom >"$sample"
ids=()
for n in 1 2 3 4 5; do
  "$ctl" enqueue noop --payload "{\"n\":$n}" --id "demo-$run-noop-$n" >/dev/null; ids+=("demo-$run-noop-$n")
done
"$ctl" enqueue sleep --payload '{"ms":1500}' --id "demo-$run-sleep" >/dev/null; ids+=("demo-$run-sleep")
"$ctl" enqueue upload --id "demo-$run-upload" \
  --payload "{\"source\":\"$here/$sample\",\"key\":\"videos/demo-$run/clip.bin\",\"class\":\"permanent\"}" >/dev/null
ids+=("demo-$run-upload")
# The same id again: duplicate detection runs it once.
"$ctl" enqueue noop --payload '{"n":1}' --id "demo-$run-noop-1" >/dev/null
echo "enqueued ${#ids[@]} jobs (and one duplicate id)"

step "Waiting for every job to finish"
deadline=$((SECONDS + 60))
while :; do
  pending=0
  for id in "${ids[@]}"; do
    st=$("$ctl" status "$id" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo queued)
    case "$st" in succeeded|failed|dead|cancelled) ;; *) pending=$((pending + 1)) ;; esac
  done
  [ "$pending" -eq 0 ] && break
  if [ $SECONDS -ge $deadline ]; then echo "still $pending job(s) unfinished after 60 s; see .data/logs/" >&2; exit 1; fi
  sleep 0.3
done
for id in "${ids[@]}"; do "$ctl" status "$id"; echo; done

step "Queues and storage"
"$ctl" queues
"$ctl" storage stats

step "Done"
echo "Workers stop now (SIGTERM, graceful). Servers keep running: 'deploy/demo.sh --stop' stops them."
echo "Logs: .data/logs/   Stored objects: .data/storage/"
