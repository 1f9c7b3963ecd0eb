#!/usr/bin/env bash
# The quick start's first command: builds wharf, starts a local redis-server and PostgreSQL under
# .data/, applies the migrations, and runs a real pipeline end to end on local defaults: a clip
# that ffmpeg generates, served by a local nginx, downloaded, transcoded (on a second worker
# process), published to the local store, with the artifacts and a presigned URL of the master
# playlist printed, and that playlist played back by ffprobe. Then the same clip again, which
# finishes at once as a duplicate. Local-filesystem storage (.data/storage) is the embedded default.
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

mkdir -p .data/logs .data/samples .data/web
step "Generating a 6 s 720p clip with ffmpeg and serving it with nginx on loopback"
clip=.data/web/demo-clip.mp4
if [ ! -s "$clip" ]; then
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=1280x720:rate=30:duration=6 \
    -f lavfi -i sine=frequency=440:duration=6 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest \
    -movflags +faststart "$clip"
fi
web_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# As root, nginx's workers would run as nobody, who may not read a clone under /root.
nginx_user=""; [ "$(id -u)" -eq 0 ] && nginx_user="user root;"
cat >.data/web/nginx.conf <<EOF
$nginx_user
daemon off;
worker_processes 1;
pid $here/.data/web/nginx.pid;
error_log $here/.data/web/error.log;
events { worker_connections 64; }
http {
  access_log $here/.data/web/access.log;
  client_body_temp_path $here/.data/web/tmp;
  proxy_temp_path $here/.data/web/tmp;
  fastcgi_temp_path $here/.data/web/tmp;
  uwsgi_temp_path $here/.data/web/tmp;
  scgi_temp_path $here/.data/web/tmp;
  types { video/mp4 mp4; }
  server { listen 127.0.0.1:$web_port; root $here/.data/web; }
}
EOF
mkdir -p .data/web/tmp
nginx -c "$here/.data/web/nginx.conf" >.data/logs/nginx.log 2>&1 &
pids=($!)
source_url="http://127.0.0.1:$web_port/demo-clip.mp4"
echo "serving $source_url"

step "Starting two workers: pipeline, download and publish on one; transcode on the other"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
admin_1=$(free_port)
admin_2=$(free_port)
# Downloads refuse every non-public address unless allowed: the demo's own server is on loopback.
# Each worker serves /livez, /readyz, /metrics and /admin/drain on its own admin port.
"$worker" --queues pipeline=2,download=2,publish=2 --download-allow "127.0.0.1/32:$web_port" --grace 10s \
  --scratch-dir .data/scratch-1 --admin-listen "127.0.0.1:$admin_1" >.data/logs/worker-1.log 2>&1 &
pids+=($!)
"$worker" --queues transcode=1 --grace 10s --scratch-dir .data/scratch-2 --admin-listen "127.0.0.1:$admin_2" \
  >.data/logs/worker-2.log 2>&1 &
pids+=($!)
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true' EXIT
sleep 0.5

run=$(date +%s)
wait_final() {
  local id=$1 deadline=$((SECONDS + 300)) st
  while :; do
    st=$("$ctl" status "$id" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo queued)
    case "$st" in succeeded|failed|dead|cancelled) echo "$st"; return ;; esac
    if [ $SECONDS -ge $deadline ]; then echo "pipeline $id unfinished after 300 s; see .data/logs/" >&2; exit 1; fi
    sleep 0.5
  done
}

step "Submitting pipeline demo-$run: download -> transcode -> publish"
"$ctl" pipeline submit --source "$source_url" --id "demo-$run" --api-key "tenant-$run"
status=$(wait_final "demo-$run")
"$ctl" status "demo-$run"
[ "$status" = succeeded ] || { echo "the pipeline $status; see .data/logs/" >&2; exit 1; }

step "Artifacts (published under processed/demo-$run/ in .data/storage)"
"$ctl" status "demo-$run" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["result"]
for name, a in sorted(r["artifacts"].items()):
    print("  %-20s %10d bytes  %s" % (name, a["size"], a["key"]))
print()
print("master playlist (presigned):", r["artifacts"]["hls_master"]["presigned_url"])
' | tee .data/logs/demo-artifacts.txt
master=$(sed -n 's/^master playlist (presigned): //p' .data/logs/demo-artifacts.txt)

step "Playing it back: ffprobe follows the master playlist to every rendition"
ffprobe -v error -protocol_whitelist file,http,https,tcp,tls,crypto -show_entries stream=codec_type,width,height \
  -of compact "$master"

step "The same clip again, for the same tenant: a duplicate finishes at once"
"$ctl" pipeline submit --source "$source_url" --id "demo-$run-again" --api-key "tenant-$run"
wait_final "demo-$run-again" >/dev/null
"$ctl" status "demo-$run-again" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("status %s, duplicate %s of %s" % (j["status"], j["result"]["duplicate"], j["result"]["original_pipeline"]))'

step "Queues and storage"
"$ctl" queues
"$ctl" storage stats

step "Health and metrics of the transcode worker (admin port $admin_2)"
"$ctl" health --url "http://127.0.0.1:$admin_2/readyz?verbose"
"$ctl" health --url "http://127.0.0.1:$admin_2/metrics" |
  grep -E '^wharf_(jobs_finished_total|job_duration_seconds_(sum|count)|storage_bytes_total|queue_backlog)' |
  awk '$NF != 0' || true

step "Done"
echo "Workers and nginx stop now. Redis and PostgreSQL keep running: 'deploy/demo.sh --stop' stops them."
echo "Logs: .data/logs/   Stored objects: .data/storage/"
