// What ffprobe says about a file: `ffprobe -of json -show_format -show_streams` output parsed into
// a media description (through the bounded JSON parser), and the checks a source must pass
// before anything is planned for it. Pure: the caller runs ffprobe.
#pragma once

#include "wharf/media/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::media {

struct rational {
    std::int64_t num = 0;
    std::int64_t den = 1;
    bool positive() const noexcept { return num > 0 && den > 0; }
    double value() const noexcept { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }
    friend bool operator==(const rational&, const rational&) = default;
};

struct video_stream {
    int index = 0;
    std::string codec;    // codec_name ("h264"); empty when ffprobe could not identify it
    std::string profile;  // "High", "Constrained Baseline", ...
    std::string pix_fmt;
    std::optional<int> level;
    int width = 0, height = 0;      // the coded picture
    int rotation = 0;               // clockwise degrees the player turns it: 0, 90, 180 or 270
    rational sample_aspect{1, 1};   // of one pixel; 1:1 when unknown
    rational frame_rate;            // avg_frame_rate, else r_frame_rate; 0/1 when unknown
    std::optional<double> duration;
    std::optional<std::int64_t> bit_rate;
    // The picture as shown, which is what ffmpeg's filters see (it turns rotated video upright
    // by default) once the pixels are made square: rotation and sample aspect applied.
    int display_width = 0, display_height = 0;
};

struct audio_stream {
    int index = 0;
    std::string codec;
    std::string profile;
    int channels = 0;
    int sample_rate = 0;
    std::optional<double> duration;
    std::optional<std::int64_t> bit_rate;
};

struct media_info {
    std::string format_name;  // "mov,mp4,m4a,3gp,3g2,mj2"
    double duration = 0;      // seconds: the format's, else the longest stream's; 0 when unknown
    std::optional<double> start_time;
    std::optional<std::uint64_t> size;
    std::optional<std::int64_t> bit_rate;
    std::optional<video_stream> video;  // the first video stream that is not a cover picture
    std::optional<audio_stream> audio;  // the first audio stream
    std::size_t stream_count = 0;
};

struct probe_limits {
    std::size_t max_bytes = 4u << 20;  // ffprobe's JSON; a real file's is a few KiB
    std::size_t max_depth = 16;        // ffprobe nests 5 levels
    std::size_t max_streams = 1024;
};

struct probe_report {
    media_info info;
    nlohmann::json raw;  // {"format": {...}, "streams": [...]} as ffprobe gave them
};

// Parses ffprobe's JSON (errc::bad_probe_output for text that is not it). A stream ffprobe could
// not identify is kept with an empty codec; validate() decides what that means.
result<probe_report> parse_probe(std::string_view ffprobe_json, const probe_limits& limits = {});

// The argv that produces what parse_probe reads.
std::vector<std::string> ffprobe_argv(const std::string& ffprobe, const std::filesystem::path& input);

struct source_limits {
    int min_side = 16;
    int max_side = 16384;
    std::uint64_t max_pixels = 40'000'000;  // 8K UHD is 33.2 million
    double max_frame_rate = 480;
    double max_duration = 7 * 24 * 3600.0;
};

// Whether a source can be transcoded: a known video stream with sane dimensions and frame rate,
// a known audio stream, or both; a positive duration. `require_video`: an audio-only source is
// refused too (errc::no_video_stream). The message says what is wrong, with the numbers.
result<void> validate_source(const media_info& m, bool require_video, const source_limits& limits = {});

// {"duration", "width", "height", "display_width", "display_height", "rotation", "frame_rate",
//  "video_codec", "audio_codec", "channels", "sample_rate", ...}: what wharf derived from the probe.
nlohmann::json derived_json(const media_info& m);

}  // namespace wharf::media
