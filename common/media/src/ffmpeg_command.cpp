// The one-process ffmpeg command (see ffmpeg_command.hpp).
#include "wharf/media/ffmpeg_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>

namespace wharf::media {
namespace {

constexpr std::array<std::string_view, 10> presets = {"ultrafast", "superfast", "veryfast", "faster",   "fast",
                                                      "medium",    "slow",      "slower",   "veryslow", "placebo"};
constexpr std::array<std::string_view, 3> profiles = {"baseline", "main", "high"};

// Numbers in filter and option text: shortest exact form, never locale-dependent.
std::string num(double v) { return fmt::format("{}", v); }

std::string kbits(std::int64_t bits) {
    return bits % 1000 == 0 ? fmt::format("{}k", bits / 1000) : fmt::format("{}", bits);
}

void add(std::vector<std::string>& argv, std::initializer_list<std::string> items) {
    argv.insert(argv.end(), items.begin(), items.end());
}

}  // namespace

namespace layout {
std::string mp4(std::string_view r) { return fmt::format("{0}/video_{0}.mp4", r); }
std::string segments_dir(std::string_view r) { return fmt::format("{}/segments", r); }
std::string playlist(std::string_view r) { return fmt::format("{}/segments/playlist.m3u8", r); }

std::vector<std::string> finished_segments(std::span<const std::string> names) {
    // segment_%05d.<m4s|ts>: the number grows past 5 digits on a long video.
    const auto index_of = [](std::string_view name) -> std::optional<std::uint64_t> {
        constexpr std::string_view prefix = "segment_";
        if (!name.starts_with(prefix)) return std::nullopt;
        name.remove_prefix(prefix.size());
        const auto dot = name.find('.');
        if (dot == std::string_view::npos || dot == 0 || dot > 12) return std::nullopt;
        const std::string_view ext = name.substr(dot);
        if (ext != ".m4s" && ext != ".ts") return std::nullopt;
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(name.data(), name.data() + dot, n);
        if (ec != std::errc{} || end != name.data() + dot) return std::nullopt;
        return n;
    };
    std::map<std::uint64_t, std::string> by_index;
    for (const auto& name : names)
        if (const auto n = index_of(name)) by_index.emplace(*n, name);
    std::vector<std::string> finished;
    for (const auto& [n, name] : by_index)
        if (by_index.contains(n + 1)) finished.push_back(name);
    return finished;
}
}  // namespace layout

std::optional<hls_format> parse_hls_format(std::string_view s) {
    if (s == "fmp4") return hls_format::fmp4;
    if (s == "ts") return hls_format::ts;
    return std::nullopt;
}

std::string_view to_string(hls_format f) { return f == hls_format::fmp4 ? "fmp4" : "ts"; }

result<void> check_settings(const encode_settings& s) {
    if (std::find(presets.begin(), presets.end(), s.preset) == presets.end())
        return problem{errc::bad_ladder, fmt::format("x264 preset \"{}\" is not one of ultrafast ... placebo", s.preset)};
    if (std::find(profiles.begin(), profiles.end(), s.profile) == profiles.end())
        return problem{errc::bad_ladder, fmt::format("H.264 profile \"{}\" is not baseline, main or high", s.profile)};
    if (s.threads < 0 || s.threads > 256) return problem{errc::bad_ladder, "threads must be 0 (automatic) to 256"};
    if (!(s.keyframe_seconds >= 0.5 && s.keyframe_seconds <= 20))
        return problem{errc::bad_ladder, "the keyframe interval must be 0.5 to 20 seconds"};
    if (!(s.segment_seconds >= s.keyframe_seconds && s.segment_seconds <= 60))
        return problem{errc::bad_ladder, "HLS segments must be from one keyframe interval to 60 seconds"};
    const double ratio = s.segment_seconds / s.keyframe_seconds;
    if (std::fabs(ratio - std::round(ratio)) > 1e-9)
        return problem{errc::bad_ladder, fmt::format("HLS segments of {} s are not a whole number of keyframe "
                                                     "intervals of {} s",
                                                     num(s.segment_seconds), num(s.keyframe_seconds))};
    if (s.audio_bitrate < 8'000 || s.audio_bitrate > 1'000'000 || s.mp3_bitrate < 8'000 || s.mp3_bitrate > 320'000)
        return problem{errc::bad_ladder, "audio bitrates must be 8k to 320k (MP3) or 1000k (AAC)"};
    if (!(s.max_frame_rate >= 1 && s.max_frame_rate <= 480))
        return problem{errc::bad_ladder, "the frame rate cap must be 1 to 480"};
    return {};
}

double output_frame_rate(const media_info& source, const encode_settings& s) {
    const double fps = source.video ? source.video->frame_rate.value() : 0.0;
    return fps > s.max_frame_rate ? s.max_frame_rate : fps;
}

namespace {
bool has_video(const media_info& m) { return m.video && !m.video->codec.empty(); }
bool has_audio(const media_info& m) { return m.audio && !m.audio->codec.empty(); }
bool makes_mp3(const encode_request& r) { return r.audio && has_audio(r.source); }
bool makes_audio_rendition(const encode_request& r) { return !has_video(r.source) && r.hls && has_audio(r.source); }
}  // namespace

bool makes_anything(const encode_request& r) {
    return !r.renditions.empty() || r.thumbnails || makes_mp3(r) || makes_audio_rendition(r);
}

result<ffmpeg_command> build_ffmpeg_command(const encode_request& r, const encode_settings& s) {
    if (auto ok = check_settings(s); !ok) return ok.error();
    const auto& m = r.source;
    if (!has_video(m) && (!r.renditions.empty() || r.thumbnails))
        return problem{errc::no_video_stream, "renditions or thumbnails were asked of a source without video"};
    const bool mp3 = makes_mp3(r);
    const bool audio_rendition = makes_audio_rendition(r);
    if (!makes_anything(r)) return problem{errc::bad_ladder, "nothing to make: no rendition, thumbnails, audio or HLS"};
    const bool with_audio = has_audio(m);

    ffmpeg_command c;
    auto& a = c.argv;
    add(a, {s.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"});
    if (s.strict) add(a, {"-xerror", "-err_detect", "explode"});
    if (s.threads > 0) add(a, {"-threads", std::to_string(s.threads), "-filter_complex_threads", std::to_string(s.threads)});
    add(a, {"-i", "file:" + r.input.string()});

    const std::string audio_map = with_audio ? fmt::format("0:{}", m.audio->index) : std::string{};
    const int channels = with_audio ? std::clamp(m.audio->channels, 1, 2) : 2;

    // The filter graph: the picture decoded once, split into every consumer.
    const std::size_t branches = r.renditions.size() + (r.thumbnails ? 2 : 0);
    const double fps = output_frame_rate(m, s);
    if (branches > 0) {
        std::string graph = fmt::format("[0:{}]", m.video->index);
        if (m.video->frame_rate.value() > s.max_frame_rate) graph += fmt::format("fps={},", num(s.max_frame_rate));
        graph += fmt::format("split={}", branches);
        for (std::size_t i = 0; i < branches; ++i) graph += fmt::format("[s{}]", i);
        std::size_t b = 0;
        for (std::size_t i = 0; i < r.renditions.size(); ++i, ++b) {
            const auto& rd = r.renditions[i];
            graph += fmt::format(";[s{}]scale={}:{},setsar=1[v{}]", b, rd.width, rd.height, i);
        }
        if (r.thumbnails) {
            const auto& t = *r.thumbnails;
            // Only the frames used are scaled: the first at or after poster_at, and the first at
            // or after each k * interval.
            graph += fmt::format(";[s{}]select='gte(t,{})*eq(selected_n,0)',scale={}:{},setsar=1[poster]", b++,
                                 num(t.poster_at), t.poster_width, t.poster_height);
            graph += fmt::format(";[s{}]select='gte(t,selected_n*{})',scale={}:{},setsar=1,tile={}x{}[sprite]", b++,
                                 num(t.interval), t.tile_width, t.tile_height, t.columns, t.rows);
        }
        add(a, {"-filter_complex", graph});
    }

    const int per_encoder =
        s.threads > 0 ? std::max(1, s.threads / static_cast<int>(std::max<std::size_t>(1, r.renditions.size()))) : 0;
    const int gop = std::max(1, 2 * static_cast<int>(std::ceil(s.keyframe_seconds * (fps > 0 ? fps : 30))));
    const std::string segment_ext = s.format == hls_format::fmp4 ? "m4s" : "ts";
    const auto hls_options = [&](std::string_view name) {
        std::string o = fmt::format("f=hls:hls_time={}:hls_playlist_type=vod:hls_list_size=0:hls_flags=independent_segments:"
                                    "hls_segment_type={}:hls_segment_filename={}/segment_%05d.{}",
                                    num(s.segment_seconds), s.format == hls_format::fmp4 ? "fmp4" : "mpegts",
                                    layout::segments_dir(name), segment_ext);
        if (s.format == hls_format::fmp4) o += ":hls_fmp4_init_filename=init.mp4";
        return o;
    };
    const auto audio_codec = [&] {
        add(a, {"-c:a", "aac", "-b:a", kbits(s.audio_bitrate), "-ac", std::to_string(channels)});
    };

    for (std::size_t i = 0; i < r.renditions.size(); ++i) {
        const auto& rd = r.renditions[i];
        c.directories.push_back(rd.name);
        add(a, {"-map", fmt::format("[v{}]", i)});
        if (with_audio) add(a, {"-map", audio_map});
        add(a, {"-map_metadata", "-1", "-map_chapters", "-1"});
        add(a, {"-c:v", "libx264", "-preset", s.preset, "-profile:v", s.profile, "-pix_fmt", "yuv420p", "-b:v",
                kbits(rd.video_bitrate), "-maxrate", kbits(rd.max_bitrate), "-bufsize", kbits(rd.buffer_size), "-g",
                std::to_string(gop), "-sc_threshold", "0", "-force_key_frames",
                fmt::format("expr:gte(t,n_forced*{})", num(s.keyframe_seconds))});
        if (with_audio) audio_codec();
        if (per_encoder > 0) add(a, {"-threads", std::to_string(per_encoder)});
        if (r.hls) {
            c.directories.push_back(layout::segments_dir(rd.name));
            c.segment_dirs.push_back(layout::segments_dir(rd.name));
            add(a, {"-f", "tee", fmt::format("[f=mp4:movflags=+faststart]{}|[{}]{}", layout::mp4(rd.name),
                                             hls_options(rd.name), layout::playlist(rd.name))});
        } else {
            add(a, {"-f", "mp4", "-movflags", "+faststart", layout::mp4(rd.name)});
        }
    }

    if (audio_rendition) {
        c.audio_rendition = true;
        c.directories.push_back(std::string(layout::audio_rendition));
        c.directories.push_back(layout::segments_dir(layout::audio_rendition));
        c.segment_dirs.push_back(layout::segments_dir(layout::audio_rendition));
        add(a, {"-map", audio_map, "-vn", "-map_metadata", "-1", "-map_chapters", "-1"});
        audio_codec();
        std::string o = hls_options(layout::audio_rendition);
        // The hls muxer takes its own options as -name value pairs when it is not in a tee.
        std::vector<std::string> pairs;
        std::size_t at = 0;
        while (at < o.size()) {
            auto colon = o.find(':', at);
            if (colon == std::string::npos) colon = o.size();
            const std::string kv = o.substr(at, colon - at);
            at = colon + 1;
            const auto eq = kv.find('=');
            add(a, {"-" + kv.substr(0, eq), kv.substr(eq + 1)});
        }
        a.push_back(layout::playlist(layout::audio_rendition));
    }

    if (mp3) {
        c.directories.push_back("audio");
        add(a, {"-map", audio_map, "-vn", "-map_metadata", "-1", "-map_chapters", "-1", "-c:a", "libmp3lame", "-b:a",
                kbits(s.mp3_bitrate), "-f", "mp3", std::string(layout::audio_mp3)});
    }

    if (r.thumbnails) {
        c.directories.push_back("thumbnails");
        add(a, {"-map", "[poster]", "-map_metadata", "-1", "-frames:v", "1", "-update", "1", "-q:v", "2", "-f", "image2",
                std::string(layout::poster)});
        add(a, {"-map", "[sprite]", "-map_metadata", "-1", "-frames:v", "1", "-update", "1", "-q:v", "4", "-f", "image2",
                std::string(layout::sprite)});
    }
    std::sort(c.directories.begin(), c.directories.end());
    c.directories.erase(std::unique(c.directories.begin(), c.directories.end()), c.directories.end());
    return c;
}

bool failed_on_input(std::span<const std::string> tail) {
    // What ffmpeg (5.x) prints when the input itself is at fault: demuxers and decoders.
    static constexpr std::string_view input_markers[] = {
        "Invalid data found when processing input",
        "moov atom not found",
        "error while decoding",
        "Error while decoding",
        "Error splitting the input into NAL units",
        "could not find codec parameters",
        "Could not find codec parameters",
        "does not contain any stream",
        "Invalid NAL unit",
        "decode_slice_header error",
        "corrupt",
        "Header missing",
        "partial file",
        "invalid frame size",
        "Decoder (codec",  // "Decoder (codec none) not found for input stream"
        "Stream map '' matches no streams",
        "matches no streams",
    };
    for (const auto& line : tail)
        for (auto marker : input_markers)
            if (line.find(marker) != std::string::npos) return true;
    return false;
}

}  // namespace wharf::media
