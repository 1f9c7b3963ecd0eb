// The retry / dead-letter decision for a finished run.
#include "wharf/worker/outcome.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace wharf::worker {

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms < 1000) return fmt::format("{}ms", ms);
    if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
    return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
}

outcome_decision decide_outcome(run_end end, const std::string& error, std::int32_t attempt,
                                std::int32_t max_attempts, const backoff_policy& retry_policy,
                                std::chrono::milliseconds timeout, std::mt19937_64& rng) {
    using action = outcome_decision::action;
    switch (end) {
    case run_end::succeeded:
        return {action::succeed, {}, {}};
    case run_end::lease_lost:
        return {action::drop, {}, {}};
    case run_end::handed_back:
        return {action::hand_back, {}, "handed back: the worker shut down before the job finished"};
    case run_end::cancelled:
        return {action::cancel, {}, fmt::format("cancelled during attempt {} of {}", attempt, max_attempts)};
    case run_end::failed_permanent:
        return {action::dead, {}, fmt::format("{} (permanent error, attempt {} of {})", error, attempt, max_attempts)};
    case run_end::failed_retryable:
    case run_end::timed_out:
        break;
    }
    const std::string what = end == run_end::timed_out ? fmt::format("timed out after {}", format_duration(timeout))
                                                       : (error.empty() ? std::string{"failed"} : error);
    if (attempt >= max_attempts)
        return {action::dead, {}, fmt::format("{} (attempt {} of {}, no attempts left)", what, attempt, max_attempts)};
    // delay(n) is the wait after the n-th failure: full jitter in [0, min(cap, base * 2^(n-1))].
    const auto delay = retry_policy.delay(static_cast<std::uint32_t>(std::max(attempt, 1)), rng);
    return {action::retry, delay,
            fmt::format("{} (attempt {} of {}, retrying in {})", what, attempt, max_attempts, format_duration(delay))};
}

std::string died_too_often_reason(std::int32_t delivery_count, std::int32_t max_attempts) {
    if (delivery_count <= max_attempts + 2) return {};
    return fmt::format("worker died {} times while running it", delivery_count - 1);
}

}  // namespace wharf::worker
