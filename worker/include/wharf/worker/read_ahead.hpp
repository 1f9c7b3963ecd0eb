// How many jobs a worker reads ahead of its free slots (a pure policy, unit-tested).
//
// While a queue's jobs are short, a worker holds up to `concurrency` more jobs than it can run,
// so a finished job's slot is refilled from memory instead of after a Redis round trip -- with
// sub-millisecond jobs at concurrency 10 that round trip is most of the cost of a job. Never for
// long jobs: a job parked behind a long one would wait for nothing while another worker idles;
// behind short ones it waits about one job's time. Until `concurrency` jobs have run there is no
// evidence, so no read-ahead; after a slow job the mean rises at once (1/16 of it) and read-ahead
// stops: at most one round of jobs is parked behind a job that turned out long.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wharf::worker {

// Jobs whose handlers take less than this on average are read ahead.
inline constexpr double read_ahead_below_us = 2'000;

// `mean_run_us`: the queue's handler time, averaged as mean += (t - mean) / 16 over `runs` runs.
constexpr std::size_t read_ahead(std::size_t concurrency, std::uint64_t runs, double mean_run_us) noexcept {
    if (runs < concurrency || mean_run_us >= read_ahead_below_us) return 0;
    return concurrency;
}

// The running mean read_ahead() is fed with.
constexpr double next_mean_run_us(double mean_run_us, std::uint64_t runs, double took_us) noexcept {
    return runs == 0 ? took_us : mean_run_us + (took_us - mean_run_us) / 16;
}

}  // namespace wharf::worker
