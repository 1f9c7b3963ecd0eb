#!/usr/bin/env bash
# Pipeline benchmark: a 60 s 1080p clip served by a local nginx becomes the default ladder (360p +
# 720p, MP4 + HLS) + audio + thumbnails in an S3 bucket (moto on loopback), two ways, interleaved:
#   wharf  `wharfctl pipeline submit --source URL`: download -> transcode -> publish on two worker
#          processes (pipeline/download/publish on one, transcode on the other), as deployed;
#          timed from the submit to the pipeline's row saying succeeded
#   hand   the same steps by hand, one after the other: curl -o, the hand-written single ffmpeg
#          command of bench/media/transcode.sh, aws s3 cp --recursive of the outputs
# Both store into the same moto. Wall time, medians of REPS, the ratio. Results:
# bench/results/pipeline-<UTC>/.
#   bench/media/pipeline.sh                       # 60 s clip, 3 reps
#   REPS=1 CLIP_SECONDS=10 bench/media/pipeline.sh   # smoke
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build-bench}
reps=${REPS:-3}
clip_seconds=${CLIP_SECONDS:-60}
preset=${PRESET:-veryfast}
results=$here/bench/results
out=$results/pipeline-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out/web" "$out/logs"
command -v aws >/dev/null || { echo "needs awscli (aws) on PATH" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "needs moto_server on PATH" >&2; exit 1; }
source "$here/bench/nginx.sh"

source "$here/bench/lib.sh"
bench_build "$build" "$out" wharf-worker wharfctl
worker=$build/worker/wharf-worker
ctl=$build/wharfctl/wharfctl

# The source: the transcode benchmark's clip, made once and kept.
source "$here/bench/media/common.sh"
src=$results/transcode-source-${clip_seconds}s.mp4
make_source_clip "$clip_seconds" "$src"
ln -sf "$src" "$out/web/clip.mp4"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  stop_nginx "${nginx_pid:-}"
  wait 2>/dev/null || true
  wharf_servers stop "$out/data"
}
trap cleanup EXIT

# Servers on loopback: nginx (the source), moto (the bucket), Redis and PostgreSQL (wharf's state).
web_port=$(free_port)
nginx_user=""; [ "$(id -u)" -eq 0 ] && nginx_user="user root;"
cat >"$out/nginx.conf" <<EOF
$nginx_user
daemon off;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/logs/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $out/tmp; proxy_temp_path $out/tmp; fastcgi_temp_path $out/tmp;
  uwsgi_temp_path $out/tmp; scgi_temp_path $out/tmp;
  types { video/mp4 mp4; }
  server { listen 127.0.0.1:$web_port; root $out/web; }
}
EOF
mkdir -p "$out/tmp"
nginx -c "$out/nginx.conf" & nginx_pid=$!
moto_port=$(free_port)
(cd "$out" && exec moto_server -H 127.0.0.1 -p "$moto_port" >"$out/logs/moto.log" 2>&1) & pids+=($!)
wharf_servers start "$out/data"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$moto_port/" && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
s3=(aws --endpoint-url "http://127.0.0.1:$moto_port" s3)
"${s3[@]}" mb s3://media >/dev/null
"$ctl" migrate >"$out/logs/migrate.log"

providers=$(cat <<EOF
{"providers": [{"name": "moto", "kind": "s3", "profile": "generic", "endpoint": "http://127.0.0.1:$moto_port",
  "region": "us-east-1", "bucket": "media", "access_key_id": "testing", "secret_access_key": "testing",
  "limit": "1TiB"}]}
EOF
)
common=(--storage-providers "$providers" --grace 10s --log-level "${LOG_LEVEL:-warn}")
"$worker" --queues pipeline=2,download=2,publish=2 --download-allow "127.0.0.1/32:$web_port" \
  --scratch-dir "$out/scratch-1" "${common[@]}" >"$out/logs/worker-1.log" 2>&1 & pids+=($!)
"$worker" --queues transcode=1 --transcode-preset "$preset" --scratch-dir "$out/scratch-2" "${common[@]}" \
  >"$out/logs/worker-2.log" 2>&1 & pids+=($!)
sleep 0.5

