// The thumbnail planner: poster time and size, sprite interval, tile count and grid.
#include "wharf/media/thumbnails.hpp"

#include <gtest/gtest.h>

using namespace wharf::media;

namespace {
media_info video(int w, int h, double duration, rational fps = {30, 1}) {
    media_info m;
    m.duration = duration;
    m.video = video_stream{};
    m.video->codec = "h264";
    m.video->display_width = w;
    m.video->display_height = h;
    m.video->frame_rate = fps;
    return m;
}
}  // namespace

TEST(plan_thumbnails, a_short_landscape_clip) {
    const auto t = plan_thumbnails(video(1920, 1080, 3.0)).value();
    EXPECT_DOUBLE_EQ(t.poster_at, 1.5);
    EXPECT_EQ(t.poster_width, 1280);
    EXPECT_EQ(t.poster_height, 720);
    EXPECT_EQ(t.tile_width, 160);
    EXPECT_EQ(t.tile_height, 90);
    EXPECT_DOUBLE_EQ(t.interval, 2);
    EXPECT_EQ(t.tiles, 2);  // frames at or after 0 s and 2 s; the last frame is at 2.967 s
    EXPECT_EQ(t.columns, 2);
    EXPECT_EQ(t.rows, 1);
}

TEST(plan_thumbnails, a_minute_fills_a_grid_of_ten_columns) {
    const auto t = plan_thumbnails(video(1920, 1080, 60.0)).value();
    EXPECT_DOUBLE_EQ(t.poster_at, 5.0);
    EXPECT_DOUBLE_EQ(t.interval, 2);
    EXPECT_EQ(t.tiles, 30);
    EXPECT_EQ(t.columns, 10);
    EXPECT_EQ(t.rows, 3);
}

TEST(plan_thumbnails, long_videos_get_longer_intervals_and_at_most_100_tiles) {
    const auto t = plan_thumbnails(video(1280, 720, 7200.0)).value();
    EXPECT_DOUBLE_EQ(t.interval, 72);
    EXPECT_EQ(t.tiles, 100);
    EXPECT_EQ(t.rows, 10);
    for (double d : {1.0, 2.0, 2.04, 199.9, 200.0, 200.01, 3601.0, 86400.0}) {
        const auto p = plan_thumbnails(video(640, 360, d)).value();
        EXPECT_GE(p.tiles, 1) << d;
        EXPECT_LE(p.tiles, 100) << d;
        EXPECT_LE((p.tiles - 1) * p.interval, d) << d;
        EXPECT_EQ(p.rows, (p.tiles + p.columns - 1) / p.columns);
        EXPECT_LT(p.poster_at, d);
    }
}

TEST(plan_thumbnails, portrait_and_small_sources_are_never_upscaled) {
    const auto p = plan_thumbnails(video(720, 1280, 10)).value();
    EXPECT_EQ(p.poster_width, 720);
    EXPECT_EQ(p.poster_height, 1280);
    EXPECT_EQ(p.tile_width, 90);
    EXPECT_EQ(p.tile_height, 160);
    const auto s = plan_thumbnails(video(101, 75, 10)).value();
    EXPECT_EQ(s.poster_width, 100);
    EXPECT_EQ(s.poster_height, 74);
    EXPECT_EQ(s.tile_width, 100);
}

TEST(plan_thumbnails, none_without_video) {
    media_info m;
    m.duration = 3;
    m.audio = audio_stream{};
    EXPECT_FALSE(plan_thumbnails(m));
    EXPECT_FALSE(plan_thumbnails(video(640, 360, 0)));
}
