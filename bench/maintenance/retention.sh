#!/usr/bin/env bash
# Job-row retention at volume (issue 10: "retention keeps the jobs table flat in a 1,000,000-job
# run", "at a sustained 10,000 jobs/s"). N no-op jobs (default 1,000,000) are fed at RATE jobs/s
# (default 10,000) through one worker (--queues noop=64), twice on fresh servers:
#   retention  `wharfctl cleanup job-retention --older-than $RETENTION` every $INTERVAL (defaults
#              10s and 2s: the rows of the last ~10 s are kept)
#   none       no retention: every row stays (what the table grows to without it)
# Every 2 s: jobs done, live rows and the size of `jobs` with its indexes and TOAST. Results:
# bench/results/retention-<UTC>/{samples.tsv,summary.txt}. A benchmark: it prints, asserts nothing.
#   bench/maintenance/retention.sh            # N=1000000 at 10,000/s: about 100 s per mode
#   N=100000 bench/maintenance/retention.sh   # smoke
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build-bench}
n=${N:-1000000}
retention=${RETENTION:-10s}
interval=${INTERVAL:-2}
rate=${RATE:-10000}
out=$here/bench/results/retention-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/logs"
command -v psql >/dev/null || { echo "needs psql (postgresql-client) on PATH" >&2; exit 1; }

source "$here/bench/lib.sh"
bench_build "$build" "$out" wharf-worker wharfctl
ctl=$build/wharfctl/wharfctl
worker=$build/worker/wharf-worker

# RESP for `count` XADDs of no-op jobs, for redis-cli --pipe.
xadds() {
  python3 - "$1" <<'PY'
import sys
out = sys.stdout.buffer
cmd = [b"XADD", b"wharf:{noop}:stream", b"*", b"job", b'{"payload":{}}']
one = b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd)
out.write(one * int(sys.argv[1]))
PY
}

printf 'mode\tt_s\tdone\tlive_rows\tjobs_bytes\n' >"$out/samples.tsv"
worker_pid= loop_pid=
stop_all() {
  [ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null && wait "$loop_pid" 2>/dev/null || true
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  worker_pid= loop_pid=
}
trap 'stop_all; wharf_servers stop "$out/data-retention"; wharf_servers stop "$out/data-none"' EXIT

for mode in retention none; do
  wharf_servers start "$out/data-$mode"
  "$ctl" migrate >"$out/logs/migrate-$mode.log"
  db=$WHARF_DATABASE_URL
  rcli=(redis-cli -u "$WHARF_REDIS_URL")
  "${rcli[@]}" XGROUP CREATE 'wharf:{noop}:stream' workers 0 MKSTREAM >/dev/null
  "$worker" --queues noop=64 --diagnostics >"$out/logs/worker-$mode.log" 2>&1 &
  worker_pid=$!
  if [ "$mode" = retention ]; then
    ( while true; do
        "$ctl" cleanup job-retention --older-than "$retention" --limit 10000000 --batch 5000 --json \
          >>"$out/logs/retention-runs.jsonl" 2>>"$out/logs/retention-errors.log" || true
        sleep "$interval"
      done ) &
    loop_pid=$!
  fi
  start=$(date +%s.%N) sent=0 done_jobs=0 last_sample=0
  echo "$mode: $n no-op jobs"
  while [ "$done_jobs" -lt "$n" ]; do
    due=$(awk -v a="$(date +%s.%N)" -v b="$start" -v r="$rate" -v n="$n" 'BEGIN { d = int((a - b) * r); print (d > n ? n : d) }')
    if [ "$due" -gt "$sent" ]; then
      xadds $((due - sent)) | "${rcli[@]}" --pipe >/dev/null
      sent=$due
    fi
    done_jobs=$("${rcli[@]}" HGET 'wharf:{noop}:stats' succeeded); done_jobs=${done_jobs:-0}
    now=$(date +%s.%N)
    if awk -v a="$now" -v b="$last_sample" 'BEGIN { exit !(a - b >= 2) }' || [ "$done_jobs" -ge "$n" ]; then
      last_sample=$now
      row=$(psql -At "$db" -c "SELECT (SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'jobs') || E'\t' || pg_total_relation_size('jobs')")
      t=$(awk -v a="$now" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
      printf '%s\t%s\t%s\t%s\n' "$mode" "$t" "$done_jobs" "$row" | tee -a "$out/samples.tsv"
    fi
    sleep 0.2
  done
  stop_all
  psql -At "$db" -c "SELECT '$mode final: rows ' || count(*) || ', jobs size ' || pg_size_pretty(pg_total_relation_size('jobs')) FROM jobs" | tee -a "$out/final.txt"
  wharf_servers stop "$out/data-$mode"
done

python3 - "$out/samples.tsv" "$n" "$rate" <<'EOF_PY' | tee "$out/summary.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
n = int(sys.argv[2])
for mode in ("retention", "none"):
    s = [r for r in rows if r["mode"] == mode]
    if not s:
        continue
    mb = lambda r: int(r["jobs_bytes"]) / 1e6
    tenth = next((r for r in s if int(r["done"]) >= n // 10), s[0])
    print(f"{mode:<10} {n:,} jobs fed at {sys.argv[3]}/s, done in {float(s[-1]['t_s']):.0f} s ({n / float(s[-1]['t_s']):,.0f}/s); "
          f"jobs table at {int(tenth['done']):,} done: {mb(tenth):.0f} MB, at the end: {mb(s[-1]):.0f} MB "
          f"(max {max(mb(r) for r in s):.0f} MB), live rows at the end {int(s[-1]['live_rows']):,}")
EOF_PY
