#!/usr/bin/env bash
# Migration benchmark: N objects (default 10,000; random bytes, 16-112 KiB, ~640 MiB in all) moved
# from the local store to moto, REPS times, interleaved:
#   wharf   `wharfctl storage migrate --from disk --to moto --concurrency C`: each object read,
#           its SHA-256 checked against the catalog, put at moto, HEADed, its catalog row and both
#           providers' usage switched in one transaction, the source deleted; a manifest row per
#           object in PostgreSQL
#   rclone  `rclone copy` of the same files to a fresh moto bucket (--transfers C) followed by
#           `rclone check` (sizes and MD5s of both sides): copies, deletes nothing, keeps no state
# Wall time and CPU (user+sys of the client and its children; moto's own CPU is not counted for
# either), objects/s and MiB/s, medians and ratios. Results: bench/results/migrate-<UTC>/.
#   bench/storage/migrate.sh                  # N=10000, REPS=3, C=8
#   N=1000 REPS=1 bench/storage/migrate.sh    # smoke
# Only loopback traffic. Asserts nothing about timings.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build-bench}
reps=${REPS:-3}
n=${N:-10000}
c=${C:-8}
out=$here/bench/results/migrate-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/logs"
command -v psql >/dev/null || { echo "needs psql (postgresql-client) on PATH" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "needs moto_server (python3 moto[server]) on PATH" >&2; exit 1; }
if ! command -v rclone >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone
fi

source "$here/bench/lib.sh"
bench_build "$build" "$out" wharfctl
ctl=$build/wharfctl/wharfctl

moto_pid=
cleanup() {
  set +e
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  wharf_servers stop "$out/data"
}
trap cleanup EXIT
wharf_servers start "$out/data"
"$ctl" migrate >"$out/logs/migrate.log"
db=$WHARF_DATABASE_URL
moto_port=$(free_port)
mkdir -p "$out/moto"
TMPDIR=$out/moto moto_server -H 127.0.0.1 -p "$moto_port" >"$out/logs/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$moto_port/" >/dev/null && break; sleep 0.1; done
endpoint=http://127.0.0.1:$moto_port
make_bucket() { curl -sf -X PUT "$endpoint/$1" >/dev/null; }

cat >"$out/rclone.conf" <<EOF
[moto]
type = s3
provider = Other
access_key_id = testing
secret_access_key = testing
endpoint = $endpoint
region = us-east-1
force_path_style = true
EOF

# N files of random bytes under <dir>/videos/, and (for wharf) their catalog rows: <dir>.tsv
make_objects() {  # <dir>
  python3 - "$1" "$n" <<'PY'
import hashlib, os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
with open(root + ".tsv", "w") as rows:
    for i in range(n):
        folder = os.path.join(root, "videos", f"v{i // 100}")
        if i % 100 == 0:
            os.makedirs(folder, exist_ok=True)
        data = os.urandom(rng.randint(16 << 10, 112 << 10))
        key = f"videos/v{i // 100}/obj-{i}.bin"
        with open(os.path.join(root, key), "wb") as f:
            f.write(data)
        rows.write(f"{key}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\n")
PY
}

record_objects() {  # <dir>: the rows, and the usage they add, on a fresh catalog
  psql -q -v ON_ERROR_STOP=1 "$db" <<SQL >/dev/null
TRUNCATE objects, storage_stats, api_keys, object_migrations, object_migration_items, multipart_uploads;
CREATE TEMP TABLE seed (key text, size bigint, sha256 text);
\copy seed FROM '$1.tsv'
INSERT INTO objects (provider, bucket, key, size, sha256, etag, api_key)
SELECT 'disk', '$1', key, size, sha256, sha256, 'bench' FROM seed;
INSERT INTO storage_stats (provider, total_bytes, file_count, limit_bytes)
SELECT 'disk', sum(size), count(*), 1099511627776 FROM seed;
INSERT INTO api_keys (api_key, used_bytes, file_count) SELECT 'bench', sum(size), count(*) FROM seed;
SQL
}


