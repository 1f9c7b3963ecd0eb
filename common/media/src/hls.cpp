// HLS playlists and the sprite's WebVTT index (see hls.hpp).
#include "wharf/media/hls.hpp"

#include "numbers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace wharf::media {
namespace {

bool quotable(std::string_view s) { return s.find_first_of("\"\r\n") == std::string_view::npos; }

bool plain_file_name(std::string_view s) {
    if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
    return std::none_of(s.begin(), s.end(), [](char c) {
        return c == '/' || c == '\\' || c == ':' || c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
}

problem bad(std::string what) { return problem{errc::bad_playlist, "media playlist: " + std::move(what)}; }

// The playlist's next line, without its line break (LF or CRLF); none at the end.
std::optional<std::string_view> next_line(std::string_view text, std::size_t& at) {
    if (at >= text.size()) return std::nullopt;
    auto nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

std::string vtt_time(double seconds) {
    const auto ms = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds) * 1000));
    return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
}

}  // namespace

std::string master_playlist(std::vector<variant> variants) {
    std::stable_sort(variants.begin(), variants.end(), [](const variant& a, const variant& b) {
        return a.bandwidth != b.bandwidth ? a.bandwidth < b.bandwidth : a.uri < b.uri;
    });
    std::string out = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n";
    for (const auto& v : variants) {
        if (v.bandwidth <= 0) throw std::invalid_argument("variant " + v.uri + ": BANDWIDTH must be positive");
        if (v.uri.empty() || !quotable(v.uri) || v.uri.front() == '#')
            throw std::invalid_argument("variant URI \"" + v.uri + "\" cannot be written in a playlist");
        if (!quotable(v.codecs)) throw std::invalid_argument("variant " + v.uri + ": CODECS holds a quote or line break");
        out += fmt::format("#EXT-X-STREAM-INF:BANDWIDTH={}", v.bandwidth);
        if (v.average_bandwidth > 0) out += fmt::format(",AVERAGE-BANDWIDTH={}", v.average_bandwidth);
        if (v.width > 0 && v.height > 0) out += fmt::format(",RESOLUTION={}x{}", v.width, v.height);
        if (!v.codecs.empty()) out += fmt::format(",CODECS=\"{}\"", v.codecs);
        if (v.frame_rate > 0) out += fmt::format(",FRAME-RATE={:.3f}", v.frame_rate);
        out += '\n';
        out += v.uri;
        out += '\n';
    }
    return out;
}

std::string relative_key(std::string_view from, std::string_view target) {
    const auto split = [](std::string_view s) {
        std::vector<std::string_view> parts;
        std::size_t at = 0;
        while (at <= s.size()) {
            auto slash = s.find('/', at);
            if (slash == std::string_view::npos) slash = s.size();
            parts.push_back(s.substr(at, slash - at));
            at = slash + 1;
        }
        return parts;
    };
    auto base = split(from);
    base.pop_back();  // the folder of `from`
    const auto to = split(target);
    std::size_t common = 0;
    while (common < base.size() && common + 1 < to.size() && base[common] == to[common]) ++common;
    std::string out;
    for (std::size_t i = common; i < base.size(); ++i) out += "../";
    for (std::size_t i = common; i < to.size(); ++i) {
        out += to[i];
        if (i + 1 < to.size()) out += '/';
    }
    return out;
}

