#include "wharf/core/backoff.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(backoff, ceiling_doubles_from_base_and_stops_at_cap) {
    wharf::backoff_policy p{.base = 100ms, .cap = 1000ms, .max_attempts = 10};
    EXPECT_EQ(p.delay_ceiling(1), 100ms);
    EXPECT_EQ(p.delay_ceiling(2), 200ms);
    EXPECT_EQ(p.delay_ceiling(4), 800ms);
    EXPECT_EQ(p.delay_ceiling(5), 1000ms);
    EXPECT_EQ(p.delay_ceiling(4000000000u), 1000ms);  // no overflow on huge attempt numbers
}

TEST(backoff, full_jitter_stays_in_window_and_spreads) {
    wharf::backoff_policy p{.base = 100ms, .cap = 10s, .max_attempts = 10};
    std::mt19937_64 rng{42};
    std::chrono::milliseconds lo = 1h, hi = 0ms;
    for (int i = 0; i < 2000; ++i) {
        auto d = p.delay(3, rng);
        ASSERT_GE(d, 0ms);
        ASSERT_LE(d, 400ms);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    EXPECT_LT(lo, 40ms);   // full jitter reaches near zero
    EXPECT_GT(hi, 360ms);  // and near the ceiling
}

TEST(backoff, attempts_are_bounded) {
    wharf::backoff_policy p{.max_attempts = 3};
    EXPECT_TRUE(p.may_retry(1));
    EXPECT_TRUE(p.may_retry(2));
    EXPECT_FALSE(p.may_retry(3));
    wharf::backoff_policy forever{.max_attempts = 0};
    EXPECT_TRUE(forever.may_retry(1000000));
}
