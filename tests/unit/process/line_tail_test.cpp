// The last lines of a child's stderr: bounded in lines and in bytes per line.
#include "wharf/process/line_tail.hpp"

#include <gtest/gtest.h>

using wharf::process::line_tail;
using lines = std::vector<std::string>;

TEST(line_tail, keeps_the_last_lines) {
    line_tail t(3, 100);
    t.feed("one\ntwo\nthree\nfour\nfi");
    EXPECT_EQ(t.lines(), (lines{"three", "four", "fi"}));
    t.feed("ve\n");
    EXPECT_EQ(t.lines(), (lines{"three", "four", "five"}));
    EXPECT_EQ(t.joined(), "three; four; five");
}

TEST(line_tail, carriage_returns_end_lines_and_empty_lines_are_skipped) {
    line_tail t(5, 100);
    t.feed("frame=1\rframe=2\r\n\n\nError opening output\r\n");
    EXPECT_EQ(t.lines(), (lines{"frame=1", "frame=2", "Error opening output"}));
}

TEST(line_tail, a_line_without_end_costs_a_bounded_amount) {
    line_tail t(2, 10);
    for (int i = 0; i < 1000; ++i) t.feed(std::string(1000, 'x'));
    EXPECT_EQ(t.lines(), (lines{"xxxxxxxxxx [...]"}));
    t.feed("\nlast\n");
    EXPECT_EQ(t.lines(), (lines{"xxxxxxxxxx [...]", "last"}));
}

TEST(line_tail, the_same_whatever_the_chunks) {
    const std::string text = "a\nbb\r\nccc\n\ndddd";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        line_tail t(2, 3);
        t.feed(text.substr(0, cut));
        t.feed(text.substr(cut));
        EXPECT_EQ(t.lines(), (lines{"ccc", "ddd [...]"})) << cut;
    }
}
