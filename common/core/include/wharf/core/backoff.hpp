// The one retry policy: bounded attempts, exponential backoff with full jitter.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace wharf {

// Every retry loop in wharf (Redis and PostgreSQL reconnects, job retries, storage part retries)
// takes its delays from one of these. Full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"): delay = uniform(0, min(cap, base * 2^(attempt-1))), so a fleet that failed together
// does not retry together.
struct backoff_policy {
    std::chrono::milliseconds base{100};
    std::chrono::milliseconds cap{30'000};
    // Attempts in total, the first one included. 0 means "retry forever" and is only for
    // reconnect loops of long-lived connections, which are bounded by shutdown instead.
    std::uint32_t max_attempts = 5;

    // The ceiling of the jitter window before the given attempt (1-based: the delay after the
    // first failure is delay_ceiling(1)). Never exceeds cap; never overflows.
    std::chrono::milliseconds delay_ceiling(std::uint32_t attempt) const noexcept;

    // A uniformly random delay in [0, delay_ceiling(attempt)].
    std::chrono::milliseconds delay(std::uint32_t attempt, std::mt19937_64& rng) const noexcept;

    // Whether another attempt is allowed after `attempts_made` attempts.
    bool may_retry(std::uint32_t attempts_made) const noexcept {
        return max_attempts == 0 || attempts_made < max_attempts;
    }
};

// A per-thread random generator seeded from std::random_device, for jitter.
std::mt19937_64& jitter_rng() noexcept;

}  // namespace wharf
