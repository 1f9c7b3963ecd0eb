// The thumbnails of a video: a poster frame and a sprite sheet of small frames taken at a fixed
// interval (with a WebVTT index, hls.hpp), planned from the probe. Pure.
#pragma once

#include "wharf/media/probe.hpp"

#include <optional>

namespace wharf::media {

struct thumbnail_settings {
    int poster_box = 1280;        // the poster fits in a box this wide and high (never upscaled)
    double poster_at_most = 5.0;  // seconds: the poster is the frame at min(this, duration / 2)
    int tile_box = 160;           // each sprite tile fits in a box this wide and high
    int columns = 10;
    int max_tiles = 100;
    double min_interval = 2.0;    // seconds between tiles, at least; longer videos get longer ones
};

struct thumbnail_plan {
    double poster_at = 0;  // the first frame at or after this time
    int poster_width = 0, poster_height = 0;
    double interval = 0;   // tile k is the first frame at or after k * interval
    int tiles = 0, columns = 0, rows = 0;
    int tile_width = 0, tile_height = 0;
    friend bool operator==(const thumbnail_plan&, const thumbnail_plan&) = default;
};

// nullopt for a source without video. The tile count is the number of k with k * interval
// before the last frame (duration minus one frame), at most max_tiles; the interval is whole
// seconds, at least min_interval, and long enough for the tiles to span the video.
std::optional<thumbnail_plan> plan_thumbnails(const media_info& source, const thumbnail_settings& s = {});

}  // namespace wharf::media
