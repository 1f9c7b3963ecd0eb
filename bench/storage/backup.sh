#!/usr/bin/env bash
# Backup benchmark: a database holding ROWS `jobs` rows (default 1,000,000, shaped like real ones:
# a payload with a URL and a key, a result with a SHA-256 and an ETag) backed up REPS times,
# interleaved:
#   wharf   `wharfctl backup run` to the local provider: pg_dump --format=custom --compress=0 in the
#           dump's own exported snapshot, zstd (level 3, 2 threads) as the bytes arrive, streamed into
#           the provider (no temp file), SHA-256 and size recorded, plus the census of every table
#           taken in the same snapshot (its queries run in the server meanwhile)
#   seed    the seed's way: `pg_dump "$db" | gzip > file` (plain SQL, gzip -6)
#   floor   `pg_dump --format=custom --compress=0 > /dev/null`: what both wait for at least
# and the restore of each: `wharfctl backup restore` (download, SHA-256 check, zstd -d into
# pg_restore --single-transaction) into a fresh database vs `gunzip -c file | psql` into another.
# Wall time, client CPU (user+sys of the command and its children: pg_dump, gzip, psql, pg_restore;
# the PostgreSQL server's own CPU is not counted for either), output size; medians and ratios.
# Results: bench/results/backup-<UTC>/.
#   bench/storage/backup.sh                      # ROWS=1000000, REPS=3
#   ROWS=100000 REPS=1 bench/storage/backup.sh   # smoke
# Only loopback traffic. Asserts nothing about timings.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build-bench}
reps=${REPS:-3}
rows=${ROWS:-1000000}
out=$here/bench/results/backup-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/logs" "$out/store" "$out/seed"
command -v psql >/dev/null || { echo "needs psql (postgresql-client) on PATH" >&2; exit 1; }

source "$here/bench/lib.sh"
bench_build "$build" "$out" wharfctl
ctl=$build/wharfctl/wharfctl

trap 'wharf_servers stop "$out/data"' EXIT
wharf_servers start "$out/data"
"$ctl" migrate >"$out/logs/migrate.log"
db=$WHARF_DATABASE_URL
with_db() { python3 -c 'import sys; u=sys.argv[1]; i=u.rfind("/"); q=u.find("?", i); print(u[:i+1] + sys.argv[2] + ("" if q < 0 else u[q:]))' "$db" "$1"; }

echo "seeding $rows jobs rows..."
psql -q -v ON_ERROR_STOP=1 "$db" <<SQL
INSERT INTO jobs (queue, id, status, attempts, max_attempts, payload, result, api_key, created_at, started_at, finished_at)
SELECT (ARRAY['upload', 'download', 'transcode'])[1 + g % 3], 'job-' || g, 'succeeded', 1, 5,
       jsonb_build_object('source', 'https://cdn.example.com/videos/' || md5(g::text) || '.mp4',
                          'key', 'videos/' || g || '/video_original.mp4', 'provider', 's3-main'),
       jsonb_build_object('sha256', md5(g::text) || md5((g + 1)::text), 'etag', md5((g * 7)::text),
                          'size', (g::bigint * 7919) % 100000000, 'url', 'https://s3.example.com/media/videos/' || g),
       'tenant-' || (g % 50), now() - (g % 1000) * interval '1 minute', now() - (g % 1000) * interval '1 minute',
       now() - (g % 1000) * interval '1 minute' + interval '40 seconds'
FROM generate_series(1, $rows) g;
VACUUM ANALYZE jobs;
SQL
db_size=$(psql -At "$db" -c "SELECT pg_database_size(current_database())")
echo "database: $(numfmt --to=iec "$db_size")"
providers="[{\"name\":\"disk\",\"kind\":\"local\",\"root\":\"$out/store\"}]"

fresh_db() { psql -q "$db" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; }

