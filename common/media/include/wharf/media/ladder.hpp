// The rendition ladder planner: which renditions a source gets, at what size and bitrate. Pure.
//
// Rules: a rung names the short side of the picture ("720p" is 1280x720 landscape, 720x1280
// portrait); the long side keeps the source's display aspect. Nothing is upscaled: a source
// below a rung gets one rendition at its own size instead (named after its short side, with the
// rung's bitrate scaled by pixel count), and the rungs above that are skipped. Every dimension is
// even (H.264 4:2:0 needs it). An audio-only source gets no video renditions.
#pragma once

#include "wharf/media/error.hpp"
#include "wharf/media/probe.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::media {

struct rung {
    std::string name;               // "720p": [a-z0-9_-], used in paths and playlists
    int height = 0;                 // the short side: even, 16..8640
    std::int64_t video_bitrate = 0; // bits/s
    friend bool operator==(const rung&, const rung&) = default;
};

struct ladder {
    std::vector<rung> rungs;  // ascending by height, no two alike
};

// 360p at 800 kb/s and 720p at 2800 kb/s.
ladder default_ladder();

// "360p=800k,720p=2800k,1080p=5M": <short side>p=<bits/s with k or M>, any order (sorted).
result<ladder> parse_ladder(std::string_view spec);
std::string to_string(const ladder& l);

// "128k" -> 128000, "5M" -> 5000000, "800000" -> 800000.
result<std::int64_t> parse_bitrate(std::string_view text);

struct rendition {
    std::string name;  // "720p"; for the source's own size, its short side ("480p")
    std::string rung;  // the rung it stands for ("720p" for a 480p source's own-size rendition)
    int width = 0, height = 0;
    std::int64_t video_bitrate = 0;  // -b:v
    std::int64_t max_bitrate = 0;    // -maxrate (1.5x)
    std::int64_t buffer_size = 0;    // -bufsize (2x)
    bool source_size = false;        // the source's own size, not the rung's
    friend bool operator==(const rendition&, const rendition&) = default;
};

struct skipped_rung {
    std::string rung;
    std::string reason;
};

struct rendition_plan {
    std::vector<rendition> renditions;  // ascending
    std::vector<skipped_rung> skipped;  // rungs that were wanted but would have been upscaled
};

// Plans `source` (its display size; no video: no renditions) on `l`. `wanted`: rung or rendition
// names to keep (empty: every rung); a name the ladder does not have is errc::unknown_rendition.
result<rendition_plan> plan_renditions(const media_info& source, const ladder& l,
                                       std::span<const std::string> wanted = {});

// The even number nearest to x, at least 2.
int round_even(double x);

}  // namespace wharf::media
