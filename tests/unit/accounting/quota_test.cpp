// Quota checks: the exact refusal message, unlimited keys, and no overflow at the edges.
#include "wharf/storage/quota.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace s = wharf::storage;

TEST(quota, message_is_used_of_quota_in_bytes_with_human_units) {
    EXPECT_EQ(s::quota_exceeded_message(1'572'864, 2'097'152), "quota exceeded: used 1572864 of 2097152 (1.50 MiB of 2.00 MiB)");
    EXPECT_EQ(s::quota_exceeded_message(0, 100), "quota exceeded: used 0 of 100 (0 B of 100 B)");
}

TEST(quota, an_upload_that_fits_exactly_is_allowed) {
    EXPECT_EQ(s::quota_violation(900, 1000, 100), std::nullopt);
    EXPECT_EQ(s::quota_violation(0, 0, 0), std::nullopt);
}

TEST(quota, one_byte_over_is_refused_with_the_message) {
    EXPECT_EQ(s::quota_violation(900, 1000, 101), "quota exceeded: used 900 of 1000 (900 B of 1000 B)");
}

TEST(quota, no_quota_means_unlimited) {
    EXPECT_EQ(s::quota_violation(std::numeric_limits<std::uint64_t>::max(), std::nullopt, 1), std::nullopt);
}

TEST(quota, usage_already_above_a_lowered_quota_refuses_any_growth) {
    EXPECT_TRUE(s::quota_violation(2000, 1000, 1).has_value());
}

TEST(quota, does_not_wrap_around) {
    const auto max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_TRUE(s::quota_violation(10, 100, max).has_value());
    EXPECT_EQ(s::quota_violation(0, max, max), std::nullopt);
}

TEST(quota, human_bytes) {
    EXPECT_EQ(s::human_bytes(0), "0 B");
    EXPECT_EQ(s::human_bytes(1023), "1023 B");
    EXPECT_EQ(s::human_bytes(1024), "1.00 KiB");
    EXPECT_EQ(s::human_bytes(5ull << 30), "5.00 GiB");
    EXPECT_EQ(s::human_bytes(std::numeric_limits<std::uint64_t>::max()), "16.00 EiB");
}