result<variant> variant_from_result(const nlohmann::json& r, std::string_view master_key) {
    if (!r.is_object()) return bad("a rendition description is not an object");
    const auto str = [&](const char* k) -> std::optional<std::string> {
        const auto it = r.find(k);
        if (it == r.end() || !it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    const auto num = [&](const char* k) -> std::optional<double> {
        const auto it = r.find(k);
        if (it == r.end() || !it->is_number()) return std::nullopt;
        const double v = it->get<double>();
        return std::isfinite(v) && v >= 0 && v < 1e15 ? std::optional<double>(v) : std::nullopt;
    };
    const auto key = str("playlist_key");
    const auto bw = num("bandwidth");
    if (!key || key->empty() || !bw || *bw < 1)
        return problem{errc::bad_playlist, "a rendition description needs playlist_key and bandwidth"};
    variant v;
    v.uri = relative_key(master_key, *key);
    v.bandwidth = static_cast<std::int64_t>(*bw);
    v.average_bandwidth = static_cast<std::int64_t>(num("average_bandwidth").value_or(0));
    v.width = static_cast<int>(std::min(num("width").value_or(0), 1e6));
    v.height = static_cast<int>(std::min(num("height").value_or(0), 1e6));
    v.codecs = str("codecs").value_or("");
    v.frame_rate = num("frame_rate").value_or(0);
    if (!quotable(v.uri) || !quotable(v.codecs))
        return problem{errc::bad_playlist, "a rendition's playlist key or codecs cannot be written in a playlist"};
    return v;
}

double media_playlist::total_duration() const {
    double total = 0;
    for (const auto& s : segments) total += s.duration;
    return total;
}

result<media_playlist> parse_media_playlist(std::string_view text, const playlist_limits& limits) {
    if (text.size() > limits.max_bytes) return bad(fmt::format("larger than {} bytes", limits.max_bytes));
    media_playlist p;
    bool pending = false;  // an EXTINF waiting for its URI
    double pending_duration = 0;
    bool first = true;
    std::size_t at = 0;
    while (const auto next = next_line(text, at)) {
        const std::string_view line = *next;
        if (line.size() > limits.max_line) return bad(fmt::format("a line is longer than {} bytes", limits.max_line));
        if (line.empty()) continue;
        if (first) {
            if (line != "#EXTM3U") return bad("it does not start with #EXTM3U");
            first = false;
            continue;
        }
        if (line.starts_with("#EXTINF:")) {
            if (pending) return bad("two #EXTINF without a URI between them");
            std::string_view d = line.substr(8);
            d = d.substr(0, d.find(','));
            const auto v = detail::parse_double(d);
            if (!v || *v < 0 || *v > 1e5) return bad("#EXTINF duration \"" + std::string(d) + "\" is not a duration");
            pending = true;
            pending_duration = *v;
        } else if (line.starts_with("#EXT-X-TARGETDURATION:")) {
            const auto v = detail::parse_double(line.substr(22));
            if (!v || *v < 0 || *v > 1e5) return bad("bad #EXT-X-TARGETDURATION");
            p.target_duration = *v;
        } else if (line.starts_with("#EXT-X-MAP:")) {
            const auto uri = line.find("URI=\"");
            if (uri == std::string_view::npos) return bad("#EXT-X-MAP without URI");
            const auto start = uri + 5;
            const auto end = line.find('"', start);
            if (end == std::string_view::npos) return bad("#EXT-X-MAP URI is not closed");
            const std::string_view name = line.substr(start, end - start);
            if (!plain_file_name(name)) return bad("#EXT-X-MAP URI \"" + std::string(name) + "\" is not a file name");
            p.map_uri = std::string(name);
        } else if (line == "#EXT-X-ENDLIST") {
            p.ended = true;
        } else if (line.front() == '#') {
            continue;  // other tags and comments
        } else {
            if (!pending) return bad("a URI without #EXTINF");
            if (!plain_file_name(line)) return bad("segment URI \"" + std::string(line.substr(0, 64)) + "\" is not a file name");
            if (p.segments.size() >= limits.max_segments) return bad(fmt::format("more than {} segments", limits.max_segments));
            p.segments.push_back({std::string(line), pending_duration});
            pending = false;
        }
    }
    if (first) return bad("empty");
    if (pending) return bad("#EXTINF without a URI at the end");
    return p;
}

result<std::string> rewrite_media_playlist(std::string_view text,
                                           const std::function<std::string(std::string_view)>& uri_of,
                                           const playlist_limits& limits) {
    if (auto parsed = parse_media_playlist(text, limits); !parsed) return parsed.error();
    const auto mapped = [&](std::string_view uri) -> result<std::string> {
        std::string to = uri_of(uri);
        if (to.empty() || to.find_first_of("\r\n\"") != std::string::npos)
            return bad("a URI to write holds a line break or a quote");
        return to;
    };
    std::string out;
    out.reserve(text.size() * 2);
    std::size_t at = 0;
    while (const auto next = next_line(text, at)) {
        const std::string_view line = *next;
        if (line.empty()) continue;
        if (line.starts_with("#EXT-X-MAP:")) {
            // Validated above: URI="<file name>" is there and closed.
            const auto start = line.find("URI=\"") + 5;
            const auto end = line.find('"', start);
            auto uri = mapped(line.substr(start, end - start));
            if (!uri) return uri.error();
            out.append(line.substr(0, start)).append(*uri).append(line.substr(end));
        } else if (line.front() == '#') {
            out.append(line);
        } else {
            auto uri = mapped(line);
            if (!uri) return uri.error();
            out.append(*uri);
        }
        out.push_back('\n');
    }
    return out;
}

bandwidth measure_bandwidth(const media_playlist& playlist, std::span<const std::uint64_t> sizes) {
    bandwidth b;
    const std::size_t n = std::min(sizes.size(), playlist.segments.size());
    double seconds = 0, bits = 0, peak_all = 0, peak_long = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = playlist.segments[i].duration;
        const double seg_bits = static_cast<double>(sizes[i]) * 8;
        seconds += d;
        bits += seg_bits;
        if (d <= 0) continue;
        const double rate = seg_bits / d;
        peak_all = std::max(peak_all, rate);
        if (d >= playlist.target_duration / 2) peak_long = std::max(peak_long, rate);
    }
    // A hostile or broken playlist can claim segments of 1e-300 s: clamp every rate to what an
    // int64 holds (llround of a larger double has no defined result).
    static constexpr double max_rate = 1e18;
    const auto to_bps = [](double rate) { return static_cast<std::int64_t>(std::llround(std::clamp(rate, 0.0, max_rate))); };
    if (seconds > 0) b.average = to_bps(bits / seconds);
    b.peak = to_bps(peak_long > 0 ? peak_long : peak_all);
    b.peak = std::max(b.peak, b.average);
    return b;
}

std::optional<std::string> avc_codec_string(std::string_view profile, int level) {
    if (level <= 0 || level > 255) return std::nullopt;
    struct known {
        std::string_view name;
        unsigned idc, constraints;
    };
    static constexpr known profiles[] = {
        {"Constrained Baseline", 66, 0xC0}, {"Baseline", 66, 0xC0}, {"Main", 77, 0x40},
        {"High", 100, 0x00},           {"High 10", 110, 0x00},   {"High 4:2:2", 122, 0x00},
        {"High 4:4:4 Predictive", 244, 0x00},
    };
    for (const auto& k : profiles)
        if (k.name == profile) return fmt::format("avc1.{:02x}{:02x}{:02x}", k.idc, k.constraints, level);
    return std::nullopt;
}

std::optional<std::string> audio_codec_string(std::string_view codec, std::string_view profile) {
    if (codec == "aac") {
        if (profile == "LC" || profile.empty()) return "mp4a.40.2";
        if (profile == "HE-AAC") return "mp4a.40.5";
        if (profile == "HE-AACv2") return "mp4a.40.29";
        return std::nullopt;
    }
    if (codec == "mp3") return "mp4a.40.34";
    if (codec == "ac3") return "ac-3";
    if (codec == "eac3") return "ec-3";
    return std::nullopt;
}

std::string sprite_vtt(const thumbnail_plan& plan, std::string_view sprite_uri, double duration) {
    std::string out = "WEBVTT\n";
    for (int k = 0; k < plan.tiles; ++k) {
        const double start = k * plan.interval;
        const double end = k + 1 == plan.tiles ? std::max(duration, start) : std::min((k + 1) * plan.interval, std::max(duration, start));
        const int x = (k % plan.columns) * plan.tile_width;
        const int y = (k / plan.columns) * plan.tile_height;
        out += fmt::format("\n{} --> {}\n{}#xywh={},{},{},{}\n", vtt_time(start), vtt_time(end), sprite_uri, x, y,
                           plan.tile_width, plan.tile_height);
    }
    return out;
}

}  // namespace wharf::media
