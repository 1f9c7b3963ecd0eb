// The placement policy: weighted by free capacity, never onto a provider that cannot take the
// object, a named provider honoured or refused, and a clear error when everything is full.
#include "wharf/storage/placement.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>

namespace s = wharf::storage;

namespace {
constexpr std::uint64_t GiB = 1ull << 30;
}

TEST(placement, picks_in_proportion_to_free_capacity) {
    const std::array<s::provider_capacity, 3> providers{{
        {"a", 4 * GiB, 5 * GiB},  // 1 GiB free
        {"b", 2 * GiB, 5 * GiB},  // 3 GiB free
        {"c", 0, 1 * GiB},        // 1 GiB free
    }};
    std::mt19937_64 rng{42};
    std::map<std::size_t, int> picks;
    constexpr int draws = 50'000;
    for (int i = 0; i < draws; ++i) ++picks[s::choose_provider(providers, 1024, std::nullopt, rng).value()];
    EXPECT_NEAR(picks[0] / double(draws), 0.2, 0.01);
    EXPECT_NEAR(picks[1] / double(draws), 0.6, 0.01);
    EXPECT_NEAR(picks[2] / double(draws), 0.2, 0.01);
}

TEST(placement, skips_full_providers_and_those_the_object_would_overflow) {
    const std::array<s::provider_capacity, 3> providers{{
        {"full", 5 * GiB, 5 * GiB},
        {"over", 6 * GiB, 5 * GiB},       // limit lowered below usage
        {"tight", 5 * GiB - 100, 5 * GiB},  // 100 bytes free
    }};
    std::mt19937_64 rng{1};
    EXPECT_EQ(s::choose_provider(providers, 100, std::nullopt, rng).value(), 2u);  // exactly fits
    const auto refused = s::choose_provider(providers, 101, std::nullopt, rng);
    ASSERT_TRUE(refused.has_error());
    EXPECT_EQ(refused.error().code, s::errc::all_providers_full);
    EXPECT_NE(refused.error().message.find("all storage providers are full"), std::string::npos);
    EXPECT_NE(refused.error().message.find("tight"), std::string::npos);
}

TEST(placement, a_full_provider_takes_nothing_even_an_empty_object) {
    const std::array<s::provider_capacity, 1> providers{{{"full", 5 * GiB, 5 * GiB}}};
    std::mt19937_64 rng{1};
    EXPECT_EQ(s::choose_provider(providers, 0, std::nullopt, rng).error().code, s::errc::all_providers_full);
}

TEST(placement, no_providers_is_all_full_with_a_reason) {
    std::mt19937_64 rng{1};
    const auto r = s::choose_provider({}, 1, std::nullopt, rng);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().code, s::errc::all_providers_full);
    EXPECT_NE(r.error().message.find("no provider configured"), std::string::npos);
}

TEST(placement, a_named_provider_is_used_when_it_fits) {
    const std::array<s::provider_capacity, 2> providers{{{"a", 0, 5 * GiB}, {"b", 4 * GiB, 5 * GiB}}};
    std::mt19937_64 rng{7};
    for (int i = 0; i < 100; ++i) EXPECT_EQ(s::choose_provider(providers, GiB, "b", rng).value(), 1u);
}

TEST(placement, a_named_provider_that_cannot_fit_is_refused_not_replaced) {
    const std::array<s::provider_capacity, 2> providers{{{"a", 0, 5 * GiB}, {"b", 4 * GiB, 5 * GiB}}};
    std::mt19937_64 rng{7};
    const auto r = s::choose_provider(providers, GiB + 1, "b", rng);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().code, s::errc::all_providers_full);
    EXPECT_NE(r.error().message.find("\"b\" cannot take"), std::string::npos);
}

TEST(placement, an_unknown_named_provider_is_refused_listing_the_configured_ones) {
    const std::array<s::provider_capacity, 2> providers{{{"a", 0, 5 * GiB}, {"b", 0, 5 * GiB}}};
    std::mt19937_64 rng{7};
    const auto r = s::choose_provider(providers, 1, "nope", rng);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().code, s::errc::not_found);
    EXPECT_EQ(r.error().message, "unknown storage provider \"nope\" (configured: a, b)");
    EXPECT_THROW((void)r.value(), s::error);
}

TEST(placement, the_same_seed_gives_the_same_choices) {
    const std::array<s::provider_capacity, 3> providers{{{"a", 0, GiB}, {"b", 0, 2 * GiB}, {"c", 0, 3 * GiB}}};
    std::mt19937_64 r1{99}, r2{99};
    for (int i = 0; i < 1000; ++i)
        EXPECT_EQ(s::choose_provider(providers, 1, std::nullopt, r1).value(),
                  s::choose_provider(providers, 1, std::nullopt, r2).value());
}

TEST(placement, huge_limits_do_not_overflow) {
    const std::uint64_t huge = std::uint64_t(1) << 62;
    const std::array<s::provider_capacity, 3> providers{{{"a", 0, huge}, {"b", 0, huge}, {"c", 0, huge}}};
    std::mt19937_64 rng{3};
    std::map<std::size_t, int> picks;
    for (int i = 0; i < 3000; ++i) ++picks[s::choose_provider(providers, 1, std::nullopt, rng).value()];
    for (std::size_t i = 0; i < 3; ++i) EXPECT_GT(picks[i], 800);
}
