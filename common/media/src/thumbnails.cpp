// The thumbnail planner (see thumbnails.hpp).
#include "wharf/media/thumbnails.hpp"

#include "wharf/media/ladder.hpp"

#include <algorithm>
#include <cmath>

namespace wharf::media {
namespace {

// The size of a w x h picture fitted in a box x box square, even, never larger than it was.
std::pair<int, int> fit(int w, int h, int box) {
    const double scale = std::min(1.0, static_cast<double>(box) / std::max(w, h));
    return {std::min(round_even(w * scale), std::max(2, w - w % 2)), std::min(round_even(h * scale), std::max(2, h - h % 2))};
}

}  // namespace

std::optional<thumbnail_plan> plan_thumbnails(const media_info& source, const thumbnail_settings& s) {
    if (!source.video || source.video->display_width < 2 || source.video->display_height < 2 || !(source.duration > 0))
        return std::nullopt;
    const auto& v = *source.video;
    thumbnail_plan p;
    const double fps = v.frame_rate.value();
    const double frame = fps > 0 ? 1.0 / fps : 0.0;
    const double last_frame = std::max(0.0, source.duration - frame);
    p.poster_at = std::min(s.poster_at_most, source.duration / 2);
    p.poster_at = std::min(p.poster_at, last_frame);
    p.poster_at = std::floor(p.poster_at * 1000) / 1000;  // milliseconds, so the filter text is exact
    std::tie(p.poster_width, p.poster_height) = fit(v.display_width, v.display_height, s.poster_box);
    std::tie(p.tile_width, p.tile_height) = fit(v.display_width, v.display_height, s.tile_box);

    const int max_tiles = std::max(1, s.max_tiles);
    p.interval = std::max(std::ceil(s.min_interval), std::ceil(source.duration / max_tiles));
    if (!(p.interval >= 1)) p.interval = 1;
    p.tiles = static_cast<int>(std::min<double>(max_tiles, std::floor(last_frame / p.interval) + 1));
    p.columns = std::clamp(s.columns, 1, p.tiles);
    p.rows = (p.tiles + p.columns - 1) / p.columns;
    return p;
}

}  // namespace wharf::media