run_hand() {  # <rep>: in a fresh folder
  local dir=$out/hand-$1
  mkdir -p "$dir/out"
  curl -sS -f -o "$dir/source.mp4" "http://127.0.0.1:$web_port/clip.mp4"
  (cd "$dir/out" && hand_single "$dir/source.mp4" "$preset" 10 "$clip_seconds")
  cp "$dir/source.mp4" "$dir/out/video_original.mp4"
  "${s3[@]}" cp --recursive --only-show-errors "$dir/out" "s3://media/hand/$1/"
  rm -rf "$dir"
}

# Where a wharf run's time went: each step job's run time from its row, and the phases a step
# times itself (the transcode job's result.timings: fetch, probe, encode, verify, store), in
# steps.tsv.
step_times() {  # <pipeline id> <rep>
  local id=$1 rep=$2 step
  for step in $("$ctl" status "$id" --json | python3 -c 'import json,sys; print(" ".join(s["queue"] + "=" + s["job"] for s in json.load(sys.stdin)["steps"]))'); do
    "$ctl" status "${step#*=}" --queue "${step%%=*}" --json | python3 -c '
import json, sys
from datetime import datetime
j = json.load(sys.stdin)
t = lambda k: datetime.fromisoformat(j[k].replace("Z", "+00:00")).timestamp() if j.get(k) else None
s, f = t("started_at"), t("finished_at")
phases = (j.get("result") or {}).get("timings") or {}
print("\t".join([sys.argv[1], j["queue"], f"{(f - s) if f and s else 0:.2f}", json.dumps(phases)]))
' "$rep" >>"$out/steps.tsv"
  done
}

run_wharf() {  # <rep>
  local id=bench-$1-$(date +%s%N)
  "$ctl" pipeline submit --source "http://127.0.0.1:$web_port/clip.mp4" --id "$id" --api-key "$id" >/dev/null
  # One process reading the row every 100 ms (a shell loop of wharfctl + python3 every 100 ms
  # took a third of a core from the encode on 2 cores).
  if "$ctl" status "$id" --wait >/dev/null; then last_id=$id; return 0; fi
  echo "pipeline $id did not succeed:" >&2; "$ctl" status "$id" >&2; return 1
}

measure() {  # <method> <rep>
  local t0 t1
  t0=$(date +%s.%N)
  "run_$1" "$2"
  t1=$(date +%s.%N)
  local wall
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\n' "$1" "$2" "$wall" >>"$out/runs.tsv"
  if [ "$1" = wharf ]; then step_times "$last_id" "$2"; fi  # after the clock stopped
  printf '  %-6s rep %s: %7.2f s\n' "$1" "$2" "$wall"
}

printf 'method\trep\twall_s\n' >"$out/runs.tsv"
printf 'rep\tstep\trun_s\tphases\n' >"$out/steps.tsv"
echo "pipeline benchmark: ${clip_seconds} s 1080p source, preset $preset, $reps reps, results in $out"
for ((rep = 1; rep <= reps; rep++)); do
  if (( rep % 2 )); then measure wharf "$rep"; measure hand "$rep"; else measure hand "$rep"; measure wharf "$rep"; fi
done

python3 - "$out/runs.tsv" <<'EOF' | tee "$out/summary.txt"
import csv, json, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
walls = {m: [float(r["wall_s"]) for r in rows if r["method"] == m] for m in ("wharf", "hand")}
med = {m: statistics.median(w) for m, w in walls.items() if w}
for m, w in walls.items():
    print(f"{m:<6} median {med[m]:7.2f} s   reps: " + ", ".join(f"{x:.2f}" for x in w))
if len(med) == 2:
    print(f"wharf / hand: {med['wharf'] / med['hand']:.2f}x wall (target: below 1.00x)")
steps = list(csv.DictReader(open(sys.argv[1].replace("runs.tsv", "steps.tsv")), delimiter="\t"))
for name in dict.fromkeys(r["step"] for r in steps):
    runs = [float(r["run_s"]) for r in steps if r["step"] == name]
    line = f"  wharf step {name:<10} median run {statistics.median(runs):6.2f} s"
    phases = [json.loads(r["phases"]) for r in steps if r["step"] == name]
    keys = list(dict.fromkeys(k for p in phases for k in p))
    if keys:
        line += " (" + ", ".join(f"{k} {statistics.median(p.get(k, 0) for p in phases):.2f}" for k in keys) + ")"
    print(line)
EOF
