// What counts as a good output: codec, size, and a duration within 1 % of the input (or two
// frames/packets for very short clips).
#include "wharf/media/verify.hpp"

#include <gtest/gtest.h>

using namespace wharf::media;

namespace {

media_info mp4(int w, int h, double duration, bool audio = true) {
    media_info m;
    m.duration = duration;
    m.start_time = 0;
    m.video = video_stream{};
    m.video->codec = "h264";
    m.video->width = w;
    m.video->height = h;
    m.video->frame_rate = {30, 1};
    m.video->duration = duration;
    if (audio) m.audio = audio_stream{1, "aac", "LC", 2, 44100, duration, 128000};
    return m;
}

rendition planned(int w, int h) {
    rendition r;
    r.name = "360p";
    r.width = w;
    r.height = h;
    return r;
}

}  // namespace

TEST(duration_matches, one_percent_or_two_packets) {
    EXPECT_TRUE(duration_matches(60.0, 60.5, 0.033));
    EXPECT_TRUE(duration_matches(60.0, 59.41, 0.033));
    EXPECT_FALSE(duration_matches(60.0, 59.3, 0.033));
    EXPECT_FALSE(duration_matches(60.0, 30.0, 0.033));  // what a killed ffmpeg leaves
    // 3 s: 1 % is 30 ms, an MP3 frame at 44.1 kHz is 26 ms.
    EXPECT_TRUE(duration_matches(3.0, 3.031, 1152.0 / 44100));
    EXPECT_FALSE(duration_matches(3.0, 3.2, 1152.0 / 44100));
    EXPECT_FALSE(duration_matches(0.0, 0.0, 1));
    EXPECT_FALSE(duration_matches(3.0, 0.0, 1));
}

TEST(check_rendition, accepts_the_planned_output) { EXPECT_TRUE(check_rendition(mp4(640, 360, 3.0), planned(640, 360), true, 3.0)); }

TEST(check_rendition, refuses_wrong_size_codec_missing_audio_or_short_duration) {
    auto r = check_rendition(mp4(640, 362, 3.0), planned(640, 360), true, 3.0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "360p: the video is 640x362, planned 640x360");

    auto hevc = mp4(640, 360, 3.0);
    hevc.video->codec = "hevc";
    EXPECT_FALSE(check_rendition(hevc, planned(640, 360), true, 3.0));

    EXPECT_FALSE(check_rendition(mp4(640, 360, 3.0, false), planned(640, 360), true, 3.0));
    EXPECT_TRUE(check_rendition(mp4(640, 360, 3.0, false), planned(640, 360), false, 3.0));

    r = check_rendition(mp4(640, 360, 1.2), planned(640, 360), true, 3.0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::output_mismatch);
    EXPECT_EQ(r.error().message, "360p: the MP4 lasts 1.200 s, the input 3.000 s");

    auto short_video = mp4(640, 360, 3.0);  // audio full length, picture cut short
    short_video.video->duration = 2.0;
    EXPECT_FALSE(check_rendition(short_video, planned(640, 360), true, 3.0));
}

TEST(check_mp3, counts_from_the_encoder_delay) {
    media_info m;
    m.duration = 3.056327;
    m.start_time = 0.025057;
    m.audio = audio_stream{0, "mp3", "", 1, 44100, 3.056327, 128000};
    EXPECT_TRUE(check_mp3(m, 3.0));
    m.duration = 2.5;
    EXPECT_FALSE(check_mp3(m, 3.0));
    m.audio->codec = "aac";
    EXPECT_FALSE(check_mp3(m, 3.0));
}

TEST(check_image, size) {
    media_info m;
    m.video = video_stream{};
    m.video->codec = "mjpeg";
    m.video->width = 160;
    m.video->height = 90;
    EXPECT_TRUE(check_image(m, 160, 90));
    EXPECT_FALSE(check_image(m, 320, 90));
    EXPECT_FALSE(check_image(media_info{}, 160, 90));
}

TEST(check_playlist, ended_and_complete) {
    media_playlist p;
    p.ended = true;
    p.target_duration = 4;
    p.segments = {{"s0.m4s", 4.004}, {"s1.m4s", 4.004}, {"s2.m4s", 2.002}};
    EXPECT_TRUE(check_playlist(p, 10.01, 4, 2, 29.97));
    EXPECT_FALSE(check_playlist(p, 20.0, 4, 2, 29.97));
    p.segments.push_back({"s3.m4s", 7.0});
    EXPECT_FALSE(check_playlist(p, 17.01, 4, 2, 29.97));  // longer than a segment plus a keyframe interval
    p.segments.pop_back();
    p.ended = false;
    const auto r = check_playlist(p, 10.01, 4, 2, 29.97);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("ENDLIST"), std::string::npos);
}
