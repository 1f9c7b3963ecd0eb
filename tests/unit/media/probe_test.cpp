// ffprobe's JSON (real outputs of ffprobe 5.1 on clips ffmpeg generated: tests/unit/media/data/)
// into a media description, and the checks a source must pass.
#include "wharf/media/probe.hpp"
#include "wharf/test/process.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace wharf::media;

namespace {

std::string sample(const std::string& name) {
    std::ifstream in(wharf::test::source_dir() / "tests/unit/media/data" / name);
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().empty()) throw std::runtime_error("missing sample " + name);
    return s.str();
}

media_info probe(const std::string& name) {
    auto r = parse_probe(sample(name));
    if (!r) throw std::runtime_error(r.error().message);
    return r->info;
}

}  // namespace

TEST(parse_probe, landscape_h264_with_aac) {
    const auto m = probe("landscape_1080p.json");
    EXPECT_DOUBLE_EQ(m.duration, 3.0);
    EXPECT_EQ(m.stream_count, 2u);
    ASSERT_TRUE(m.video);
    EXPECT_EQ(m.video->codec, "h264");
    EXPECT_EQ(m.video->profile, "Constrained Baseline");
    EXPECT_EQ(m.video->level, 40);
    EXPECT_EQ(m.video->width, 1920);
    EXPECT_EQ(m.video->height, 1080);
    EXPECT_EQ(m.video->display_width, 1920);
    EXPECT_EQ(m.video->display_height, 1080);
    EXPECT_EQ(m.video->rotation, 0);
    EXPECT_EQ(m.video->frame_rate, (rational{30, 1}));
    EXPECT_EQ(m.video->index, 0);
    ASSERT_TRUE(m.audio);
    EXPECT_EQ(m.audio->codec, "aac");
    EXPECT_EQ(m.audio->index, 1);
    EXPECT_EQ(m.audio->channels, 1);
    EXPECT_EQ(m.audio->sample_rate, 44100);
    EXPECT_TRUE(validate_source(m, true));
}

TEST(parse_probe, keeps_ffprobes_format_and_streams_for_the_metadata) {
    const auto r = parse_probe(sample("landscape_1080p.json"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->raw["format"]["format_name"], "mov,mp4,m4a,3gp,3g2,mj2");
    EXPECT_EQ(r->raw["streams"].size(), 2u);
    const auto d = derived_json(r->info);
    EXPECT_EQ(d["video"]["orientation"], "landscape");
    EXPECT_EQ(d["audio"]["sample_rate"], 44100);
}

TEST(parse_probe, portrait_is_taller_than_wide) {
    const auto m = probe("portrait_720x1280.json");
    ASSERT_TRUE(m.video);
    EXPECT_EQ(m.video->display_width, 720);
    EXPECT_EQ(m.video->display_height, 1280);
    EXPECT_EQ(derived_json(m)["video"]["orientation"], "portrait");
}

TEST(parse_probe, a_display_matrix_turns_the_picture_upright) {
    // Coded 1280x720 with a 90 degree display matrix: shown 720x1280.
    const auto m = probe("rotated_1280x720.json");
    ASSERT_TRUE(m.video);
    EXPECT_EQ(m.video->width, 1280);
    EXPECT_EQ(m.video->height, 720);
    EXPECT_EQ(m.video->rotation % 180, 90);
    EXPECT_EQ(m.video->display_width, 720);
    EXPECT_EQ(m.video->display_height, 1280);
}

TEST(parse_probe, legacy_rotate_tag_is_clockwise) {
    const auto r = parse_probe(
        R"({"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,)"
        R"("avg_frame_rate":"30/1","tags":{"rotate":"90"}}],"format":{"duration":"1.0"}})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->info.video->rotation, 90);
    EXPECT_EQ(r->info.video->display_width, 1080);
    EXPECT_EQ(r->info.video->display_height, 1920);
}

TEST(parse_probe, odd_sizes_are_kept_as_they_are) {
    const auto m = probe("odd_853x479.json");
    ASSERT_TRUE(m.video);
    EXPECT_EQ(m.video->display_width, 853);
    EXPECT_EQ(m.video->display_height, 479);
    EXPECT_EQ(m.video->profile, "High 4:4:4 Predictive");
    EXPECT_TRUE(validate_source(m, true));
}

TEST(parse_probe, anamorphic_pixels_are_made_square) {
    // PAL 720x576 with 16:15 pixels is shown 768x576 (4:3).
    const auto m = probe("anamorphic_pal.json");
    ASSERT_TRUE(m.video);
    EXPECT_EQ(m.video->sample_aspect, (rational{16, 15}));
    EXPECT_EQ(m.video->display_width, 768);
    EXPECT_EQ(m.video->display_height, 576);
}

TEST(parse_probe, audio_only) {
    const auto m = probe("audio_only.json");
    EXPECT_FALSE(m.video);
    ASSERT_TRUE(m.audio);
    EXPECT_EQ(m.audio->codec, "aac");
    EXPECT_GT(m.duration, 2.9);
    EXPECT_TRUE(validate_source(m, false));
    const auto refused = validate_source(m, true);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, errc::no_video_stream);
    EXPECT_EQ(refused.error().message, "no video stream");
}

