// The `transcode` job type: a video (a local file or a stored object) becomes renditions, HLS
// playlists, audio, thumbnails and metadata in storage. One ffmpeg process decodes the source once
// and encodes every rendition (wharf/media/ffmpeg_command.hpp); every output is checked
// (wharf/media/verify.hpp) and stored through the one storing path (storing.hpp).
//
// Payload:
//   {"source": "/path/to/file"                      a local file under local_source_roots, or
//              | {"provider": "s3-main", "key": "videos/v1/raw.mp4",
//                 "sha256": "<hex>"},               a stored object (sha256 optional: must match)
//    "video_id": "v1",                              required; names the default prefix
//    "output_prefix": "processed/v1/",              optional; default processed/<video_id>/ (a
//                                                   pipeline passes temp/<pipeline-id>/...)
//    "renditions": ["360p"],                        optional: a subset of the configured ladder
//                                                   (the per-rendition fan-out); default all
//    "hls": true, "audio": true,                    optional switches, all true by default:
//    "thumbnails": true, "metadata": true,          HLS playlists, audio/audio.mp3, thumbnails/,
//    "master": true                                 metadata.json, hls/master.m3u8 (a fan-out
//                                                   part sets master false: its join writes it)
//    "segment_seconds": 4,                          optional: HLS segment length (a whole number
//                                                   of keyframe intervals; default from settings)
//    "hls_format": "fmp4" | "ts",                   optional; default from settings
//    "strict": false,                               optional: any decode error fails the job
//    "provider": "s3-main",                         optional: store there or fail
//    "api_key": "tenant-1",                         optional: the envelope's api_key wins; both
//                                                   must agree
//    "presign_expires": 3600}                       optional: seconds, 1 s .. 7 days
//
// Outputs under the prefix: <r>/video_<r>.mp4 for each rendition r, <r>/segments/playlist.m3u8
// with its segments (and init.mp4 for fMP4), hls/master.m3u8, audio/audio.mp3 (an audio-only
// source gets audio/segments/ as its HLS rendition), thumbnails/poster.jpg, thumbnails/sprite.jpg,
// thumbnails/sprite.vtt, metadata.json (ffprobe's format and streams, plus what wharf derived).
//
// Result:
//   {"video_id", "output_prefix", "duration",
//    "renditions": [{"name", "rung", "width", "height", "bandwidth", "average_bandwidth", "codecs",
//                    "frame_rate", "video_bitrate", "duration", "mp4_key", "playlist_key"}],
//    "skipped": [{"rung", "reason"}],       rungs of the ladder the source is too small for
//    "master_playlist_key", "audio_key", "metadata_key",
//    "thumbnails": {"poster_key", "sprite_key", "vtt_key", "interval", "tiles", "columns", "rows",
//                   "tile_width", "tile_height"},
//    "artifacts": [{"kind", "rendition"?, "provider", "bucket", "key", "size", "sha256", "etag",
//                   "duplicate", "presigned_url", "expires_in"}],   (segments without URLs)
//    "metadata": {...},                     what wharf derived from the probe
//    "timings": {"fetch", "probe", "encode", "verify", "store"},   seconds per phase
//    "stored_while_encoding": 30}           segments stored before ffmpeg had finished
// A rendition's description is enough to write a master playlist (media::variant_from_result).
//
// Success needs ffmpeg's exit 0, its progress=end, and outputs that probe right: H.264 at the
// planned size (+ AAC), MP3, images at their sizes, each duration and each playlist's segments
// within 1 % of the input's. Errors: a bad payload, a source that is not media (ffprobe's
// reason), a decode failure (ffmpeg's last stderr lines) or outputs that do not match are
// permanent; a stall (no progress for transcode_stall_timeout), a signal from elsewhere, a
// storage hiccup are retried. Timeout and cancellation stop ffmpeg's process group (SIGTERM,
// SIGKILL 10 s later) before the job ends; its scratch folder is removed however it ends.
#pragma once

#include "storing.hpp"
#include "wharf/media/ffmpeg_command.hpp"
#include "wharf/media/ladder.hpp"
#include "wharf/media/thumbnails.hpp"
#include "wharf/worker/registry.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf::worker {

// A worker's transcode settings (transcode_option_specs).
struct transcode_settings {
    media::ladder ladder = media::default_ladder();
    media::encode_settings encode;  // ffmpeg, preset, threads, keyframes, segments, HLS format
    media::thumbnail_settings thumbnails;
    std::string ffprobe = "ffprobe";
    int nice = 10;
    std::chrono::milliseconds stall_timeout{120'000};
    std::chrono::milliseconds kill_grace{10'000};
    std::size_t parallel_uploads = 4;
    bool store_while_encoding = true;  // finished HLS segments stored during the encode
    std::chrono::milliseconds segment_poll{1000};  // how often the encode's folders are looked at
};

// transcode_ladder, transcode_threads, transcode_nice, transcode_stall_timeout,
// transcode_segment_seconds, transcode_hls_format, ...: add them to the worker's specs.
std::vector<wharf::option_spec> transcode_option_specs();
// Throws config_error naming the setting.
transcode_settings transcode_settings_from(const wharf::config& cfg);

// A parsed, validated payload. parse_transcode_request throws permanent_error with a readable
// reason for a bad one.
struct transcode_request {
    payload_source source;                      // a local path, or a stored object...
    std::optional<std::string> source_sha256;   // ...with the SHA-256 it must have
    std::string video_id;
    std::string output_prefix;  // ends with '/'
    std::vector<std::string> renditions;
    bool hls = true, audio = true, thumbnails = true, metadata = true, strict = false;
    bool master = true;  // write hls/master.m3u8 (a fan-out part does not: its join writes it)
    double segment_seconds = 0;  // 0: the settings'
    std::optional<media::hls_format> hls_format;
    std::optional<std::string> provider, api_key;
    std::chrono::seconds presign_expires = storage::default_presign_expiry;
};
transcode_request parse_transcode_request(const nlohmann::json& payload,
                                          const std::optional<std::string>& envelope_api_key,
                                          const transcode_settings& settings);

// The `transcode` job type (3 attempts, 2 h timeout, retries from 10 s to 10 min).
job_type transcode_job_type(std::shared_ptr<storage_services> services, transcode_settings settings);
// registry.add(transcode_job_type(services, settings)).
void register_transcode_job(job_registry& registry, std::shared_ptr<storage_services> services,
                            transcode_settings settings);

}  // namespace wharf::worker
