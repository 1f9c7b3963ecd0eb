// The argv of the ONE ffmpeg process that makes a source's outputs: it decodes the source once,
// splits the picture (filter `split`) into every rendition and the thumbnails, and encodes each
// rendition once, H.264 (libx264) + AAC, into both its MP4 (+faststart) and its HLS media
// playlist (the `tee` muxer), plus the audio as MP3, a poster and a sprite sheet. Keyframes fall
// every keyframe_seconds at the same timestamps in every rendition (forced by time, scene cut
// off), and HLS segments are a whole number of keyframe intervals. Pure.
//
// Paths are relative to the process's working directory (the job's output folder), so the
// command never quotes a scratch path inside a muxer option. Layout (namespace layout):
//   <r>/video_<r>.mp4, <r>/segments/playlist.m3u8 (+ init.mp4 and segment_NNNNN.m4s|.ts),
//   audio/audio.mp3, audio/segments/playlist.m3u8 (an audio-only source's HLS rendition),
//   thumbnails/poster.jpg, thumbnails/sprite.jpg; wharf writes hls/master.m3u8,
//   thumbnails/sprite.vtt and metadata.json itself.
#pragma once

#include "wharf/media/error.hpp"
#include "wharf/media/ladder.hpp"
#include "wharf/media/probe.hpp"
#include "wharf/media/thumbnails.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::media {

enum class hls_format { fmp4, ts };
std::optional<hls_format> parse_hls_format(std::string_view s);  // "fmp4" | "ts"
std::string_view to_string(hls_format f);

struct encode_settings {
    std::string ffmpeg = "ffmpeg";
    std::string preset = "veryfast";    // x264 preset (PeerTube's default too)
    std::string profile = "high";       // x264 caps the profile at this
    int threads = 0;                    // the whole process's budget; 0: ffmpeg's own choice
    double keyframe_seconds = 2;
    double segment_seconds = 4;         // a whole multiple of keyframe_seconds
    hls_format format = hls_format::fmp4;
    std::int64_t audio_bitrate = 128'000;  // AAC in every rendition
    std::int64_t mp3_bitrate = 128'000;
    double max_frame_rate = 60;         // a faster source is brought down to this
    bool strict = false;                // -xerror -err_detect explode: any decode error fails the run
};

// Why the settings cannot be used (segments not a multiple of keyframes, an unknown preset ...).
result<void> check_settings(const encode_settings& s);

struct encode_request {
    std::filesystem::path input;  // absolute
    media_info source;
    std::vector<rendition> renditions;
    bool hls = true;
    bool audio = true;  // audio/audio.mp3, when the source has audio
    std::optional<thumbnail_plan> thumbnails;
};

namespace layout {
std::string mp4(std::string_view rendition);            // "720p/video_720p.mp4"
std::string segments_dir(std::string_view rendition);   // "720p/segments"
std::string playlist(std::string_view rendition);       // "720p/segments/playlist.m3u8"
inline constexpr std::string_view audio_rendition = "audio";  // an audio-only source's HLS rendition
inline constexpr std::string_view audio_mp3 = "audio/audio.mp3";
inline constexpr std::string_view master = "hls/master.m3u8";
inline constexpr std::string_view poster = "thumbnails/poster.jpg";
inline constexpr std::string_view sprite = "thumbnails/sprite.jpg";
inline constexpr std::string_view sprite_vtt = "thumbnails/sprite.vtt";
inline constexpr std::string_view metadata = "metadata.json";

// The segments ffmpeg has finished, from a listing of a segments folder it is still writing:
// segment_<n> is finished once segment_<n+1> exists (the hls muxer closes a segment before it
// opens the next; a VOD playlist is only written at the end, so it cannot tell). Names that are
// not segment files are ignored; the result is in segment order.
std::vector<std::string> finished_segments(std::span<const std::string> names);
}  // namespace layout

struct ffmpeg_command {
    std::vector<std::string> argv;
    std::vector<std::string> directories;  // relative; to exist before ffmpeg starts
    std::vector<std::string> segment_dirs; // relative; the HLS segment folders among them
    bool audio_rendition = false;          // an audio-only HLS rendition is made
};

// The frame rate the renditions get: the source's, at most max_frame_rate.
double output_frame_rate(const media_info& source, const encode_settings& s);

// Whether the request makes anything at all: a rendition, thumbnails, the MP3 of a source with
// audio, or the HLS audio rendition of an audio-only source. (A fan-out job for a rung the source
// is too small for may make nothing.)
bool makes_anything(const encode_request& r);

// errc::bad_ladder when there is nothing to make or the request does not fit the source.
result<ffmpeg_command> build_ffmpeg_command(const encode_request& r, const encode_settings& s);

// Whether a failed run (non-zero exit) failed because of its input -- retrying gives the same
// failure -- judged from ffmpeg's last stderr lines; otherwise it is worth retrying (a full disk,
// memory, a signal from elsewhere).
bool failed_on_input(std::span<const std::string> stderr_tail);

}  // namespace wharf::media
