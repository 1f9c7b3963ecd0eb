// HLS and WebVTT text: the master playlist written from rendition descriptions (a pure function,
// so a pipeline can write one master from several jobs' results), the reader of the VOD media
// playlists ffmpeg writes (bounded), bandwidth measured from the segments, RFC 6381 codec
// strings, and the WebVTT index of a thumbnail sprite.
#pragma once

#include "wharf/media/error.hpp"
#include "wharf/media/thumbnails.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::media {

// One EXT-X-STREAM-INF entry.
struct variant {
    std::string uri;                     // relative to the master playlist
    std::int64_t bandwidth = 0;          // peak bits/s
    std::int64_t average_bandwidth = 0;  // 0: left out
    int width = 0, height = 0;           // 0: no RESOLUTION (audio only)
    std::string codecs;                  // "avc1.64001f,mp4a.40.2"
    double frame_rate = 0;               // 0: left out
};

// The master playlist: variants ordered by bandwidth (then name), INDEPENDENT-SEGMENTS (every
// segment starts with a keyframe). Throws std::invalid_argument for a variant the format cannot
// carry (a URI or codecs with a quote or a line break, a bandwidth of 0).
std::string master_playlist(std::vector<variant> variants);

// A rendition as a job's result describes it ({"name", "width", "height", "bandwidth",
// "average_bandwidth", "codecs", "frame_rate", "playlist_key"}) -> a variant whose URI is the
// playlist key relative to `master_key` ("processed/v/hls/master.m3u8" + "processed/v/360p/
// segments/playlist.m3u8" -> "../360p/segments/playlist.m3u8"). errc::bad_playlist for a
// description without those fields.
result<variant> variant_from_result(const nlohmann::json& rendition, std::string_view master_key);

// The path of `target` relative to the folder of `from` (both keys with '/' separators).
std::string relative_key(std::string_view from, std::string_view target);

struct segment {
    std::string uri;
    double duration = 0;
};

struct media_playlist {
    double target_duration = 0;
    std::optional<std::string> map_uri;  // EXT-X-MAP (fMP4 init segment)
    std::vector<segment> segments;
    bool ended = false;  // EXT-X-ENDLIST
    double total_duration() const;
};

struct playlist_limits {
    std::size_t max_bytes = 8u << 20;
    std::size_t max_line = 4096;
    std::size_t max_segments = 200'000;
};

// Reads a VOD media playlist. Segment and map URIs must be plain file names in the playlist's
// folder (no '/', no "..", no scheme): that is what ffmpeg writes here, and what lets a reader of
// the result check that each exists.
result<media_playlist> parse_media_playlist(std::string_view text, const playlist_limits& limits = {});

// The same media playlist with every URI (each segment's, the EXT-X-MAP init segment's) replaced
// by uri_of(uri): presigned URLs, so that a player can follow it out of a private bucket, where a
// relative URI would be fetched unsigned. The text must be one parse_media_playlist accepts; the
// new URIs must not hold a line break or a double quote.
result<std::string> rewrite_media_playlist(std::string_view text,
                                           const std::function<std::string(std::string_view)>& uri_of,
                                           const playlist_limits& limits = {});

struct bandwidth {
    std::int64_t peak = 0;     // the highest segment bitrate (segments shorter than half the
                               // target duration are left out unless all are)
    std::int64_t average = 0;  // all bytes over all seconds
};
// `sizes[i]` is the byte size of playlist.segments[i].
bandwidth measure_bandwidth(const media_playlist& playlist, std::span<const std::uint64_t> sizes);

// "avc1.64001f" from ffprobe's profile name and level of an x264 stream (x264 sets
// constraint_set0 for Baseline, set1 for Baseline and Main); nullopt for a profile not known.
std::optional<std::string> avc_codec_string(std::string_view profile, int level);
// "mp4a.40.2" (AAC LC), "mp4a.40.5" (HE-AAC), "mp4a.40.29" (HE-AACv2), "mp4a.40.34" (MP3).
std::optional<std::string> audio_codec_string(std::string_view codec, std::string_view profile);

// WebVTT: one cue per tile, "sprite.jpg#xywh=x,y,w,h", the last ending at `duration`.
std::string sprite_vtt(const thumbnail_plan& plan, std::string_view sprite_uri, double duration);

}  // namespace wharf::media
