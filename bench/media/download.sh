#!/usr/bin/env bash
# Download benchmark (issue 9, the download stage): one file from a local nginx, fetched by
#   wharf     download_bench: the download job's transfer path -- fetch client (libcurl on its
#             transfer thread) into the job's partial file, SHA-256 computed while the bytes arrive
#             (storing the file in a provider is NOT included; see bench/README.md)
#   curl      curl -s -o FILE URL
#   curl-sha  sh -c 'curl -s -o FILE URL && sha256sum FILE'
#   aria2     aria2c (one connection, defaults otherwise; it hashes nothing)
# interleaved (rep by rep, the order rotated), each under /usr/bin/time -v: throughput, CPU-s per
# GiB, peak RSS; medians of RUNS and ratios to curl -o. Results: bench/results/media-download-<UTC>/.
#
#   bench/media/download.sh            # a 1 GiB random file, RUNS=3
#   QUICK=1 bench/media/download.sh    # smoke: 256 MiB, 1 rep
#
# Env: WHARF_BUILD_DIR (default <repo>/build-bench; download_bench is built there when missing),
# RUNS, CLIENTS (wharf,curl,curl-sha,aria2), BENCH_DATA (where the random file is kept between runs;
# default <repo>/.data/bench), QUIET_MAX. Only loopback traffic; nginx is stopped by PID on exit.
# It asserts nothing about timings.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../nginx.sh"
repo=$(cd "$here/../.." && pwd)
build=${WHARF_BUILD_DIR:-$repo/build-bench}
data=${BENCH_DATA:-$repo/.data/bench}
RUNS=${RUNS:-3} CLIENTS=${CLIENTS:-wharf,curl,curl-sha,aria2} QUIET_MAX=${QUIET_MAX:-30}
file=$data/f1g.bin size=1G
if [ "${QUICK:-0}" = 1 ]; then RUNS=1 file=$data/f256m.bin size=256M QUIET_MAX=5; fi

command -v nginx >/dev/null || { echo "needs nginx (deploy/install-deps.sh)" >&2; exit 1; }
command -v curl >/dev/null || { echo "needs curl (deploy/install-deps.sh)" >&2; exit 1; }
if [[ ,$CLIENTS, == *,aria2,* ]] && ! command -v aria2c >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq aria2
fi
if [[ ,$CLIENTS, == *,wharf,* && ! -x $build/bench/download_bench ]]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target download_bench -j2
fi

mkdir -p "$data"
[ -f "$file" ] || head -c "$size" /dev/urandom > "$file"

out=${OUT_DIR:-$repo/bench/results/media-download-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/wharf-bench-download.XXXXXX)
dl=$data/download-out   # the clients' output files: on the disk the worker's scratch would be on
mkdir -p "$dl"
nginx_pid=
cleanup() {
  set +e
  stop_nginx "$nginx_pid"
  rm -rf "$tmp" "$dl"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/www" "$tmp/temp"
ln -s "$file" "$tmp/www/$(basename "$file")"
sed -e "s|@PORT@|$port|" -e "s|@ROOT@|$tmp/www|" -e "s|@TEMP@|$tmp/temp|" "$here/nginx-download.conf" > "$tmp/nginx.conf"
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log"
for _ in $(seq 1 50); do [ -s "$tmp/nginx.pid" ] && break; sleep 0.1; done
nginx_pid=$(cat "$tmp/nginx.pid")
url="http://127.0.0.1:$port/$(basename "$file")"
for _ in $(seq 1 50); do curl -s -o /dev/null -r 0-0 "$url" && break; sleep 0.1; done

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(nproc) cpu, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r)"
  echo "tools: $(nginx -v 2>&1); $(curl --version | head -1); $(aria2c --version 2>/dev/null | head -1); $(sha256sum --version | head -1)"
  echo "wharf: $(git -C "$repo" rev-parse --short HEAD) ($(git -C "$repo" log -1 --format=%cI))"
  echo "params: RUNS=$RUNS file=$file ($(stat -c %s "$file") bytes) clients=$CLIENTS"
} | tee "$out/env.txt"

python3 "$here/download.py" --url "$url" --file "$file" --dir "$dl" --nginx-pid "$nginx_pid" --runs "$RUNS" \
  --clients "$CLIENTS" --download-bench "$build/bench/download_bench" --allow "127.0.0.1/32:$port" \
  --quiet-max "$QUIET_MAX" --out "$out/download.jsonl"
python3 "$here/download.py" --summarize "$out/download.jsonl" | tee "$out/summary.md"
echo "results: $out"