printf 'method\trep\twall_s\tcpu_s\n' >"$out/runs.tsv"
echo "migration benchmark: $n objects local -> moto, concurrency $c, $reps reps, results in $out"
for ((rep = 1; rep <= reps; rep++)); do
  src=$out/src-$rep
  rm -rf "$src" "$src.tsv"; mkdir -p "$src"; make_objects "$src"
  bytes=$(awk '{ s += $2 } END { print s }' "$src.tsv")
  run_wharf() {
    record_objects "$src"
    make_bucket "wharf-$rep"
    local providers="[{\"name\":\"disk\",\"kind\":\"local\",\"root\":\"$src\",\"limit\":\"1TiB\"},{\"name\":\"moto\",\"kind\":\"s3\",\"profile\":\"generic\",\"endpoint\":\"$endpoint\",\"region\":\"us-east-1\",\"bucket\":\"wharf-$rep\",\"access_key_id\":\"testing\",\"secret_access_key\":\"testing\",\"limit\":\"1TiB\"}]"
    timed wharf "$rep" "$ctl" storage migrate --from disk --to moto --concurrency "$c" --json \
      --scratch-dir "$out/scratch" --storage-providers "$providers"
    python3 - "$out/logs/wharf-$rep.out" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if not (r["complete"] and r["moved"] == int(sys.argv[2])):
    sys.exit(f"wharf: moved {r['moved']} of {sys.argv[2]}, failed {r['failed']}: {r['failures'][:3]}")
PY
  }
  run_rclone() {
    make_bucket "rclone-$rep"
    # AWS_CA_BUNDLE (set on some machines) makes rclone's S3 backend refuse to start; moto is plain http.
    timed rclone "$rep" env -u AWS_CA_BUNDLE sh -c "rclone --config '$out/rclone.conf' copy '$src' 'moto:rclone-$rep' \
      --transfers $c --checkers $((2 * c)) && rclone --config '$out/rclone.conf' check '$src' 'moto:rclone-$rep' --checkers $((2 * c))"
  }
  # rclone first on odd reps (it only reads the source; wharf's move empties it).
  if ((rep % 2)); then run_rclone; run_wharf; else
    cp -a "$src" "$src.copy"; run_wharf; rm -rf "$src"; mv "$src.copy" "$src"; run_rclone; fi
  printf '%s\t%s\n' "$rep" "$bytes" >>"$out/bytes.tsv"
  rm -rf "$src" "$src.tsv"
done
psql -At "$db" -c "SELECT 'catalog after the last wharf run: ' || count(*) || ' live rows at moto, usage ' || (SELECT total_bytes FROM storage_stats WHERE provider = 'moto') || ' bytes at moto, ' || (SELECT total_bytes FROM storage_stats WHERE provider = 'disk') || ' at disk' FROM objects WHERE deleted_at IS NULL AND provider = 'moto'" | tee "$out/accounting.txt"

python3 - "$out/runs.tsv" "$out/bytes.tsv" "$n" <<'EOF_PY' | tee "$out/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
size = statistics.median(int(l.split()[1]) for l in open(sys.argv[2]))
n = int(sys.argv[3])
med = {}
for label in dict.fromkeys(r["method"] for r in rows):
    walls = [float(r["wall_s"]) for r in rows if r["method"] == label]
    cpus = [float(r["cpu_s"]) for r in rows if r["method"] == label]
    med[label] = (statistics.median(walls), statistics.median(cpus))
    w, c = med[label]
    print(f"{label:<7} median {w:7.2f} s wall ({n / w:6.0f} objects/s, {size / w / 2**20:6.1f} MiB/s), "
          f"{c:6.2f} s CPU   reps: " + ", ".join(f"{x:.2f}" for x in walls))
if "wharf" in med and "rclone" in med:
    (ww, wc), (rw, rc) = med["wharf"], med["rclone"]
    print(f"wharf move (copy+verify+switch+delete) vs rclone copy+check: {rw / ww:.2f}x the throughput, "
          f"{wc / rc:.2f}x the CPU")
EOF_PY
