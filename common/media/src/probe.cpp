// ffprobe's JSON into a media description, and the checks a source must pass.
#include "wharf/media/probe.hpp"

#include "wharf/core/json.hpp"
#include "numbers.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

namespace wharf::media {
namespace {

using nlohmann::json;

problem bad_output(std::string what) { return problem{errc::bad_probe_output, "ffprobe output: " + std::move(what)}; }

// ffprobe writes most numbers as strings ("3.000000", "N/A"); a few as numbers.
std::optional<double> number(const json& obj, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (it->is_number()) {
        const double v = it->get<double>();
        return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
    }
    if (it->is_string()) return detail::parse_double(it->get_ref<const std::string&>());
    return std::nullopt;
}

std::optional<std::int64_t> integer(const json& obj, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_number_unsigned()) {
        const auto v = it->get<std::uint64_t>();
        return v <= static_cast<std::uint64_t>(INT64_MAX) ? std::optional<std::int64_t>(v) : std::nullopt;
    }
    if (it->is_string()) return detail::parse_int(it->get_ref<const std::string&>());
    return std::nullopt;
}

std::string text(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// "30000/1001" (ffprobe's frame rates and aspect ratios use '/', display_aspect_ratio ':').
std::optional<rational> ratio(const json& obj, const char* key) {
    const std::string s = text(obj, key);
    const auto sep = s.find_first_of("/:");
    if (sep == std::string::npos) return std::nullopt;
    const auto num = detail::parse_int(std::string_view(s).substr(0, sep));
    const auto den = detail::parse_int(std::string_view(s).substr(sep + 1));
    if (!num || !den) return std::nullopt;
    return rational{*num, *den};
}

// Clockwise degrees the player turns the picture: the display matrix's rotation is
// counter-clockwise (ffmpeg 5.1 prints -90 for a phone held upright), the legacy rotate tag
// clockwise.
int rotation_of(const json& stream) {
    double ccw = 0;
    bool found = false;
    if (const auto it = stream.find("side_data_list"); it != stream.end() && it->is_array()) {
        for (const auto& sd : *it) {
            if (!sd.is_object()) continue;
            if (auto r = number(sd, "rotation")) {
                ccw = *r;
                found = true;
                break;
            }
        }
    }
    if (!found) {
        if (const auto it = stream.find("tags"); it != stream.end() && it->is_object()) {
            if (auto r = number(*it, "rotate")) ccw = -*r;
        }
    }
    if (!std::isfinite(ccw) || std::fabs(ccw) > 1e6) return 0;
    const long quarter = std::lround(-ccw / 90.0);
    return static_cast<int>(((quarter % 4) + 4) % 4) * 90;
}

bool is_cover_picture(const json& stream) {
    const auto it = stream.find("disposition");
    if (it == stream.end() || !it->is_object()) return false;
    const auto pic = integer(*it, "attached_pic");
    return pic && *pic != 0;
}

int clamp_int(std::optional<std::int64_t> v) {
    if (!v || *v < 0) return 0;
    return *v > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(*v);
}

video_stream video_of(const json& s) {
    video_stream v;
    v.index = clamp_int(integer(s, "index"));
    v.codec = text(s, "codec_name");
    v.profile = text(s, "profile");
    v.pix_fmt = text(s, "pix_fmt");
    if (auto level = integer(s, "level"); level && *level > 0 && *level < 1000) v.level = static_cast<int>(*level);
    v.width = clamp_int(integer(s, "width"));
    v.height = clamp_int(integer(s, "height"));
    v.rotation = rotation_of(s);
    if (auto sar = ratio(s, "sample_aspect_ratio"); sar && sar->positive()) v.sample_aspect = *sar;
    if (auto fr = ratio(s, "avg_frame_rate"); fr && fr->positive()) v.frame_rate = *fr;
    else if (auto r = ratio(s, "r_frame_rate"); r && r->positive()) v.frame_rate = *r;
    if (auto d = number(s, "duration"); d && *d >= 0) v.duration = d;
    if (auto b = integer(s, "bit_rate"); b && *b > 0) v.bit_rate = b;
    // Square pixels, then upright. The width is what changes with the sample aspect.
    double w = v.width;
    const double sar = v.sample_aspect.value();
    if (sar > 0.01 && sar < 100) w = w * sar;
    const int dw = static_cast<int>(std::lround(std::min(w, 1e9)));
    v.display_width = v.rotation % 180 == 0 ? dw : v.height;
    v.display_height = v.rotation % 180 == 0 ? v.height : dw;
    return v;
}

audio_stream audio_of(const json& s) {
    audio_stream a;
    a.index = clamp_int(integer(s, "index"));
    a.codec = text(s, "codec_name");
    a.profile = text(s, "profile");
    a.channels = clamp_int(integer(s, "channels"));
    a.sample_rate = clamp_int(integer(s, "sample_rate"));
    if (auto d = number(s, "duration"); d && *d >= 0) a.duration = d;
    if (auto b = integer(s, "bit_rate"); b && *b > 0) a.bit_rate = b;
    return a;
}

}  // namespace

result<probe_report> parse_probe(std::string_view text_in, const probe_limits& limits) {
    auto parsed = parse_json(text_in, {.max_bytes = limits.max_bytes, .max_depth = limits.max_depth});
    if (!parsed) return bad_output(parsed.error);
    json& doc = parsed.value;
    if (!doc.is_object()) return bad_output("not a JSON object");
    probe_report report;
    media_info& m = report.info;
    const auto streams = doc.find("streams");
    const auto format = doc.find("format");
    if (streams != doc.end() && !streams->is_array()) return bad_output("\"streams\" is not an array");
    if (format != doc.end() && !format->is_object()) return bad_output("\"format\" is not an object");
    if (streams == doc.end() && format == doc.end()) return bad_output("neither \"format\" nor \"streams\"");

    double longest = 0;
    if (streams != doc.end()) {
        if (streams->size() > limits.max_streams)
            return bad_output(fmt::format("{} streams (at most {})", streams->size(), limits.max_streams));
        m.stream_count = streams->size();
        for (const auto& s : *streams) {
            if (!s.is_object()) return bad_output("a stream is not an object");
            const std::string type = text(s, "codec_type");
            if (type == "video" && !m.video && !is_cover_picture(s)) m.video = video_of(s);
            else if (type == "audio" && !m.audio) m.audio = audio_of(s);
            if (auto d = number(s, "duration"); d && *d > longest) longest = *d;
        }
    }
    if (format != doc.end()) {
        m.format_name = text(*format, "format_name");
        if (auto d = number(*format, "duration"); d && *d > 0) m.duration = *d;
        if (auto st = number(*format, "start_time")) m.start_time = st;
        if (auto size = integer(*format, "size"); size && *size >= 0) m.size = static_cast<std::uint64_t>(*size);
        if (auto b = integer(*format, "bit_rate"); b && *b > 0) m.bit_rate = b;
    }
    if (m.duration <= 0) m.duration = longest;
    report.raw = json::object();
    report.raw["format"] = format != doc.end() ? std::move(*format) : json::object();
    report.raw["streams"] = streams != doc.end() ? std::move(*streams) : json::array();
    return report;
}

std::vector<std::string> ffprobe_argv(const std::string& ffprobe, const std::filesystem::path& input) {
    // "file:" keeps a name with a colon from being read as a protocol.
    return {ffprobe, "-v", "error", "-hide_banner", "-of", "json", "-show_format", "-show_streams",
            "file:" + input.string()};
}

result<void> validate_source(const media_info& m, bool require_video, const source_limits& limits) {
    const bool video = m.video && !m.video->codec.empty();
    const bool audio = m.audio && !m.audio->codec.empty();
    if (!video && !audio) {
        if (m.video || m.audio)
            return problem{errc::undecodable, "no stream ffprobe can decode (unknown codec)"};
        return problem{errc::no_media_stream,
                       fmt::format("no video or audio stream ({} streams, format {})", m.stream_count,
                                   m.format_name.empty() ? "unknown" : m.format_name)};
    }
    if (require_video && !video)
        return problem{errc::no_video_stream,
                       m.video ? "the video stream cannot be decoded (unknown codec)" : "no video stream"};
    if (!(m.duration > 0))
        return problem{errc::zero_duration, "the duration is zero or unknown"};
    if (m.duration > limits.max_duration)
        return problem{errc::zero_duration,
                       fmt::format("the duration of {:.0f} s is over the limit of {:.0f} s", m.duration,
                                   limits.max_duration)};
    if (video) {
        const auto& v = *m.video;
        const int w = v.display_width, h = v.display_height;
        if (w < limits.min_side || h < limits.min_side || w > limits.max_side || h > limits.max_side)
            return problem{errc::absurd_dimensions,
                           fmt::format("the video is {}x{}: each side must be {} to {} pixels", w, h, limits.min_side,
                                       limits.max_side)};
        if (static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(h) > limits.max_pixels)
            return problem{errc::absurd_dimensions,
                           fmt::format("the video is {}x{}: more than {} pixels", w, h, limits.max_pixels)};
        const double fps = v.frame_rate.value();
        if (!(fps > 0) || fps > limits.max_frame_rate)
            return problem{errc::absurd_frame_rate,
                           fmt::format("the frame rate {}/{} is not between 0 and {}", v.frame_rate.num,
                                       v.frame_rate.den, limits.max_frame_rate)};
    }
    return {};
}

nlohmann::json derived_json(const media_info& m) {
    json d = {{"duration", m.duration}, {"format", m.format_name}, {"has_video", m.video.has_value()},
              {"has_audio", m.audio.has_value()}};
    if (m.size) d["size"] = *m.size;
    if (m.bit_rate) d["bit_rate"] = *m.bit_rate;
    if (m.video) {
        const auto& v = *m.video;
        d["video"] = {{"codec", v.codec},
                      {"profile", v.profile},
                      {"pix_fmt", v.pix_fmt},
                      {"width", v.width},
                      {"height", v.height},
                      {"rotation", v.rotation},
                      {"sample_aspect_ratio", fmt::format("{}:{}", v.sample_aspect.num, v.sample_aspect.den)},
                      {"display_width", v.display_width},
                      {"display_height", v.display_height},
                      {"orientation", v.display_height > v.display_width ? "portrait" : "landscape"},
                      {"frame_rate", v.frame_rate.value()}};
    }
    if (m.audio) {
        const auto& a = *m.audio;
        d["audio"] = {{"codec", a.codec}, {"channels", a.channels}, {"sample_rate", a.sample_rate}};
    }
    return d;
}

}  // namespace wharf::media
