// ffmpeg's -progress blocks, fed whole and split at every byte, with hostile lines.
#include "wharf/media/progress.hpp"

#include <gtest/gtest.h>

using namespace wharf::media;

namespace {

// Two blocks as ffmpeg 5.1 prints them (tee output, two renditions, images).
const std::string two_blocks =
    "frame=45\nfps=44.12\nstream_0_0_q=22.0\nstream_1_0_q=26.0\nbitrate=N/A\ntotal_size=N/A\n"
    "out_time_us=1500000\nout_time_ms=1500000\nout_time=00:00:01.500000\ndup_frames=0\ndrop_frames=0\n"
    "speed=1.47x\nprogress=continue\n"
    "frame=90\nfps=88.46\nstream_0_0_q=-1.0\nbitrate=N/A\ntotal_size=N/A\nout_time_us=3000000\n"
    "out_time_ms=3000000\nout_time=00:00:03.000000\ndup_frames=0\ndrop_frames=0\nspeed=2.91x\nprogress=end\n";

std::vector<progress_block> expected() {
    progress_block a;
    a.frame = 45;
    a.fps = 44.12;
    a.out_time_us = 1'500'000;
    a.speed = 1.47;
    progress_block b;
    b.frame = 90;
    b.fps = 88.46;
    b.out_time_us = 3'000'000;
    b.speed = 2.91;
    b.end = true;
    return {a, b};
}

}  // namespace

TEST(progress_parser, reads_blocks) {
    progress_parser p;
    const auto blocks = p.feed(two_blocks);
    EXPECT_EQ(blocks, expected());
    EXPECT_TRUE(p.ended());
    EXPECT_EQ(p.dropped_lines(), 0u);
}

TEST(progress_parser, the_same_blocks_whatever_the_chunk_boundaries) {
    for (std::size_t cut = 0; cut <= two_blocks.size(); ++cut) {
        progress_parser p;
        auto blocks = p.feed(std::string_view(two_blocks).substr(0, cut));
        for (auto& b : p.feed(std::string_view(two_blocks).substr(cut))) blocks.push_back(b);
        ASSERT_EQ(blocks, expected()) << "cut at " << cut;
    }
    // And one byte at a time.
    progress_parser p;
    std::vector<progress_block> blocks;
    for (char c : two_blocks)
        for (auto& b : p.feed(std::string_view(&c, 1))) blocks.push_back(b);
    EXPECT_EQ(blocks, expected());
}

TEST(progress_parser, carriage_returns_and_spaces) {
    progress_parser p;
    const auto blocks = p.feed("out_time_us=250000\r\nspeed= 0.5x\r\nfps= 12\r\nprogress=continue\r\n");
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].out_time_us, 250'000);
    EXPECT_EQ(blocks[0].speed, 0.5);
    EXPECT_EQ(blocks[0].fps, 12.0);
    EXPECT_FALSE(blocks[0].end);
}

TEST(progress_parser, before_the_first_packet_the_times_are_absent) {
    // What ffmpeg prints before it has written anything.
    progress_parser p;
    const auto blocks = p.feed(
        "frame=0\nfps=0.00\nout_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n"
        "out_time_us=-9223372036854775807\nout_time_ms=-9223372036854775807\nout_time=-2562047788:00:54.775807\n"
        "progress=continue\n");
    ASSERT_EQ(blocks.size(), 2u);
    for (const auto& b : blocks) {
        EXPECT_FALSE(b.out_time_us);
        EXPECT_FALSE(b.speed);
    }
    EXPECT_EQ(blocks[0].frame, 0);
}

TEST(progress_parser, out_time_is_the_fallback) {
    progress_parser p;
    const auto blocks = p.feed("out_time=01:02:03.250000\nprogress=continue\n");
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].out_time_us, 3'723'250'000);
}

TEST(progress_parser, overlong_lines_are_dropped_and_memory_stays_bounded) {
    progress_parser p({.max_line = 64, .max_keys = 256});
    std::string junk(10'000, 'x');
    auto blocks = p.feed("frame=1\n" + junk.substr(0, 5000));
    blocks = p.feed(junk + "=1\nout_time_us=5\nprogress=continue\n");
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].frame, 1);
    EXPECT_EQ(blocks[0].out_time_us, 5);
    EXPECT_EQ(p.dropped_lines(), 1u);
    // progress=end that arrives inside an overlong line is not an end.
    blocks = p.feed(std::string(100, 'y') + "progress=end\n");
    EXPECT_TRUE(blocks.empty());
    EXPECT_FALSE(p.ended());
}

TEST(progress_parser, a_block_keeps_its_first_keys_only) {
    progress_parser p({.max_line = 1024, .max_keys = 2});
    const auto blocks = p.feed("frame=1\nfps=2\nout_time_us=3\nprogress=end\n");
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].frame, 1);
    EXPECT_EQ(blocks[0].fps, 2.0);
    EXPECT_FALSE(blocks[0].out_time_us);
    EXPECT_TRUE(blocks[0].end);
}

TEST(progress_parser, garbage_values_are_left_out) {
    progress_parser p;
    const auto blocks =
        p.feed("frame=12abc\nfps=nan\nspeed=infx\nout_time_us=1e3\nout_time=00:61:00.0\ntotal_size=-1\nno equals\n"
               "=\nprogress=continue\n");
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0], progress_block{});
}

TEST(parse_out_time, forms) {
    EXPECT_EQ(parse_out_time("00:00:00.000000"), 0);
    EXPECT_EQ(parse_out_time("00:00:01.5"), 1'500'000);
    EXPECT_EQ(parse_out_time("100:00:00"), 360'000'000'000);
    EXPECT_FALSE(parse_out_time("N/A"));
    EXPECT_FALSE(parse_out_time("-00:00:01.000000"));
    EXPECT_FALSE(parse_out_time("00:0:01.0"));
    EXPECT_FALSE(parse_out_time("00:00:1.0"));
    EXPECT_FALSE(parse_out_time("00:00:01."));
    EXPECT_FALSE(parse_out_time("00:00:01.0000000000"));
}

TEST(progress_percent, of_the_probed_duration) {
    progress_block b;
    b.out_time_us = 1'500'000;
    EXPECT_DOUBLE_EQ(progress_percent(b, 3.0), 50.0);
    b.out_time_us = 5'000'000;
    EXPECT_DOUBLE_EQ(progress_percent(b, 3.0), 100.0);
    EXPECT_DOUBLE_EQ(progress_percent(b, 0.0), 0.0);
    b.out_time_us.reset();
    EXPECT_DOUBLE_EQ(progress_percent(b, 3.0), 0.0);
    b.end = true;
    EXPECT_DOUBLE_EQ(progress_percent(b, 3.0), 100.0);
}
