// Output checks (see verify.hpp).
#include "wharf/media/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace wharf::media {
namespace {

problem mismatch(std::string what) { return problem{errc::output_mismatch, std::move(what)}; }

double frame_seconds(const video_stream& v) {
    const double fps = v.frame_rate.value();
    return fps > 0 ? 1.0 / fps : 0.04;
}

// AAC packets are 1024 samples, MP3 frames 1152.
double audio_packet_seconds(const audio_stream& a, double samples) {
    return a.sample_rate > 0 ? samples / a.sample_rate : 0.03;
}

}  // namespace

double playable_duration(const media_info& m) {
    const double start = m.start_time && *m.start_time > 0 ? *m.start_time : 0.0;
    return std::max(0.0, m.duration - start);
}

bool duration_matches(double input, double output, double granularity) {
    if (!(input > 0) || !(output > 0)) return false;
    return std::fabs(output - input) <= std::max(0.01 * input, 2 * granularity) + 1e-9;
}

result<void> check_rendition(const media_info& out, const rendition& planned, bool with_audio, double input,
                             std::optional<double> input_video) {
    const std::string& name = planned.name;
    if (!out.video || out.video->codec != "h264")
        return mismatch(fmt::format("{}: no H.264 video stream in the MP4", name));
    const auto& v = *out.video;
    if (v.width != planned.width || v.height != planned.height)
        return mismatch(fmt::format("{}: the video is {}x{}, planned {}x{}", name, v.width, v.height, planned.width,
                                    planned.height));
    if (with_audio && (!out.audio || out.audio->codec != "aac"))
        return mismatch(fmt::format("{}: no AAC audio stream in the MP4", name));
    const double total = playable_duration(out);
    const double granularity = std::max(frame_seconds(v), out.audio ? audio_packet_seconds(*out.audio, 1024) : 0.0);
    if (!duration_matches(input, total, granularity))
        return mismatch(fmt::format("{}: the MP4 lasts {:.3f} s, the input {:.3f} s", name, total, input));
    const double video_input = input_video && *input_video > 0 ? *input_video : input;
    if (v.duration && !duration_matches(video_input, *v.duration, frame_seconds(v)))
        return mismatch(fmt::format("{}: its video lasts {:.3f} s, the input's {:.3f} s", name, *v.duration, video_input));
    return {};
}

result<void> check_mp3(const media_info& out, double input) {
    if (!out.audio || out.audio->codec != "mp3") return mismatch("audio.mp3: no MP3 stream");
    const double total = playable_duration(out);
    if (!duration_matches(input, total, audio_packet_seconds(*out.audio, 1152)))
        return mismatch(fmt::format("audio.mp3 lasts {:.3f} s, the input {:.3f} s", total, input));
    return {};
}

result<void> check_image(const media_info& out, int width, int height) {
    if (!out.video || out.video->codec.empty()) return mismatch("an image has no picture");
    if (out.video->width != width || out.video->height != height)
        return mismatch(fmt::format("an image is {}x{}, planned {}x{}", out.video->width, out.video->height, width, height));
    return {};
}

result<void> check_playlist(const media_playlist& p, double input, double segment_seconds, double keyframe_seconds,
                            double frame_rate) {
    if (!p.ended) return mismatch("a media playlist has no #EXT-X-ENDLIST (ffmpeg did not finish it)");
    if (p.segments.empty()) return mismatch("a media playlist has no segments");
    // A segment ends at the first keyframe after segment_seconds, and keyframes fall every
    // keyframe_seconds (rounded to the next frame).
    const double frame = frame_rate > 0 ? 1.0 / frame_rate : 0.04;
    const double longest = segment_seconds + keyframe_seconds + 2 * frame;
    for (const auto& s : p.segments)
        if (s.duration > longest)
            return mismatch(fmt::format("segment {} lasts {:.3f} s, more than {:.3f} s", s.uri, s.duration, longest));
    const double total = p.total_duration();
    if (!duration_matches(input, total, std::max(frame, 0.03)))
        return mismatch(fmt::format("a media playlist's segments last {:.3f} s, the input {:.3f} s", total, input));
    return {};
}

}  // namespace wharf::media
