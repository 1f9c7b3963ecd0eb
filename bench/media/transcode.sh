#!/usr/bin/env bash
# Transcode benchmark: a 60 s 1080p clip to the default ladder (360p + 720p, MP4 + HLS fMP4 4 s,
# keyframes every 2 s) + audio MP3 + thumbnails (poster + sprite), three ways, interleaved:
#   wharf          the transcode job's own code (bench/media/transcode_bench.cpp: ffprobe, plan,
#                  the ONE ffmpeg through the child-process owner, the checks of every output)
#   per_rendition  one ffmpeg per rendition, one for the MP3, one for the thumbnails, one after the
#                  other -- how PeerTube does it (each decodes the source again)
#   single         a hand-written single ffmpeg command making the same outputs
# Wall time and CPU (user+sys of the whole process tree, /usr/bin/time), medians of REPS, ratios.
#   bench/media/transcode.sh                  # 60 s clip, 3 reps
#   REPS=1 CLIP_SECONDS=10 bench/media/transcode.sh   # smoke
# Every run is niced like the worker's ffmpeg (transcode_nice, 10). Results: bench/results/transcode-<UTC>/.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${WHARF_BUILD_DIR:-$here/build-bench}
reps=${REPS:-3}
clip_seconds=${CLIP_SECONDS:-60}
preset=${PRESET:-veryfast}
nice_level=${NICE_LEVEL:-10}
results=$here/bench/results
out=$results/transcode-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/wharf-ccache}
if [ ! -x "$build/bench/transcode_bench" ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/configure.log"
  cmake --build "$build" --target transcode_bench -j2
fi
bench_bin=$build/bench/transcode_bench

source "$here/bench/media/common.sh"
src=$results/transcode-source-${clip_seconds}s.mp4
make_source_clip "$clip_seconds" "$src"

# What the job's plan gives for this source (transcode_bench prints its argv): the same numbers
# for the other two ways.
poster_at=$(awk -v d="$clip_seconds" 'BEGIN { p = d / 2; if (p > 5) p = 5; print p }')
tiles=$(awk -v d="$clip_seconds" 'BEGIN { i = 2; if (d / 100 > i) i = int(d / 100 + 0.999); n = int((d - 1 / 30) / i) + 1; if (n > 100) n = 100; print n }')
interval=$(awk -v d="$clip_seconds" 'BEGIN { i = 2; if (d / 100 > i) i = int(d / 100 + 0.999); print i }')
cols=$(( tiles < 10 ? tiles : 10 ))
rows=$(( (tiles + cols - 1) / cols ))
x264=(-c:v libx264 -preset "$preset" -profile:v high -pix_fmt yuv420p -g 120 -sc_threshold 0
      -force_key_frames "expr:gte(t,n_forced*2)")
aac=(-c:a aac -b:a 128k -ac 2)
tee_of() {  # tee_of <rendition>
  echo "[f=mp4:movflags=+faststart]$1/video_$1.mp4|[f=hls:hls_time=4:hls_playlist_type=vod:hls_list_size=0:hls_flags=independent_segments:hls_segment_type=fmp4:hls_segment_filename=$1/segments/segment_%05d.m4s:hls_fmp4_init_filename=init.mp4]$1/segments/playlist.m3u8"
}
ff=(nice -n "$nice_level" ffmpeg -hide_banner -nostdin -y -loglevel error)

run_wharf() {  # in an empty dir
  # transcode_bench nices its own children (the job's setting): not niced twice.
  "$bench_bin" "$src" "$PWD/scratch" "$preset" 0 > wharf.json
}

run_per_rendition() {
  mkdir -p 360p/segments 720p/segments audio thumbnails
  "${ff[@]}" -i "$src" -map 0:v:0 -map 0:a:0 -vf scale=640:360,setsar=1 "${x264[@]}" \
    -b:v 800k -maxrate 1200k -bufsize 1600k "${aac[@]}" -f tee "$(tee_of 360p)"
  "${ff[@]}" -i "$src" -map 0:v:0 -map 0:a:0 -vf scale=1280:720,setsar=1 "${x264[@]}" \
    -b:v 2800k -maxrate 4200k -bufsize 5600k "${aac[@]}" -f tee "$(tee_of 720p)"
  "${ff[@]}" -i "$src" -map 0:a:0 -vn -c:a libmp3lame -b:a 128k audio/audio.mp3
  "${ff[@]}" -i "$src" -filter_complex \
    "[0:v]split=2[a][b];[a]select='gte(t,$poster_at)*eq(selected_n,0)',scale=1280:720[p];[b]fps=1/$interval,scale=160:90,tile=${cols}x${rows}[s]" \
    -map '[p]' -frames:v 1 -update 1 -q:v 2 thumbnails/poster.jpg -map '[s]' -frames:v 1 -update 1 -q:v 4 thumbnails/sprite.jpg
}

run_single() {
  hand_single "$src" "$preset" "$nice_level" "$clip_seconds"
}

busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# measure <method> <rep>: one run in a fresh folder; appends a line to runs.tsv.
measure() {
  local m=$1 rep=$2 dir=$out/run-$1-$2
  mkdir -p "$dir"
  local before after
  before=$(busy_jiffies)
  ( cd "$dir" && /usr/bin/time -f '%e %U %S' -o "$dir/time.txt" bash -c "$(declare -f run_"$m"); $(declare -p src bench_bin preset nice_level poster_at interval cols rows x264 aac ff clip_seconds); $(declare -f tee_of hand_single); run_$m" )
  after=$(busy_jiffies)
  read -r wall user sys < "$dir/time.txt"
  local hz files
  hz=$(getconf CLK_TCK)
  files=$(find "$dir" -type f \( -name '*.mp4' -o -name '*.m4s' -o -name '*.m3u8' -o -name '*.mp3' -o -name '*.jpg' \) | wc -l)
  if [ "$m" = wharf ]; then files=$(python3 -c "import json; print(json.load(open('$dir/wharf.json'))['media_files'])"); fi
  # CPU other processes used meanwhile: the box's busy time minus ours (2 cores shared).
  local other
  other=$(awk -v b="$before" -v a="$after" -v hz="$hz" -v u="$user" -v s="$sys" 'BEGIN { o = (a - b) / hz - u - s; if (o < 0) o = 0; printf "%.1f", o }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$rep" "$wall" "$user" "$sys" "$files" "$other" >> "$out/runs.tsv"
  printf '  %-14s rep %s: %7.1f s wall, %7.1f CPU-s, %s files, other processes %s CPU-s\n' "$m" "$rep" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$files" "$other"
  # Keep one rep's outputs for inspection; the rest would fill the disk.
  [ "$rep" = 1 ] || rm -rf "$dir"/360p "$dir"/720p "$dir"/audio "$dir"/thumbnails "$dir"/scratch
}

methods=(wharf per_rendition single)
printf 'method\trep\twall_s\tuser_s\tsys_s\tfiles\tother_cpu_s\n' > "$out/runs.tsv"
echo "transcode benchmark: ${clip_seconds} s 1080p source, preset $preset, $reps reps, results in $out"
for ((rep = 1; rep <= reps; rep++)); do
  # Interleaved, the order rotated each rep: A B C, B C A, C A B.
  for ((i = 0; i < ${#methods[@]}; i++)); do
    m=${methods[$(( (i + rep - 1) % ${#methods[@]} ))]}
    measure "$m" "$rep"
  done
done

python3 - "$out/runs.tsv" <<'EOF' | tee "$out/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["method"], []).append(r)
med = {}
print(f"{'method':<14} {'wall s (median)':>16} {'CPU-s (median)':>15} {'files':>6}   walls / CPU-s per rep")
for m in ("wharf", "per_rendition", "single"):
    rs = by.get(m, [])
    if not rs:
        continue
    walls = [float(r["wall_s"]) for r in rs]
    cpus = [float(r["user_s"]) + float(r["sys_s"]) for r in rs]
    med[m] = (statistics.median(walls), statistics.median(cpus))
    print(f"{m:<14} {med[m][0]:>16.1f} {med[m][1]:>15.1f} {rs[0]['files']:>6}   "
          + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in zip(walls, cpus)))
if "wharf" in med:
    for other, target in (("per_rendition", "target <= 0.75x"), ("single", "target <= 1.05x")):
        if other in med:
            print(f"wharf / {other}: wall {med['wharf'][0] / med[other][0]:.2f}x, CPU {med['wharf'][1] / med[other][1]:.2f}x ({target} wall)")
busy = [r for r in rows if float(r["other_cpu_s"]) > 0.1 * float(r["wall_s"]) * 2]
if busy:
    print("runs where other processes used over 10 % of the box: " + ", ".join(f"{r['method']} rep {r['rep']} ({r['other_cpu_s']} CPU-s)" for r in busy))
EOF
