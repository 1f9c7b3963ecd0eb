// The one-process ffmpeg argv, golden for a few ladders, and the rules it must keep.
#include "wharf/media/ffmpeg_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace wharf::media;
using argv_t = std::vector<std::string>;

namespace {

media_info source(int w, int h, rational fps, int channels) {
    media_info m;
    m.duration = 3;
    m.video = video_stream{};
    m.video->codec = "h264";
    m.video->index = 0;
    m.video->display_width = w;
    m.video->display_height = h;
    m.video->frame_rate = fps;
    if (channels) m.audio = audio_stream{1, "aac", "LC", channels, 48000, 3.0, 128000};
    return m;
}

encode_request request(const media_info& m, const ladder& l, bool thumbnails = true) {
    encode_request r;
    r.input = "/scratch/transcode-x/source";
    r.source = m;
    r.renditions = plan_renditions(m, l).value().renditions;
    if (thumbnails) r.thumbnails = plan_thumbnails(m);
    return r;
}

// The options every rendition's encoder gets, for one bitrate triple.
argv_t x264(const std::string& preset, const std::string& b, const std::string& max, const std::string& buf, int gop,
            const std::string& channels) {
    argv_t a{"-map_metadata", "-1", "-map_chapters", "-1", "-c:v", "libx264", "-preset", preset, "-profile:v", "high",
             "-pix_fmt", "yuv420p", "-b:v", b, "-maxrate", max, "-bufsize", buf, "-g", std::to_string(gop),
             "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)"};
    if (!channels.empty()) a.insert(a.end(), {"-c:a", "aac", "-b:a", "128k", "-ac", channels});
    return a;
}

argv_t cat(std::initializer_list<argv_t> parts) {
    argv_t out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace

TEST(build_ffmpeg_command, default_ladder_hls_fmp4_mp3_and_thumbnails) {
    const auto c = build_ffmpeg_command(request(source(1920, 1080, {30, 1}, 1), default_ladder()), {}).value();
    const argv_t expected = cat({
        {"ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", "-i",
         "file:/scratch/transcode-x/source", "-filter_complex",
         "[0:0]split=4[s0][s1][s2][s3];[s0]scale=640:360,setsar=1[v0];[s1]scale=1280:720,setsar=1[v1];"
         "[s2]select='gte(t,1.5)*eq(selected_n,0)',scale=1280:720,setsar=1[poster];"
         "[s3]select='gte(t,selected_n*2)',scale=160:90,setsar=1,tile=2x1[sprite]",
         "-map", "[v0]", "-map", "0:1"},
        x264("veryfast", "800k", "1200k", "1600k", 120, "1"),
        {"-f", "tee",
         "[f=mp4:movflags=+faststart]360p/video_360p.mp4|[f=hls:hls_time=4:hls_playlist_type=vod:hls_list_size=0:"
         "hls_flags=independent_segments:hls_segment_type=fmp4:hls_segment_filename=360p/segments/segment_%05d.m4s:"
         "hls_fmp4_init_filename=init.mp4]360p/segments/playlist.m3u8",
         "-map", "[v1]", "-map", "0:1"},
        x264("veryfast", "2800k", "4200k", "5600k", 120, "1"),
        {"-f", "tee",
         "[f=mp4:movflags=+faststart]720p/video_720p.mp4|[f=hls:hls_time=4:hls_playlist_type=vod:hls_list_size=0:"
         "hls_flags=independent_segments:hls_segment_type=fmp4:hls_segment_filename=720p/segments/segment_%05d.m4s:"
         "hls_fmp4_init_filename=init.mp4]720p/segments/playlist.m3u8",
         "-map", "0:1", "-vn", "-map_metadata", "-1", "-map_chapters", "-1", "-c:a", "libmp3lame", "-b:a", "128k", "-f",
         "mp3", "audio/audio.mp3",
         "-map", "[poster]", "-map_metadata", "-1", "-frames:v", "1", "-update", "1", "-q:v", "2", "-f", "image2",
         "thumbnails/poster.jpg",
         "-map", "[sprite]", "-map_metadata", "-1", "-frames:v", "1", "-update", "1", "-q:v", "4", "-f", "image2",
         "thumbnails/sprite.jpg"},
    });
    EXPECT_EQ(c.argv, expected);
    EXPECT_EQ(c.directories, (argv_t{"360p", "360p/segments", "720p", "720p/segments", "audio", "thumbnails"}));
    EXPECT_EQ(c.segment_dirs, (argv_t{"360p/segments", "720p/segments"}));
    EXPECT_FALSE(c.audio_rendition);
}

TEST(build_ffmpeg_command, three_rungs_ts_strict_threads_and_a_frame_rate_cap) {
    encode_settings s;
    s.preset = "ultrafast";
    s.threads = 4;
    s.format = hls_format::ts;
    s.strict = true;
    auto r = request(source(1920, 1080, {120, 1}, 6), parse_ladder("360p=800k,720p=2800k,1080p=5M").value(), false);
    r.audio = false;
    const auto c = build_ffmpeg_command(r, s).value();
    const auto tee = [](const std::string& n) {
        return "[f=mp4:movflags=+faststart]" + n + "/video_" + n + ".mp4|[f=hls:hls_time=4:hls_playlist_type=vod:"
               "hls_list_size=0:hls_flags=independent_segments:hls_segment_type=mpegts:hls_segment_filename=" + n +
               "/segments/segment_%05d.ts]" + n + "/segments/playlist.m3u8";
    };
    const argv_t expected = cat({
        {"ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", "-xerror",
         "-err_detect", "explode", "-threads", "4", "-filter_complex_threads", "4", "-i",
         "file:/scratch/transcode-x/source", "-filter_complex",
         "[0:0]fps=60,split=3[s0][s1][s2];[s0]scale=640:360,setsar=1[v0];[s1]scale=1280:720,setsar=1[v1];"
         "[s2]scale=1920:1080,setsar=1[v2]",
         "-map", "[v0]", "-map", "0:1"},
        x264("ultrafast", "800k", "1200k", "1600k", 240, "2"),
        {"-threads", "1", "-f", "tee", tee("360p"), "-map", "[v1]", "-map", "0:1"},
        x264("ultrafast", "2800k", "4200k", "5600k", 240, "2"),
        {"-threads", "1", "-f", "tee", tee("720p"), "-map", "[v2]", "-map", "0:1"},
        x264("ultrafast", "5000k", "7500k", "10000k", 240, "2"),
        {"-threads", "1", "-f", "tee", tee("1080p")},
    });
    EXPECT_EQ(c.argv, expected);
    EXPECT_DOUBLE_EQ(output_frame_rate(r.source, s), 60);
}

TEST(build_ffmpeg_command, an_audio_only_source_gets_an_aac_hls_rendition_and_mp3) {
    media_info m;
    m.duration = 3;
    m.audio = audio_stream{0, "mp3", "", 2, 44100, 3.0, 192000};
    encode_request r;
    r.input = "/in/song.mp3";
    r.source = m;
    const auto c = build_ffmpeg_command(r, {}).value();
    const argv_t expected{
        "ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", "-i",
        "file:/in/song.mp3",
        "-map", "0:0", "-vn", "-map_metadata", "-1", "-map_chapters", "-1", "-c:a", "aac", "-b:a", "128k", "-ac", "2",
        "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_list_size", "0", "-hls_flags",
        "independent_segments", "-hls_segment_type", "fmp4", "-hls_segment_filename",
        "audio/segments/segment_%05d.m4s", "-hls_fmp4_init_filename", "init.mp4", "audio/segments/playlist.m3u8",
        "-map", "0:0", "-vn", "-map_metadata", "-1", "-map_chapters", "-1", "-c:a", "libmp3lame", "-b:a", "128k", "-f",
        "mp3", "audio/audio.mp3"};
    EXPECT_EQ(c.argv, expected);
    EXPECT_TRUE(c.audio_rendition);
    EXPECT_EQ(c.directories, (argv_t{"audio", "audio/segments"}));
    EXPECT_EQ(c.segment_dirs, (argv_t{"audio/segments"}));
}

TEST(build_ffmpeg_command, without_hls_each_rendition_is_one_mp4) {
    auto r = request(source(1280, 720, {25, 1}, 0), default_ladder(), false);
    r.hls = false;
    const auto c = build_ffmpeg_command(r, {}).value();
    EXPECT_EQ(std::count(c.argv.begin(), c.argv.end(), "tee"), 0);
    const auto mp4 = std::find(c.argv.begin(), c.argv.end(), "720p/video_720p.mp4");
    ASSERT_NE(mp4, c.argv.end());
    EXPECT_EQ(*(mp4 - 1), "+faststart");
    EXPECT_EQ(std::count(c.argv.begin(), c.argv.end(), "-c:a"), 0);  // the source has no audio
    EXPECT_EQ(c.directories, (argv_t{"360p", "720p"}));
    EXPECT_TRUE(c.segment_dirs.empty());
}

TEST(layout, a_segment_is_finished_once_the_next_one_exists) {
    // What a listing shows mid-encode: the init segment, finished segments, the one being written,
    // a temp file, a playlist (the muxer's VOD playlist only appears at the end).
    const argv_t names{"segment_00002.m4s", "init.mp4", "segment_00000.m4s", "segment_00001.m4s",
                       "segment_00003.m4s.tmp", "playlist.m3u8", "segment_x.m4s", "segment_.ts"};
    EXPECT_EQ(layout::finished_segments(names), (argv_t{"segment_00000.m4s", "segment_00001.m4s"}));
    // Past five digits, and with a gap: only a segment whose successor exists is finished.
    const argv_t long_video{"segment_99999.ts", "segment_100000.ts", "segment_100002.ts", "segment_100003.ts"};
    EXPECT_EQ(layout::finished_segments(long_video), (argv_t{"segment_99999.ts", "segment_100002.ts"}));
    EXPECT_TRUE(layout::finished_segments(argv_t{"segment_00000.m4s"}).empty());
}

TEST(build_ffmpeg_command, every_rendition_gets_the_same_keyframe_rule) {
    encode_settings s;
    s.keyframe_seconds = 1.5;
    s.segment_seconds = 6;
    const auto c =
        build_ffmpeg_command(request(source(1920, 1080, {30000, 1001}, 2), parse_ladder("360p=1M,720p=3M,1080p=6M").value()), s)
            .value();
    std::vector<std::string> rules, gops;
    for (std::size_t i = 0; i + 1 < c.argv.size(); ++i) {
        if (c.argv[i] == "-force_key_frames") rules.push_back(c.argv[i + 1]);
        if (c.argv[i] == "-g") gops.push_back(c.argv[i + 1]);
        if (c.argv[i] == "-sc_threshold") {
            EXPECT_EQ(c.argv[i + 1], "0");
        }
    }
    EXPECT_EQ(rules, argv_t(3, "expr:gte(t,n_forced*1.5)"));
    EXPECT_EQ(gops, argv_t(3, "90"));  // twice the interval's frames: only the forced keyframes count
    EXPECT_NE(c.argv.back().find(".jpg"), std::string::npos);
    const auto tee = std::find(c.argv.begin(), c.argv.end(), "tee") + 1;
    EXPECT_NE(tee->find("hls_time=6:"), std::string::npos);
}

TEST(build_ffmpeg_command, refuses_what_cannot_be_made) {
    encode_request nothing;
    nothing.input = "/a";
    nothing.source = source(640, 360, {25, 1}, 0);
    nothing.hls = false;
    nothing.audio = false;
    auto r = build_ffmpeg_command(nothing, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "nothing to make: no rendition, thumbnails, audio or HLS");

    media_info audio_only;
    audio_only.duration = 1;
    audio_only.audio = audio_stream{0, "aac", "LC", 2, 48000, 1.0, 0};
    encode_request thumbs;
    thumbs.source = audio_only;
    thumbs.thumbnails = thumbnail_plan{};
    EXPECT_EQ(build_ffmpeg_command(thumbs, {}).error().code, errc::no_video_stream);
}

TEST(check_settings, segments_are_whole_keyframe_intervals) {
    encode_settings s;
    EXPECT_TRUE(check_settings(s));
    s.segment_seconds = 5;
    const auto r = check_settings(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "HLS segments of 5 s are not a whole number of keyframe intervals of 2 s");
    s.segment_seconds = 1;
    EXPECT_FALSE(check_settings(s));
    s = {};
    s.preset = "warp";
    EXPECT_FALSE(check_settings(s));
    s = {};
    s.profile = "high10";
    EXPECT_FALSE(check_settings(s));
    s = {};
    s.threads = -1;
    EXPECT_FALSE(check_settings(s));
    s = {};
    s.mp3_bitrate = 500'000;
    EXPECT_FALSE(check_settings(s));
}

TEST(hls_format, names) {
    EXPECT_EQ(parse_hls_format("fmp4"), hls_format::fmp4);
    EXPECT_EQ(parse_hls_format("ts"), hls_format::ts);
    EXPECT_FALSE(parse_hls_format("TS"));
    EXPECT_EQ(to_string(hls_format::ts), "ts");
}

TEST(failed_on_input, decoder_and_demuxer_complaints) {
    EXPECT_TRUE(failed_on_input(argv_t{"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5] moov atom not found",
                                       "file:/x: Invalid data found when processing input"}));
    EXPECT_TRUE(failed_on_input(argv_t{"[h264 @ 0x55] error while decoding MB 6 16"}));
    EXPECT_FALSE(failed_on_input(argv_t{"[mp4 @ 0x5] Error writing trailer: No space left on device"}));
    EXPECT_FALSE(failed_on_input(argv_t{}));
}
