// The read-ahead policy: only for queues whose jobs are known to be short.
#include "wharf/worker/read_ahead.hpp"

#include <gtest/gtest.h>

using namespace wharf::worker;

TEST(read_ahead, only_once_jobs_are_known_to_be_short) {
    EXPECT_EQ(read_ahead(10, 0, 0), 0u) << "no evidence yet";
    EXPECT_EQ(read_ahead(10, 9, 50), 0u) << "fewer runs than slots";
    EXPECT_EQ(read_ahead(10, 10, 50), 10u);
    EXPECT_EQ(read_ahead(1, 1, 1'999), 1u);
    EXPECT_EQ(read_ahead(10, 1'000, 2'000), 0u);
    EXPECT_EQ(read_ahead(2, 100, 300'000), 0u) << "long jobs (transcodes) are never hoarded";
}

TEST(read_ahead, one_slow_job_after_a_fast_streak_stops_it) {
    double mean = 0;
    std::uint64_t runs = 0;
    for (; runs < 1'000; ++runs) mean = next_mean_run_us(mean, runs, 40);
    EXPECT_EQ(read_ahead(8, runs, mean), 8u);
    mean = next_mean_run_us(mean, runs++, 60'000);  // one 60 ms job
    EXPECT_EQ(read_ahead(8, runs, mean), 0u);
    // ... and read-ahead comes back once short jobs dominate again.
    for (int i = 0; i < 100; ++i) mean = next_mean_run_us(mean, runs++, 40);
    EXPECT_EQ(read_ahead(8, runs, mean), 8u);
}
