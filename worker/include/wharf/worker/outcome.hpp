// What becomes of a job once its handler returned, threw or was stopped: a pure decision, so the
// retry policy is unit-tested without Redis or PostgreSQL.
#pragma once

#include "wharf/core/backoff.hpp"

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace wharf::worker {

// How the handler ended.
enum class run_end {
    succeeded,
    failed_retryable,  // any exception but permanent_error
    failed_permanent,  // permanent_error
    timed_out,         // the per-job timeout cancelled it
    lease_lost,        // another worker took the job over: write nothing
    handed_back,       // shutdown cancelled it after the grace period
    cancelled,         // a cancel was asked for it (wharfctl cancel, a cancelled pipeline)
};

struct outcome_decision {
    enum class action {
        succeed,     // finished(succeeded) then ack
        retry,       // finished(queued) then retry_later(now + delay)
        dead,        // finished(dead) then dead_letter
        drop,        // write nothing, leave the entry to its new owner
        hand_back,   // finished(queued) then retry_later(now), same attempt
        cancel,      // finished(cancelled) then ack
    };
    action what = action::succeed;
    std::chrono::milliseconds delay{0};  // retry only
    std::string message;                 // the row's error / the dead-letter reason
};

// `error` is the handler's message (exception what()), `timeout` the timeout that fired.
outcome_decision decide_outcome(run_end end, const std::string& error, std::int32_t attempt,
                                std::int32_t max_attempts, const backoff_policy& retry_policy,
                                std::chrono::milliseconds timeout, std::mt19937_64& rng);

// The dead-letter reason of a job whose workers kept dying while running it, or an empty string
// while it may still be run: a delivery count above max_attempts + 2 means it was taken over
// that often (a crash-looping job must not take the fleet down for ever).
std::string died_too_often_reason(std::int32_t delivery_count, std::int32_t max_attempts);

// "1.5s", "250ms": for reasons and logs.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace wharf::worker
