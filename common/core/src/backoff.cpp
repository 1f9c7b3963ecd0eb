// Exponential backoff with full jitter.
#include "wharf/core/backoff.hpp"

#include <algorithm>

namespace wharf {

std::chrono::milliseconds backoff_policy::delay_ceiling(std::uint32_t attempt) const noexcept {
    if (attempt == 0) return std::chrono::milliseconds{0};
    const auto base_ms = std::max<std::int64_t>(base.count(), 0);
    const auto cap_ms = std::max<std::int64_t>(cap.count(), 0);
    // Double until the cap is reached; stops early so the shift cannot overflow.
    std::int64_t ceiling = base_ms;
    for (std::uint32_t i = 1; i < attempt && ceiling < cap_ms; ++i) ceiling *= 2;
    return std::chrono::milliseconds{std::min(ceiling, cap_ms)};
}

std::chrono::milliseconds backoff_policy::delay(std::uint32_t attempt, std::mt19937_64& rng) const noexcept {
    const auto ceiling = delay_ceiling(attempt).count();
    if (ceiling <= 0) return std::chrono::milliseconds{0};
    std::uniform_int_distribution<std::int64_t> dist(0, ceiling);
    return std::chrono::milliseconds{dist(rng)};
}

std::mt19937_64& jitter_rng() noexcept {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng;
}

}  // namespace wharf
