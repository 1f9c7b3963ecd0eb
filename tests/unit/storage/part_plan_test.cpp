// The multipart planner at the edges: empty, tiny, exactly one minimum part, huge objects.
#include "wharf/storage/multipart.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage;

namespace {
constexpr std::uint64_t MiB = 1ull << 20;
constexpr std::uint64_t GiB = 1ull << 30;
constexpr std::uint64_t TiB = 1ull << 40;

void expect_valid(std::uint64_t size, part_plan p) {
    ASSERT_GE(p.part_count, 1u);
    EXPECT_LE(p.part_count, max_parts);
    if (p.part_count > 1) {
        EXPECT_GE(p.part_size, min_part_size);
        EXPECT_LE(p.part_size, max_part_size);
        // The parts cover the object exactly, the last one non-empty.
        EXPECT_LT((p.part_count - 1) * p.part_size, size);
        EXPECT_GE(std::uint64_t{p.part_count} * p.part_size, size);
    } else {
        EXPECT_EQ(p.part_size, size);
    }
}
}  // namespace

TEST(plan_parts, empty_object_is_one_empty_part) { EXPECT_EQ(plan_parts(0), (part_plan{0, 1})); }

TEST(plan_parts, one_byte_is_one_part) { EXPECT_EQ(plan_parts(1), (part_plan{1, 1})); }

TEST(plan_parts, exactly_five_mib_with_five_mib_parts_is_one_part) {
    EXPECT_EQ(plan_parts(5 * MiB, 5 * MiB), (part_plan{5 * MiB, 1}));
    EXPECT_EQ(plan_parts(5 * MiB + 1, 5 * MiB), (part_plan{5 * MiB, 2}));
}

TEST(plan_parts, preferred_size_below_minimum_is_raised) { EXPECT_EQ(plan_parts(100 * MiB, 1 * MiB).part_size, 5 * MiB); }

TEST(plan_parts, default_part_size_is_16_mib) { EXPECT_EQ(plan_parts(1 * GiB), (part_plan{16 * MiB, 64})); }

TEST(plan_parts, fifty_gib_fits_in_ten_thousand_parts) {
    const auto p = plan_parts(50 * GiB, 5 * MiB);
    expect_valid(50 * GiB, p);
    EXPECT_EQ(p.part_size, 6 * MiB);  // 50 GiB / 10,000 = 5.12 MiB, rounded up to whole MiB
    EXPECT_EQ(p.part_count, 8534u);
}

TEST(plan_parts, five_tib_fits_in_ten_thousand_parts) {
    const auto p = plan_parts(5 * TiB);
    expect_valid(5 * TiB, p);
    EXPECT_EQ(p.part_size, 525 * MiB);
    EXPECT_EQ(p.part_count, 9987u);
}

TEST(plan_parts, larger_than_five_tib_is_refused) {
    EXPECT_THROW(plan_parts(5 * TiB + 1), error);
}

TEST(plan_parts, many_sizes_are_valid) {
    for (std::uint64_t size : {5 * MiB - 1, 16 * MiB, 16 * MiB + 1, 160 * GiB, 160 * GiB + 1, 1 * TiB, 5 * TiB - 1})
        for (std::uint64_t preferred : {std::uint64_t{0}, 5 * MiB, 8 * MiB, 100 * MiB, 6 * GiB}) {
            SCOPED_TRACE(size);
            expect_valid(size, plan_parts(size, preferred));
        }
}

TEST(plan_parts, a_backend_minimum_below_five_mib_allows_smaller_parts) {
    EXPECT_EQ(plan_parts(20 * MiB, 4 * MiB, 1 * MiB), (part_plan{4 * MiB, 5}));
    EXPECT_EQ(plan_parts(20 * MiB, 4 * MiB), (part_plan{5 * MiB, 4}));
}
