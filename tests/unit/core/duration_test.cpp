#include "wharf/core/duration.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(duration, parses_units) {
    EXPECT_EQ(wharf::parse_duration("250ms"), 250ms);
    EXPECT_EQ(wharf::parse_duration("30s"), 30s);
    EXPECT_EQ(wharf::parse_duration("30"), 30s);
    EXPECT_EQ(wharf::parse_duration("1.5s"), 1500ms);
    EXPECT_EQ(wharf::parse_duration("5m"), 5min);
    EXPECT_EQ(wharf::parse_duration("2h"), 2h);
}

TEST(duration, rejects_garbage) {
    EXPECT_FALSE(wharf::parse_duration(""));
    EXPECT_FALSE(wharf::parse_duration("-1s"));
    EXPECT_FALSE(wharf::parse_duration("s"));
    EXPECT_FALSE(wharf::parse_duration("10 parsecs"));
    EXPECT_FALSE(wharf::parse_duration("1.2.3s"));
    EXPECT_FALSE(wharf::parse_duration("10y"));
}
