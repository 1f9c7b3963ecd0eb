// The rendition ladder planner: never upscale, even sizes, portrait, odd sizes, a source below a
// rung at its own size (once), the fan-out subset, audio-only sources.
#include "wharf/media/ladder.hpp"

#include <gtest/gtest.h>

using namespace wharf::media;

namespace {

media_info video(int w, int h) {
    media_info m;
    m.duration = 10;
    m.video = video_stream{};
    m.video->codec = "h264";
    m.video->width = m.video->display_width = w;
    m.video->height = m.video->display_height = h;
    m.video->frame_rate = {30, 1};
    return m;
}

ladder full() { return parse_ladder("360p=800k,720p=2800k,1080p=5M").value(); }

std::vector<std::string> names(const rendition_plan& p) {
    std::vector<std::string> out;
    for (const auto& r : p.renditions) out.push_back(r.name);
    return out;
}

}  // namespace

TEST(parse_ladder, reads_and_sorts_rungs) {
    const auto l = parse_ladder(" 1080p=5M, 360p=800k ,720p=2800000");
    ASSERT_TRUE(l) << l.error().message;
    ASSERT_EQ(l->rungs.size(), 3u);
    EXPECT_EQ(l->rungs[0], (rung{"360p", 360, 800'000}));
    EXPECT_EQ(l->rungs[1], (rung{"720p", 720, 2'800'000}));
    EXPECT_EQ(l->rungs[2], (rung{"1080p", 1080, 5'000'000}));
    EXPECT_EQ(to_string(*l), "360p=800k,720p=2800k,1080p=5M");
}

TEST(parse_ladder, the_default_is_360p_and_720p) {
    EXPECT_EQ(to_string(default_ladder()), "360p=800k,720p=2800k");
    EXPECT_EQ(to_string(parse_ladder(to_string(default_ladder())).value()), "360p=800k,720p=2800k");
}

TEST(parse_ladder, refuses_what_cannot_be_planned) {
    for (const char* bad : {"", ",", "360p", "360=800k", "p=800k", "361p=800k", "8p=100k", "9000p=100M", "360p=0",
                            "360p=7k", "360p=2000M", "360p=fast", "360p=800k,360p=900k", "360P=800k", "../p=1M"}) {
        const auto l = parse_ladder(bad);
        ASSERT_FALSE(l) << bad;
        EXPECT_EQ(l.error().code, errc::bad_ladder) << bad;
    }
}

TEST(plan_renditions, a_1080p_source_gets_every_rung) {
    const auto p = plan_renditions(video(1920, 1080), full()).value();
    ASSERT_EQ(names(p), (std::vector<std::string>{"360p", "720p", "1080p"}));
    EXPECT_EQ(p.renditions[0].width, 640);
    EXPECT_EQ(p.renditions[0].height, 360);
    EXPECT_EQ(p.renditions[1].width, 1280);
    EXPECT_EQ(p.renditions[2].width, 1920);
    EXPECT_TRUE(p.renditions[2].source_size);
    EXPECT_FALSE(p.renditions[1].source_size);
    EXPECT_EQ(p.renditions[0].video_bitrate, 800'000);
    EXPECT_EQ(p.renditions[0].max_bitrate, 1'200'000);
    EXPECT_EQ(p.renditions[0].buffer_size, 1'600'000);
    EXPECT_TRUE(p.skipped.empty());
}

TEST(plan_renditions, a_480p_source_gets_no_720p_but_its_own_size_once) {
    const auto p = plan_renditions(video(854, 480), full()).value();
    ASSERT_EQ(names(p), (std::vector<std::string>{"360p", "480p"}));
    const auto& own = p.renditions[1];
    EXPECT_EQ(own.rung, "720p");
    EXPECT_EQ(own.width, 854);
    EXPECT_EQ(own.height, 480);
    EXPECT_TRUE(own.source_size);
    // 2800k scaled by pixels (854x480 of 1282x720, the 720p rung at this aspect), not below 360p's.
    EXPECT_EQ(own.video_bitrate, 1'243'474);
    ASSERT_EQ(p.skipped.size(), 1u);
    EXPECT_EQ(p.skipped[0].rung, "1080p");
    EXPECT_EQ(p.skipped[0].reason, "the source is 854x480: 1080p would be upscaled");
}

TEST(plan_renditions, a_source_exactly_on_a_rung_gets_no_extra_rendition) {
    const auto p = plan_renditions(video(1280, 720), full()).value();
    EXPECT_EQ(names(p), (std::vector<std::string>{"360p", "720p"}));
    ASSERT_EQ(p.skipped.size(), 1u);
    EXPECT_EQ(p.skipped[0].rung, "1080p");
}

TEST(plan_renditions, a_source_below_every_rung_gets_only_its_own_size) {
    const auto p = plan_renditions(video(320, 240), full()).value();
    ASSERT_EQ(names(p), (std::vector<std::string>{"240p"}));
    EXPECT_EQ(p.renditions[0].rung, "360p");
    EXPECT_EQ(p.renditions[0].width, 320);
    EXPECT_EQ(p.skipped.size(), 2u);
}

TEST(plan_renditions, portrait_rungs_name_the_short_side) {
    const auto p = plan_renditions(video(1080, 1920), full()).value();
    ASSERT_EQ(names(p), (std::vector<std::string>{"360p", "720p", "1080p"}));
    EXPECT_EQ(p.renditions[0].width, 360);
    EXPECT_EQ(p.renditions[0].height, 640);
    EXPECT_EQ(p.renditions[1].width, 720);
    EXPECT_EQ(p.renditions[1].height, 1280);
}

TEST(plan_renditions, odd_sizes_become_even_and_never_grow) {
    const auto p = plan_renditions(video(853, 479), full()).value();
    ASSERT_EQ(names(p), (std::vector<std::string>{"360p", "478p"}));
    for (const auto& r : p.renditions) {
        EXPECT_EQ(r.width % 2, 0) << r.name;
        EXPECT_EQ(r.height % 2, 0) << r.name;
        EXPECT_LE(r.width, 853);
        EXPECT_LE(r.height, 479);
    }
    EXPECT_EQ(p.renditions[0].width, 642);  // 360 * 853 / 479 = 641.1, to the nearest even
    EXPECT_EQ(p.renditions[1].width, 852);  // not 854: never wider than the source
    EXPECT_EQ(p.renditions[1].height, 478);
}

TEST(plan_renditions, every_size_from_tiny_to_8k_is_even_and_within_the_source) {
    for (int w = 16; w <= 7680; w += 97) {
        for (int h : {16, 17, 359, 360, 361, 479, 720, 1081, 2160, 4321}) {
            for (const bool rotate : {false, true}) {
                const auto p = plan_renditions(rotate ? video(h, w) : video(w, h), full());
                ASSERT_TRUE(p) << w << "x" << h;
                int own = 0;
                for (const auto& r : p->renditions) {
                    EXPECT_EQ(r.width % 2, 0);
                    EXPECT_EQ(r.height % 2, 0);
                    EXPECT_GE(r.width, 2);
                    EXPECT_LE(r.width, rotate ? h : w);
                    EXPECT_LE(r.height, rotate ? w : h);
                    EXPECT_LE(r.video_bitrate, 5'000'000);
                    if (r.source_size && r.name != r.rung) ++own;
                }
                EXPECT_LE(own, 1) << w << "x" << h;
            }
        }
    }
}

TEST(plan_renditions, the_fan_out_subset_keeps_only_the_named_rungs) {
    const std::vector<std::string> only_720{"720p"};
    auto p = plan_renditions(video(1920, 1080), full(), only_720).value();
    EXPECT_EQ(names(p), (std::vector<std::string>{"720p"}));

    // A 480p source's 720p job makes its own size, like the whole-ladder job would.
    p = plan_renditions(video(854, 480), full(), only_720).value();
    EXPECT_EQ(names(p), (std::vector<std::string>{"480p"}));

    const std::vector<std::string> only_1080{"1080p"};
    p = plan_renditions(video(854, 480), full(), only_1080).value();
    EXPECT_TRUE(p.renditions.empty());
    ASSERT_EQ(p.skipped.size(), 1u);
    EXPECT_EQ(p.skipped[0].rung, "1080p");

    const std::vector<std::string> unknown{"480p"};
    const auto r = plan_renditions(video(1920, 1080), full(), unknown);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unknown_rendition);
    EXPECT_EQ(r.error().message, "rendition \"480p\" is not in the ladder (360p=800k,720p=2800k,1080p=5M)");
}

TEST(plan_renditions, an_audio_only_source_gets_no_video_renditions) {
    media_info m;
    m.duration = 3;
    m.audio = audio_stream{0, "aac", "LC", 2, 48000, 3.0, 128000};
    const auto p = plan_renditions(m, full()).value();
    EXPECT_TRUE(p.renditions.empty());
    EXPECT_TRUE(p.skipped.empty());
}

TEST(parse_bitrate, suffixes) {
    EXPECT_EQ(parse_bitrate("128k").value(), 128'000);
    EXPECT_EQ(parse_bitrate("1.5M").value(), 1'500'000);
    EXPECT_EQ(parse_bitrate("96000").value(), 96'000);
    EXPECT_FALSE(parse_bitrate("k"));
    EXPECT_FALSE(parse_bitrate("-1k"));
    EXPECT_FALSE(parse_bitrate("1e400"));
}