TEST(parse_probe, cover_art_is_not_a_video_stream) {
    const auto m = probe("mp3_with_cover.json");
    EXPECT_FALSE(m.video);
    ASSERT_TRUE(m.audio);
    EXPECT_EQ(m.audio->codec, "mp3");
    EXPECT_EQ(m.stream_count, 2u);
}

TEST(parse_probe, numbers_may_be_numbers_or_strings_and_na_is_absent) {
    const auto r = parse_probe(
        R"({"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":"640","height":360,)"
        R"("avg_frame_rate":"0/0","r_frame_rate":"25/1","duration":"N/A","bit_rate":"N/A"}],)"
        R"("format":{"duration":12.5,"size":"1000","bit_rate":"N/A"}})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->info.video->width, 640);
    EXPECT_EQ(r->info.video->frame_rate, (rational{25, 1}));
    EXPECT_FALSE(r->info.video->duration);
    EXPECT_FALSE(r->info.video->bit_rate);
    EXPECT_DOUBLE_EQ(r->info.duration, 12.5);
    EXPECT_EQ(r->info.size, 1000u);
    EXPECT_FALSE(r->info.bit_rate);
}

TEST(parse_probe, the_format_duration_falls_back_to_the_longest_stream) {
    const auto r = parse_probe(
        R"({"streams":[{"codec_type":"audio","codec_name":"aac","duration":"4.5"},)"
        R"({"codec_type":"video","codec_name":"h264","width":64,"height":64,"avg_frame_rate":"1/1","duration":"5.25"}],)"
        R"("format":{"duration":"N/A"}})");
    ASSERT_TRUE(r);
    EXPECT_DOUBLE_EQ(r->info.duration, 5.25);
}

TEST(parse_probe, what_is_not_ffprobe_json_is_refused_with_a_reason) {
    for (const char* text : {"", "not json", "[]", "{}", R"({"streams":{}})", R"({"format":[]})", R"({"streams":[1]})",
                             "{\"streams\":[]} trailing"}) {
        const auto r = parse_probe(text);
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().code, errc::bad_probe_output) << text;
        EXPECT_TRUE(r.error().message.starts_with("ffprobe output: ")) << r.error().message;
    }
}

TEST(parse_probe, size_and_depth_are_limited) {
    std::string deep = R"({"format":{"tags":)";
    for (int i = 0; i < 40; ++i) deep += "[";
    for (int i = 0; i < 40; ++i) deep += "]";
    deep += "}}";
    const auto too_deep = parse_probe(deep);
    ASSERT_FALSE(too_deep);
    EXPECT_NE(too_deep.error().message.find("deeper"), std::string::npos) << too_deep.error().message;

    const std::string big = R"({"format":{"filename":")" + std::string(5'000'000, 'x') + "\"}}";
    ASSERT_FALSE(parse_probe(big));
    EXPECT_TRUE(parse_probe(big, {.max_bytes = 6'000'000}));

    std::string many = R"({"streams":[)";
    for (int i = 0; i < 1100; ++i) many += std::string(i ? "," : "") + R"({"codec_type":"data"})";
    many += "]}";
    const auto r = parse_probe(many);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("1100 streams"), std::string::npos);
}

TEST(parse_probe, absurd_numbers_do_not_overflow) {
    const auto r = parse_probe(
        R"({"streams":[{"codec_type":"video","codec_name":"h264","width":99999999999999,"height":-5,)"
        R"("sample_aspect_ratio":"9223372036854775807:1","avg_frame_rate":"1/0","tags":{"rotate":"1e300"}}],)"
        R"("format":{"duration":"1e400"}})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->info.video->height, 0);
    EXPECT_EQ(r->info.video->rotation, 0);
    EXPECT_EQ(r->info.duration, 0.0);
    EXPECT_FALSE(validate_source(r->info, true));
}

TEST(validate_source, reasons_are_readable) {
    const auto with = [](auto edit) {
        auto m = probe("landscape_1080p.json");
        edit(m);
        return validate_source(m, true);
    };
    auto r = with([](media_info& m) { m.video.reset(), m.audio.reset(); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::no_media_stream);
    EXPECT_EQ(r.error().message, "no video or audio stream (2 streams, format mov,mp4,m4a,3gp,3g2,mj2)");

    r = with([](media_info& m) { m.duration = 0; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::zero_duration);
    EXPECT_EQ(r.error().message, "the duration is zero or unknown");

    r = with([](media_info& m) { m.video->display_width = 100'000; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::absurd_dimensions);
    EXPECT_EQ(r.error().message, "the video is 100000x1080: each side must be 16 to 16384 pixels");

    r = with([](media_info& m) { m.video->display_width = m.video->display_height = 10'000; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "the video is 10000x10000: more than 40000000 pixels");

    r = with([](media_info& m) { m.video->display_width = 8; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::absurd_dimensions);

    r = with([](media_info& m) { m.video->frame_rate = {0, 1}; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::absurd_frame_rate);

    r = with([](media_info& m) { m.video->codec.clear(), m.audio->codec.clear(); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::undecodable);
}

TEST(ffprobe_argv, reads_the_file_protocol_only) {
    const auto argv = ffprobe_argv("ffprobe", "/srv/in/a:b.mp4");
    EXPECT_EQ(argv.front(), "ffprobe");
    EXPECT_EQ(argv.back(), "file:/srv/in/a:b.mp4");
}
