# Shell helpers the media benchmarks share (source it): the source clip, and the hand-written
# single ffmpeg command that makes the transcode job's outputs (the peer both benchmarks measure).

# make_source_clip <seconds> <path>: 1080p30 testsrc2 with a 440 Hz stereo tone, H.264 at 8 Mb/s (a
# camera-like bitrate, so decoding costs what a real upload's would), AAC; made once and kept.
make_source_clip() {
  local seconds=$1 path=$2
  [ -f "$path" ] && return 0
  echo "making the ${seconds} s source clip..."
  ffmpeg -hide_banner -nostdin -y -loglevel error \
    -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$seconds" \
    -f lavfi -i "sine=frequency=440:duration=$seconds" \
    -c:v libx264 -preset fast -b:v 8M -maxrate 8M -bufsize 16M -pix_fmt yuv420p \
    -c:a aac -b:a 160k -ac 2 -movflags +faststart "$path.tmp.mp4"
  mv "$path.tmp.mp4" "$path"
}

# hand_single <source> <preset> <nice> <clip seconds>: in the current folder, one ffmpeg making the
# default ladder (360p + 720p as MP4 + HLS fMP4 4 s, keyframes every 2 s), audio/audio.mp3 and the
# thumbnails (poster + sprite) with the numbers the job's plan gives for this source.
hand_single() {
  local src=$1 preset=$2 nice_level=$3 seconds=$4
  local poster_at interval tiles cols rows
  poster_at=$(awk -v d="$seconds" 'BEGIN { p = d / 2; if (p > 5) p = 5; print p }')
  interval=$(awk -v d="$seconds" 'BEGIN { i = 2; if (d / 100 > i) i = int(d / 100 + 0.999); print i }')
  tiles=$(awk -v d="$seconds" -v i="$interval" 'BEGIN { n = int((d - 1 / 30) / i) + 1; if (n > 100) n = 100; print n }')
  cols=$(( tiles < 10 ? tiles : 10 )); rows=$(( (tiles + cols - 1) / cols ))
  local x264=(-c:v libx264 -preset "$preset" -profile:v high -pix_fmt yuv420p -g 120 -sc_threshold 0
              -force_key_frames "expr:gte(t,n_forced*2)")
  local aac=(-c:a aac -b:a 128k -ac 2)
  local tee360="[f=mp4:movflags=+faststart]360p/video_360p.mp4|[f=hls:hls_time=4:hls_playlist_type=vod:hls_list_size=0:hls_flags=independent_segments:hls_segment_type=fmp4:hls_segment_filename=360p/segments/segment_%05d.m4s:hls_fmp4_init_filename=init.mp4]360p/segments/playlist.m3u8"
  local tee720="[f=mp4:movflags=+faststart]720p/video_720p.mp4|[f=hls:hls_time=4:hls_playlist_type=vod:hls_list_size=0:hls_flags=independent_segments:hls_segment_type=fmp4:hls_segment_filename=720p/segments/segment_%05d.m4s:hls_fmp4_init_filename=init.mp4]720p/segments/playlist.m3u8"
  mkdir -p 360p/segments 720p/segments audio thumbnails
  nice -n "$nice_level" ffmpeg -hide_banner -nostdin -y -loglevel error -i "$src" -filter_complex \
    "[0:v]split=4[a][b][c][d];[a]scale=640:360,setsar=1[v360];[b]scale=1280:720,setsar=1[v720];[c]select='gte(t,$poster_at)*eq(selected_n,0)',scale=1280:720[p];[d]fps=1/$interval,scale=160:90,tile=${cols}x${rows}[s]" \
    -map '[v360]' -map 0:a:0 "${x264[@]}" -b:v 800k -maxrate 1200k -bufsize 1600k "${aac[@]}" -f tee "$tee360" \
    -map '[v720]' -map 0:a:0 "${x264[@]}" -b:v 2800k -maxrate 4200k -bufsize 5600k "${aac[@]}" -f tee "$tee720" \
    -map 0:a:0 -vn -c:a libmp3lame -b:a 128k audio/audio.mp3 \
    -map '[p]' -frames:v 1 -update 1 -q:v 2 thumbnails/poster.jpg -map '[s]' -frames:v 1 -update 1 -q:v 4 thumbnails/sprite.jpg
}