printf 'method\trep\twall_s\tcpu_s\n' >"$out/runs.tsv"
printf 'method\trep\tbytes\n' >"$out/sizes.tsv"
echo "backup benchmark: $rows jobs rows, $reps reps, results in $out"
for ((rep = 1; rep <= reps; rep++)); do
  run_wharf() {
    timed wharf "$rep" "$ctl" backup run --json --storage-providers "$providers" --backup-provider disk \
      --scratch-dir "$out/scratch" --backup-keep-days 36500
    local id size
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$out/logs/wharf-$rep.out")
    size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size"])' "$out/logs/wharf-$rep.out")
    printf 'wharf\t%s\t%s\n' "$rep" "$size" >>"$out/sizes.tsv"
    fresh_db restore_wharf
    timed wharf-restore "$rep" "$ctl" backup restore "$id" --target "$(with_db restore_wharf)" \
      --storage-providers "$providers" --backup-provider disk --scratch-dir "$out/scratch"
  }
  run_seed() {
    timed seed "$rep" sh -c "pg_dump '$db' | gzip > '$out/seed/dump-$rep.sql.gz'"
    printf 'seed\t%s\t%s\n' "$rep" "$(stat -c %s "$out/seed/dump-$rep.sql.gz")" >>"$out/sizes.tsv"
    fresh_db restore_seed
    timed seed-restore "$rep" sh -c "gunzip -c '$out/seed/dump-$rep.sql.gz' | psql -q -v ON_ERROR_STOP=1 '$(with_db restore_seed)' >/dev/null"
    rm -f "$out/seed/dump-$rep.sql.gz"
  }
  # The floor both share: pg_dump alone, its output thrown away (the server's COPY of every row).
  timed pg_dump-only "$rep" sh -c "pg_dump --format=custom --compress=0 '$db' > /dev/null"
  if ((rep % 2)); then run_seed; run_wharf; else run_wharf; run_seed; fi
done
psql -At "$(with_db restore_wharf)" -c "SELECT 'restored by wharf: ' || count(*) || ' jobs rows' FROM jobs" | tee "$out/check.txt"
psql -At "$(with_db restore_seed)" -c "SELECT 'restored by the seed: ' || count(*) || ' jobs rows' FROM jobs" | tee -a "$out/check.txt"

python3 - "$out/runs.tsv" "$out/sizes.tsv" "$rows" "$db_size" <<'EOF_PY' | tee "$out/summary.txt"
import csv, statistics, sys
runs = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
sizes = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
rows, db_size = int(sys.argv[3]), int(sys.argv[4])
print(f"{rows:,} jobs rows, database {db_size / 2**20:.0f} MiB")
med = {}
for label in dict.fromkeys(r["method"] for r in runs):
    walls = [float(r["wall_s"]) for r in runs if r["method"] == label]
    cpus = [float(r["cpu_s"]) for r in runs if r["method"] == label]
    med[label] = (statistics.median(walls), statistics.median(cpus))
    size = [int(s["bytes"]) for s in sizes if s["method"] == label]
    extra = f", output {statistics.median(size) / 2**20:.1f} MiB" if size else ""
    print(f"{label:<13} median {med[label][0]:7.2f} s wall, {med[label][1]:6.2f} s CPU{extra}   reps: "
          + ", ".join(f"{x:.2f}" for x in walls))
ws = statistics.median(int(s["bytes"]) for s in sizes if s["method"] == "wharf")
ss = statistics.median(int(s["bytes"]) for s in sizes if s["method"] == "seed")
(ww, wc), (sw, sc) = med["wharf"], med["seed"]
print(f"backup: wharf {sw / ww:.2f}x faster than pg_dump | gzip (target 2x, and under 120 s: "
      f"{'met' if sw / ww >= 2 and ww < 120 else 'MISSED'}), output {ws / ss:.2f}x the size "
      f"({'smaller' if ws < ss else 'NOT smaller'}), {wc / sc:.2f}x the client CPU")
if "pg_dump-only" in med:
    fw = med["pg_dump-only"][0]
    print(f"floor: pg_dump alone {fw:.2f} s, so no pipeline after it can be more than {sw / fw:.2f}x faster than "
          f"pg_dump | gzip here; wharf takes {ww / fw:.2f}x the floor")
(rw, rc), (qw, qc) = med["wharf-restore"], med["seed-restore"]
print(f"restore: wharf {rw:.2f} s vs gunzip | psql {qw:.2f} s ({qw / rw:.2f}x)")
EOF_PY
