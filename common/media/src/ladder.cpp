// The rendition ladder planner (see ladder.hpp).
#include "wharf/media/ladder.hpp"

#include "numbers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace wharf::media {
namespace {

constexpr int min_rung = 16;
constexpr int max_rung = 8640;

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 32) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

rendition make_rendition(std::string name, std::string rung_name, int w, int h, std::int64_t bitrate, bool own) {
    rendition r;
    r.name = std::move(name);
    r.rung = std::move(rung_name);
    r.width = w;
    r.height = h;
    r.video_bitrate = bitrate;
    r.max_bitrate = bitrate + bitrate / 2;
    r.buffer_size = bitrate * 2;
    r.source_size = own;
    return r;
}

}  // namespace

int round_even(double x) {
    if (!(x > 2)) return 2;
    return static_cast<int>(std::lround(x / 2.0)) * 2;
}

ladder default_ladder() { return ladder{{{"360p", 360, 800'000}, {"720p", 720, 2'800'000}}}; }

result<std::int64_t> parse_bitrate(std::string_view text) {
    std::string s = trim(text);
    double scale = 1;
    if (!s.empty() && (s.back() == 'k' || s.back() == 'K')) scale = 1e3, s.pop_back();
    else if (!s.empty() && (s.back() == 'M' || s.back() == 'm')) scale = 1e6, s.pop_back();
    const auto v = detail::parse_double(s);
    if (!v || *v <= 0 || *v * scale < 8'000 || *v * scale > 1e9)
        return problem{errc::bad_ladder, fmt::format("bitrate \"{}\" is not 8k to 1000M bits/s", std::string(text))};
    return static_cast<std::int64_t>(std::llround(*v * scale));
}

result<ladder> parse_ladder(std::string_view spec) {
    ladder l;
    std::set<int> heights;
    std::size_t at = 0;
    while (at <= spec.size()) {
        auto comma = spec.find(',', at);
        if (comma == std::string_view::npos) comma = spec.size();
        const std::string item = trim(spec.substr(at, comma - at));
        at = comma + 1;
        if (item.empty()) continue;
        const auto eq = item.find('=');
        if (eq == std::string::npos)
            return problem{errc::bad_ladder, fmt::format("ladder entry \"{}\" is not <height>p=<bitrate>", item)};
        const std::string name = trim(std::string_view(item).substr(0, eq));
        if (name.size() < 2 || name.back() != 'p' || !valid_name(name))
            return problem{errc::bad_ladder, fmt::format("ladder entry \"{}\": the name must be like 720p", item)};
        const auto height = detail::parse_int(std::string_view(name).substr(0, name.size() - 1));
        if (!height || *height < min_rung || *height > max_rung || *height % 2 != 0)
            return problem{errc::bad_ladder,
                           fmt::format("ladder entry \"{}\": the height must be even, {} to {}", item, min_rung, max_rung)};
        auto bitrate = parse_bitrate(std::string_view(item).substr(eq + 1));
        if (!bitrate) return problem{errc::bad_ladder, fmt::format("ladder entry \"{}\": {}", item, bitrate.error().message)};
        if (!heights.insert(static_cast<int>(*height)).second)
            return problem{errc::bad_ladder, fmt::format("ladder entry \"{}\" appears twice", name)};
        l.rungs.push_back({name, static_cast<int>(*height), *bitrate});
    }
    if (l.rungs.empty()) return problem{errc::bad_ladder, "the ladder has no rungs"};
    std::sort(l.rungs.begin(), l.rungs.end(), [](const rung& a, const rung& b) { return a.height < b.height; });
    return l;
}

std::string to_string(const ladder& l) {
    std::string out;
    for (const auto& r : l.rungs) {
        if (!out.empty()) out += ',';
        if (r.video_bitrate % 1'000'000 == 0) out += fmt::format("{}={}M", r.name, r.video_bitrate / 1'000'000);
        else if (r.video_bitrate % 1'000 == 0) out += fmt::format("{}={}k", r.name, r.video_bitrate / 1'000);
        else out += fmt::format("{}={}", r.name, r.video_bitrate);
    }
    return out;
}

result<rendition_plan> plan_renditions(const media_info& source, const ladder& l, std::span<const std::string> wanted) {
    for (const auto& w : wanted) {
        const bool known = std::any_of(l.rungs.begin(), l.rungs.end(), [&](const rung& r) { return r.name == w; });
        if (!known)
            return problem{errc::unknown_rendition,
                           fmt::format("rendition \"{}\" is not in the ladder ({})", w, to_string(l))};
    }
    const auto is_wanted = [&](const std::string& name) {
        return wanted.empty() || std::find(wanted.begin(), wanted.end(), name) != wanted.end();
    };
    rendition_plan plan;
    if (!source.video) return plan;
    const int dw = source.video->display_width, dh = source.video->display_height;
    if (dw < 2 || dh < 2) return problem{errc::absurd_dimensions, fmt::format("the video is {}x{}", dw, dh)};
    const bool portrait = dh > dw;
    const int short_side = std::min(dw, dh), long_side = std::max(dw, dh);
    const double aspect = static_cast<double>(long_side) / short_side;
    // The long side never grows past the source's (rounded down to even).
    const int long_cap = std::max(2, long_side - long_side % 2);
    const auto sized = [&](int short_px) {
        const int long_px = std::min(round_even(short_px * aspect), long_cap);
        return portrait ? std::pair{short_px, long_px} : std::pair{long_px, short_px};
    };

    bool own_size_done = false;
    const rung* below = nullptr;  // the highest rung the source reaches
    for (const auto& r : l.rungs) {
        if (r.height <= short_side) {
            below = &r;
            if (!is_wanted(r.name)) continue;
            const auto [w, h] = sized(r.height);
            plan.renditions.push_back(make_rendition(r.name, r.name, w, h, r.video_bitrate, r.height == short_side));
            continue;
        }
        // The source is below this rung: its own size once, unless a rung already has that size.
        const int own = std::max(2, short_side - short_side % 2);
        if (!own_size_done && (!below || below->height < own)) {
            own_size_done = true;
            if (!is_wanted(r.name)) continue;
            const auto [w, h] = sized(own);
            const double pixels = static_cast<double>(w) * h;
            const double rung_pixels = static_cast<double>(round_even(r.height * aspect)) * r.height;
            auto bitrate = static_cast<std::int64_t>(std::llround(r.video_bitrate * pixels / rung_pixels));
            if (below) bitrate = std::max(bitrate, below->video_bitrate);
            bitrate = std::clamp<std::int64_t>(bitrate, 8'000, r.video_bitrate);
            plan.renditions.push_back(make_rendition(fmt::format("{}p", own), r.name, w, h, bitrate, true));
            continue;
        }
        own_size_done = true;
        if (is_wanted(r.name))
            plan.skipped.push_back({r.name, fmt::format("the source is {}x{}: {} would be upscaled", dw, dh, r.name)});
    }
    return plan;
}

}  // namespace wharf::media
