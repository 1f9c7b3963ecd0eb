#!/usr/bin/env bash
# Storage benchmark: wharf's S3 multipart upload vs `aws s3 cp` vs `rclone copyto`, 16 MiB parts x 8
# in flight, against the nginx S3-shaped sink (../shared/peers/sink, copied here with a free port),
# interleaved, 3 reps; then SHA-256 speed of wharf's hasher vs `openssl speed -evp sha256`.
# Results: bench/results/storage-<UTC stamp>/{upload,sha}.jsonl and summary.md.
#
#   bench/storage/run.sh            # full: 256 MiB and 1 GiB files, RUNS=3, stages "sha upload"
#   QUICK=1 bench/storage/run.sh    # smoke: a 64 MiB file, 1 run
#
# Env: WHARF_BUILD_DIR (default <repo>/build-bench; upload_bench and sha256_bench are built there
# when missing), RUNS, STAGES, CLIENTS (wharf,awscli,rclone; also wharf-md5: Content-MD5 parts), BENCH_DATA (where the random test
# files are kept between runs; default <repo>/.data/bench), QUIET_MAX.
# Only loopback traffic; nginx is stopped by PID on exit. It asserts nothing about timings.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../nginx.sh"
repo=$(cd "$here/../.." && pwd)
build=${WHARF_BUILD_DIR:-$repo/build-bench}
data=${BENCH_DATA:-$repo/.data/bench}
RUNS=${RUNS:-3} STAGES=" ${STAGES:-sha upload} " CLIENTS=${CLIENTS:-wharf,awscli,rclone} QUIET_MAX=${QUIET_MAX:-30}
files="$data/f256m.bin,$data/f1g.bin"
if [ "${QUICK:-0}" = 1 ]; then RUNS=1 files="$data/f64m.bin" QUIET_MAX=5; fi

# ---------- tools and binaries ----------
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx)" >&2; exit 1; }
command -v aws >/dev/null || { echo "needs awscli (aws) on PATH" >&2; exit 1; }
if [[ ,$CLIENTS, == *,rclone,* ]] && ! command -v rclone >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone
fi
targets=()
if [[ ,$CLIENTS, == *,wharf* && $STAGES == *" upload "* && ! -x $build/bench/upload_bench ]]; then
  targets+=(upload_bench)
fi
[[ $STAGES == *" sha "* && ! -x $build/bench/sha256_bench ]] && targets+=(sha256_bench)
if [ ${#targets[@]} -gt 0 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target "${targets[@]}" -j2
fi

# ---------- test files (random bytes, kept for the next run) ----------
mkdir -p "$data"
IFS=, read -r -a file_list <<< "$files"
for f in "${file_list[@]}"; do
  case $(basename "$f") in f1g.bin) sz=1G;; f256m.bin) sz=256M;; f64m.bin) sz=64M;; esac
  [ -f "$f" ] || head -c "$sz" /dev/urandom > "$f"
done

out=${OUT_DIR:-$repo/bench/results/storage-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/wharf-bench-storage.XXXXXX)
nginx_pid=
cleanup() {
  set +e
  stop_nginx "$nginx_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(nproc) cpu, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r)"
  echo "nginx: $(nginx -v 2>&1); $(aws --version 2>&1); $(rclone --version 2>/dev/null | head -1); $(openssl version)"
  echo "wharf: $(git -C "$repo" rev-parse --short HEAD) ($(git -C "$repo" log -1 --format=%cI))"
  echo "params: RUNS=$RUNS files=$files clients=$CLIENTS, 16 MiB parts x 8 in flight"
} | tee "$out/env.txt"

# ---------- SHA-256: wharf's hasher vs openssl speed ----------
if [[ $STAGES == *" sha "* ]]; then
  python3 "$here/bench.py" sha --sha-bench "$build/bench/sha256_bench" --runs "$RUNS" --quiet-max "$QUIET_MAX" \
    --out "$out/sha.jsonl"
fi

# ---------- uploads against the nginx sink ----------
if [[ $STAGES == *" upload "* ]]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$tmp/sink"
  sed "s/@PORT@/$port/" "$here/nginx-s3-sink.conf" > "$tmp/sink/nginx.conf"
  nginx -p "$tmp/sink" -c "$tmp/sink/nginx.conf" -e error.log
  for _ in $(seq 1 50); do [ -s "$tmp/sink/nginx.pid" ] && break; sleep 0.1; done
  nginx_pid=$(cat "$tmp/sink/nginx.pid")
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

  # Client settings as in ../shared/peers/storage/run.sh: 16 MB parts, threshold 16 MB, 8 in flight.
  export AWS_CONFIG_FILE=$tmp/aws_config
  aws configure set default.region us-east-1
  aws configure set default.s3.multipart_chunksize 16MB
  aws configure set default.s3.multipart_threshold 16MB
  aws configure set default.s3.max_concurrent_requests 8
  aws configure set default.s3.addressing_style path
  cat > "$tmp/rclone.conf" <<EOF
[sink]
type = s3
provider = Other
access_key_id = x
secret_access_key = x
endpoint = http://127.0.0.1:$port
region = us-east-1
force_path_style = true
EOF
  python3 "$here/bench.py" upload --port "$port" --nginx-pid "$nginx_pid" --files "$files" --runs "$RUNS" \
    --clients "$CLIENTS" --upload-bench "$build/bench/upload_bench" --aws-config "$AWS_CONFIG_FILE" \
    --rclone-config "$tmp/rclone.conf" --quiet-max "$QUIET_MAX" --out "$out/upload.jsonl"
fi

python3 "$here/summarize.py" "$out" | tee "$out/summary.md"
echo "results: $out"
