// HLS text: the master playlist written from rendition descriptions, ffmpeg's media playlists
// read back (bounded), bandwidth from the segments, codec strings, the sprite's WebVTT.
#include "wharf/media/hls.hpp"

#include <gtest/gtest.h>

using namespace wharf::media;

TEST(master_playlist, lists_every_variant_by_bandwidth) {
    const std::string text = master_playlist({
        {"../720p/segments/playlist.m3u8", 3'100'000, 2'650'000, 1280, 720, "avc1.64001f,mp4a.40.2", 30},
        {"../360p/segments/playlist.m3u8", 1'000'000, 880'000, 640, 360, "avc1.64001e,mp4a.40.2", 29.97002997},
    });
    EXPECT_EQ(text,
              "#EXTM3U\n"
              "#EXT-X-VERSION:6\n"
              "#EXT-X-INDEPENDENT-SEGMENTS\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=880000,RESOLUTION=640x360,"
              "CODECS=\"avc1.64001e,mp4a.40.2\",FRAME-RATE=29.970\n"
              "../360p/segments/playlist.m3u8\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=3100000,AVERAGE-BANDWIDTH=2650000,RESOLUTION=1280x720,"
              "CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=30.000\n"
              "../720p/segments/playlist.m3u8\n");
}

TEST(master_playlist, an_audio_only_variant_has_no_resolution_or_frame_rate) {
    const std::string text = master_playlist({{"../audio/segments/playlist.m3u8", 140'000, 0, 0, 0, "mp4a.40.2", 0}});
    EXPECT_EQ(text,
              "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
              "#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\"\n"
              "../audio/segments/playlist.m3u8\n");
}

TEST(master_playlist, refuses_what_it_cannot_write) {
    EXPECT_THROW(master_playlist({{"a.m3u8", 0, 0, 0, 0, "", 0}}), std::invalid_argument);
    EXPECT_THROW(master_playlist({{"a\nb.m3u8", 1, 0, 0, 0, "", 0}}), std::invalid_argument);
    EXPECT_THROW(master_playlist({{"#a.m3u8", 1, 0, 0, 0, "", 0}}), std::invalid_argument);
    EXPECT_THROW(master_playlist({{"a.m3u8", 1, 0, 0, 0, "avc1\",x", 0}}), std::invalid_argument);
    EXPECT_EQ(master_playlist({}), "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n");
}

TEST(master_playlist, is_written_from_job_results_alone) {
    // What a per-rendition fan-out's jobs return; a publish step joins them.
    const nlohmann::json results = nlohmann::json::parse(R"([
      {"name":"720p","width":1280,"height":720,"bandwidth":3100000,"average_bandwidth":2650000,
       "codecs":"avc1.64001f,mp4a.40.2","frame_rate":30,"playlist_key":"temp/p1/720p/segments/playlist.m3u8"},
      {"name":"360p","width":640,"height":360,"bandwidth":1000000,"average_bandwidth":880000,
       "codecs":"avc1.64001e,mp4a.40.2","frame_rate":30,"playlist_key":"temp/p1/360p/segments/playlist.m3u8"}])");
    std::vector<variant> variants;
    for (const auto& r : results) variants.push_back(variant_from_result(r, "processed/v1/hls/master.m3u8").value());
    const auto text = master_playlist(variants);
    EXPECT_NE(text.find("\n../../../temp/p1/360p/segments/playlist.m3u8\n"), std::string::npos) << text;
    EXPECT_LT(text.find("BANDWIDTH=1000000"), text.find("BANDWIDTH=3100000"));

    EXPECT_FALSE(variant_from_result(nlohmann::json::object(), "m.m3u8"));
    EXPECT_FALSE(variant_from_result({{"playlist_key", "a"}, {"bandwidth", 0}}, "m.m3u8"));
    EXPECT_FALSE(variant_from_result({{"playlist_key", "a\"b"}, {"bandwidth", 5}}, "m.m3u8"));
}

TEST(relative_key, from_the_masters_folder) {
    EXPECT_EQ(relative_key("processed/v/hls/master.m3u8", "processed/v/360p/segments/playlist.m3u8"),
              "../360p/segments/playlist.m3u8");
    EXPECT_EQ(relative_key("processed/v/master.m3u8", "processed/v/360p/playlist.m3u8"), "360p/playlist.m3u8");
    EXPECT_EQ(relative_key("master.m3u8", "a/b.m3u8"), "a/b.m3u8");
    EXPECT_EQ(relative_key("a/b/c/m.m3u8", "x.m3u8"), "../../../x.m3u8");
    EXPECT_EQ(relative_key("a/hls/m.m3u8", "a/hls/m.m3u8"), "m.m3u8");
}

namespace {
// What ffmpeg 5.1's hls muxer writes for fMP4 (tee slave, 4 s segments, 2 s keyframes).
const char* fmp4_playlist =
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.004000,\nsegment_00000.m4s\n"
    "#EXTINF:4.004000,\nsegment_00001.m4s\n#EXTINF:2.002000,\nsegment_00002.m4s\n#EXT-X-ENDLIST\n";
}  // namespace

TEST(parse_media_playlist, reads_what_ffmpeg_writes) {
    const auto p = parse_media_playlist(fmp4_playlist);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->target_duration, 4);
    EXPECT_EQ(p->map_uri, "init.mp4");
    ASSERT_EQ(p->segments.size(), 3u);
    EXPECT_EQ(p->segments[1].uri, "segment_00001.m4s");
    EXPECT_DOUBLE_EQ(p->segments[2].duration, 2.002);
    EXPECT_NEAR(p->total_duration(), 10.01, 1e-9);
    EXPECT_TRUE(p->ended);
}

TEST(parse_media_playlist, an_unfinished_playlist_has_no_endlist) {
    const auto p = parse_media_playlist("#EXTM3U\r\n#EXTINF:4.0,\r\nsegment_00000.ts\r\n");
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->ended);
    EXPECT_EQ(p->segments.size(), 1u);
}

TEST(parse_media_playlist, refuses_uris_outside_its_folder_and_bad_structure) {
    for (const char* text : {"", "\n\n", "#EXTM4U\n", "#EXTM3U\nsegment.ts\n", "#EXTM3U\n#EXTINF:4,\n../x.ts\n",
                             "#EXTM3U\n#EXTINF:4,\n/etc/passwd\n", "#EXTM3U\n#EXTINF:4,\nhttp://x/y.ts\n",
                             "#EXTM3U\n#EXTINF:4,\n#EXTINF:4,\na.ts\n", "#EXTM3U\n#EXTINF:x,\na.ts\n",
                             "#EXTM3U\n#EXTINF:-1,\na.ts\n", "#EXTM3U\n#EXTINF:4,\n", "#EXTM3U\n#EXT-X-MAP:URI=\"../i\"\n",
                             "#EXTM3U\n#EXT-X-MAP:URI=\"i\n", "#EXTM3U\n#EXT-X-MAP:BYTERANGE=1\n",
                             "#EXTM3U\n#EXT-X-TARGETDURATION:nan\n"}) {
        const auto p = parse_media_playlist(text);
        ASSERT_FALSE(p) << text;
        EXPECT_EQ(p.error().code, errc::bad_playlist);
    }
}

TEST(parse_media_playlist, is_bounded) {
    std::string many = "#EXTM3U\n";
    for (int i = 0; i < 20; ++i) many += "#EXTINF:1,\ns" + std::to_string(i) + ".ts\n";
    EXPECT_TRUE(parse_media_playlist(many, {.max_bytes = 1 << 20, .max_line = 100, .max_segments = 20}));
    EXPECT_FALSE(parse_media_playlist(many, {.max_bytes = 1 << 20, .max_line = 100, .max_segments = 19}));
    EXPECT_FALSE(parse_media_playlist(many, {.max_bytes = 100, .max_line = 100, .max_segments = 20}));
    EXPECT_FALSE(parse_media_playlist("#EXTM3U\n# " + std::string(5000, 'x') + "\n"));
}

TEST(measure_bandwidth, peak_and_average_from_segment_sizes) {
    const auto p = parse_media_playlist(fmp4_playlist).value();
    const std::vector<std::uint64_t> sizes{500'500, 400'400, 100'100};  // 1.0, 0.8, 0.4 Mb/s
    const auto b = measure_bandwidth(p, sizes);
    EXPECT_EQ(b.peak, 1'000'000);
    EXPECT_EQ(b.average, 800'000);  // 1,001,000 bytes over 10.01 s
}

TEST(measure_bandwidth, a_short_last_segment_does_not_set_the_peak) {
    const auto p =
        parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n#EXTINF:0.1,\nc.ts\n")
            .value();
    const std::vector<std::uint64_t> sizes{400'000, 200'000, 50'000};  // 0.8, 0.4, then 4 Mb/s for 0.1 s
    const auto b = measure_bandwidth(p, sizes);
    EXPECT_EQ(b.peak, 800'000);
    EXPECT_EQ(b.average, 641'975);
}

TEST(measure_bandwidth, absurd_durations_give_bounded_non_negative_rates) {
    // A broken playlist's 1e-300 s segment would be a rate no int64 holds (the fuzzer found it).
    const auto p = parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:1e-300,\na.ts\n").value();
    const std::vector<std::uint64_t> sizes{1000};
    const auto b = measure_bandwidth(p, sizes);
    EXPECT_EQ(b.average, 1'000'000'000'000'000'000);
    EXPECT_EQ(b.peak, b.average);
}

TEST(codec_strings, x264_profiles_and_aac) {
    EXPECT_EQ(avc_codec_string("High", 31), "avc1.64001f");
    EXPECT_EQ(avc_codec_string("Main", 30), "avc1.4d401e");
    EXPECT_EQ(avc_codec_string("Constrained Baseline", 30), "avc1.42c01e");
    EXPECT_EQ(avc_codec_string("High", 40), "avc1.640028");
    EXPECT_FALSE(avc_codec_string("Unknown", 31));
    EXPECT_FALSE(avc_codec_string("High", 0));
    EXPECT_EQ(audio_codec_string("aac", "LC"), "mp4a.40.2");
    EXPECT_EQ(audio_codec_string("aac", "HE-AAC"), "mp4a.40.5");
    EXPECT_FALSE(audio_codec_string("opus", ""));
}

TEST(sprite_vtt, one_cue_per_tile_the_last_until_the_end) {
    thumbnail_plan t;
    t.interval = 2;
    t.tiles = 3;
    t.columns = 2;
    t.rows = 2;
    t.tile_width = 160;
    t.tile_height = 90;
    EXPECT_EQ(sprite_vtt(t, "sprite.jpg", 5.5),
              "WEBVTT\n"
              "\n00:00:00.000 --> 00:00:02.000\nsprite.jpg#xywh=0,0,160,90\n"
              "\n00:00:02.000 --> 00:00:04.000\nsprite.jpg#xywh=160,0,160,90\n"
              "\n00:00:04.000 --> 00:00:05.500\nsprite.jpg#xywh=0,90,160,90\n");
    t.tiles = 1;
    t.interval = 3600;
    EXPECT_EQ(sprite_vtt(t, "s.jpg", 3723.5), "WEBVTT\n\n00:00:00.000 --> 01:02:03.500\ns.jpg#xywh=0,0,160,90\n");
}

TEST(rewrite_media_playlist, replaces_every_segment_and_init_uri_and_keeps_the_tags) {
    const std::string text =
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000000,\nsegment_00000.m4s\n#EXTINF:1.500000,\nsegment_00001.m4s\n"
        "#EXT-X-ENDLIST\n";
    const auto out = rewrite_media_playlist(text, [](std::string_view uri) {
        return "https://b.example/v/360p/segments/" + std::string(uri) + "?X-Amz-Signature=ab%2Fcd";
    });
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out,
              "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
              "#EXT-X-MAP:URI=\"https://b.example/v/360p/segments/init.mp4?X-Amz-Signature=ab%2Fcd\"\n"
              "#EXTINF:4.000000,\nhttps://b.example/v/360p/segments/segment_00000.m4s?X-Amz-Signature=ab%2Fcd\n"
              "#EXTINF:1.500000,\nhttps://b.example/v/360p/segments/segment_00001.m4s?X-Amz-Signature=ab%2Fcd\n"
              "#EXT-X-ENDLIST\n");
    // What it writes is a playlist again (with URLs a reader of ours would not take as file names).
    EXPECT_NE(out->find("#EXTINF:1.500000,"), std::string::npos);
}

TEST(rewrite_media_playlist, refuses_a_playlist_it_would_not_read_and_uris_it_cannot_write) {
    const auto same = [](std::string_view uri) { return std::string(uri); };
    EXPECT_FALSE(rewrite_media_playlist("not a playlist", same));
    EXPECT_FALSE(rewrite_media_playlist("#EXTM3U\n#EXTINF:4,\n../escape.ts\n", same));
    EXPECT_FALSE(rewrite_media_playlist("#EXTM3U\n#EXTINF:4,\na.ts\n",
                                        [](std::string_view) { return std::string("x\n#EXT-X-ENDLIST"); }));
    EXPECT_FALSE(rewrite_media_playlist("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4,\na.ts\n",
                                        [](std::string_view) { return std::string("a\"b"); }));
}
