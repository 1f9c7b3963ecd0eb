// RFC 3339 parsing and formatting.
#include "wharf/queue/envelope.hpp"

#include <gtest/gtest.h>

namespace q = wharf::queue;
using namespace std::chrono;

namespace {
std::int64_t ms_of(std::string_view text) {
    auto t = q::parse_rfc3339(text);
    EXPECT_TRUE(t.has_value()) << text;
    return t ? duration_cast<milliseconds>(t->time_since_epoch()).count() : -1;
}
}  // namespace

TEST(rfc3339, parses_utc_with_z) {
    EXPECT_EQ(ms_of("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(ms_of("2023-11-14T22:13:20Z"), 1'700'000'000'000);
    EXPECT_EQ(ms_of("2023-11-14t22:13:20z"), 1'700'000'000'000);
    EXPECT_EQ(ms_of("2023-11-14 22:13:20Z"), 1'700'000'000'000);
}

TEST(rfc3339, applies_offsets) {
    EXPECT_EQ(ms_of("2023-11-15T00:13:20+02:00"), 1'700'000'000'000);
    EXPECT_EQ(ms_of("2023-11-14T17:43:20-04:30"), 1'700'000'000'000);
    EXPECT_EQ(ms_of("2023-11-14T22:13:20+00:00"), 1'700'000'000'000);
    EXPECT_EQ(ms_of("2023-11-14T22:13:20-00:00"), 1'700'000'000'000);
}

TEST(rfc3339, keeps_fractional_seconds) {
    EXPECT_EQ(ms_of("2023-11-14T22:13:20.5Z"), 1'700'000'000'500);
    EXPECT_EQ(ms_of("2023-11-14T22:13:20.123Z"), 1'700'000'000'123);
    EXPECT_EQ(ms_of("2023-11-14T22:13:20.123456789123Z"), 1'700'000'000'123);
    auto t = q::parse_rfc3339("2023-11-14T22:13:20.000001Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(duration_cast<microseconds>(t->time_since_epoch()).count() % 1'000'000, 1);
}

TEST(rfc3339, handles_leap_days_and_leap_seconds) {
    EXPECT_TRUE(q::parse_rfc3339("2024-02-29T00:00:00Z"));
    EXPECT_FALSE(q::parse_rfc3339("2023-02-29T00:00:00Z"));
    EXPECT_FALSE(q::parse_rfc3339("1900-02-29T00:00:00Z"));
    EXPECT_TRUE(q::parse_rfc3339("2000-02-29T00:00:00Z"));
    EXPECT_EQ(ms_of("2016-12-31T23:59:60Z"), ms_of("2017-01-01T00:00:00Z"));
}

TEST(rfc3339, refuses_what_is_not_rfc3339) {
    for (const char* bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14T22:13Z", "2023-13-01T00:00:00Z",
                            "2023-00-01T00:00:00Z", "2023-04-31T00:00:00Z", "2023-11-14T24:00:00Z",
                            "2023-11-14T22:60:00Z", "2023-11-14T22:13:61Z", "2023-11-14T22:13:20.Z",
                            "2023-11-14T22:13:20+0200", "2023-11-14T22:13:20+24:00", "2023-11-14T22:13:20Zjunk",
                            "23-11-14T22:13:20Z", "2023/11/14T22:13:20Z", "1700000000", "tomorrow",
                            "2023-11-14T22:13:20 Z", "+2023-11-14T22:13:20Z"})
        EXPECT_FALSE(q::parse_rfc3339(bad)) << bad;
}

TEST(rfc3339, refuses_times_the_clock_cannot_hold) {
    EXPECT_TRUE(q::parse_rfc3339("2262-01-01T00:00:00Z"));
    EXPECT_FALSE(q::parse_rfc3339("2999-01-01T00:00:00Z"));
    EXPECT_FALSE(q::parse_rfc3339("9999-12-31T23:59:59Z"));
    EXPECT_FALSE(q::parse_rfc3339("0001-01-01T00:00:00Z"));
}

TEST(rfc3339, formats_utc_with_milliseconds) {
    EXPECT_EQ(q::format_rfc3339(system_clock::time_point{milliseconds{1'700'000'000'123}}),
              "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(q::format_rfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
    // Before the epoch the fraction still counts forward from the second below.
    EXPECT_EQ(q::format_rfc3339(system_clock::time_point{milliseconds{-1}}), "1969-12-31T23:59:59.999Z");
}

TEST(rfc3339, format_then_parse_round_trips_to_the_millisecond) {
    const auto t = system_clock::time_point{milliseconds{1'234'567'890'987}};
    EXPECT_EQ(q::parse_rfc3339(q::format_rfc3339(t)), t);
}
