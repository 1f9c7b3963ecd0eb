// The outcome decision: retry vs dead letter, backoff windows, and the reasons people read.
#include "wharf/worker/outcome.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using wharf::backoff_policy;
using wharf::worker::decide_outcome;
using wharf::worker::outcome_decision;
using wharf::worker::run_end;
using action = outcome_decision::action;

namespace {
const backoff_policy policy{200ms, 2'000ms, 0};
}

TEST(outcome, success_is_acknowledged) {
    std::mt19937_64 rng{1};
    EXPECT_EQ(decide_outcome(run_end::succeeded, "", 1, 3, policy, 60s, rng).what, action::succeed);
}

TEST(outcome, retryable_failure_with_attempts_left_retries_within_the_jitter_window) {
    std::mt19937_64 rng{42};
    for (std::int32_t attempt = 1; attempt < 8; ++attempt) {
        const auto ceiling = policy.delay_ceiling(static_cast<std::uint32_t>(attempt));
        std::chrono::milliseconds lowest{ceiling}, highest{0};
        for (int i = 0; i < 500; ++i) {
            const auto d = decide_outcome(run_end::failed_retryable, "boom", attempt, 8, policy, 60s, rng);
            ASSERT_EQ(d.what, action::retry);
            ASSERT_GE(d.delay, 0ms);
            ASSERT_LE(d.delay, ceiling);
            lowest = std::min(lowest, d.delay);
            highest = std::max(highest, d.delay);
        }
        // Full jitter: the whole window is used, not a fixed point in it.
        EXPECT_LT(lowest, ceiling / 4) << "attempt " << attempt;
        EXPECT_GT(highest, ceiling * 3 / 4) << "attempt " << attempt;
    }
    EXPECT_EQ(policy.delay_ceiling(1), 200ms);
    EXPECT_EQ(policy.delay_ceiling(2), 400ms);
    EXPECT_EQ(policy.delay_ceiling(5), 2'000ms);  // capped
}

TEST(outcome, retry_reason_names_the_error_and_the_attempt) {
    std::mt19937_64 rng{7};
    const auto d = decide_outcome(run_end::failed_retryable, "connection reset", 2, 5, policy, 60s, rng);
    EXPECT_NE(d.message.find("connection reset"), std::string::npos);
    EXPECT_NE(d.message.find("attempt 2 of 5"), std::string::npos);
    EXPECT_NE(d.message.find("retrying in"), std::string::npos);
}

TEST(outcome, last_attempt_goes_to_the_dead_letter_stream) {
    std::mt19937_64 rng{7};
    const auto d = decide_outcome(run_end::failed_retryable, "boom", 5, 5, policy, 60s, rng);
    EXPECT_EQ(d.what, action::dead);
    EXPECT_NE(d.message.find("boom"), std::string::npos);
    EXPECT_NE(d.message.find("no attempts left"), std::string::npos);
    EXPECT_EQ(decide_outcome(run_end::failed_retryable, "boom", 1, 1, policy, 60s, rng).what, action::dead);
}

TEST(outcome, permanent_error_is_dead_at_once) {
    std::mt19937_64 rng{7};
    const auto d = decide_outcome(run_end::failed_permanent, "bad payload", 1, 5, policy, 60s, rng);
    EXPECT_EQ(d.what, action::dead);
    EXPECT_NE(d.message.find("bad payload"), std::string::npos);
    EXPECT_NE(d.message.find("permanent"), std::string::npos);
}

TEST(outcome, timeout_is_a_retryable_failure) {
    std::mt19937_64 rng{7};
    const auto d = decide_outcome(run_end::timed_out, "operation aborted", 1, 3, policy, 2s, rng);
    EXPECT_EQ(d.what, action::retry);
    EXPECT_NE(d.message.find("timed out after 2s"), std::string::npos);
    const auto last = decide_outcome(run_end::timed_out, "", 3, 3, policy, 1'500ms, rng);
    EXPECT_EQ(last.what, action::dead);
    EXPECT_NE(last.message.find("timed out after 1.5s"), std::string::npos);
}

TEST(outcome, lost_lease_writes_nothing_and_shutdown_hands_back) {
    std::mt19937_64 rng{7};
    EXPECT_EQ(decide_outcome(run_end::lease_lost, "", 1, 3, policy, 60s, rng).what, action::drop);
    EXPECT_EQ(decide_outcome(run_end::handed_back, "", 3, 3, policy, 60s, rng).what, action::hand_back);
}

TEST(outcome, a_job_whose_workers_keep_dying_is_given_up) {
    using wharf::worker::died_too_often_reason;
    EXPECT_EQ(died_too_often_reason(1, 3), "");
    EXPECT_EQ(died_too_often_reason(5, 3), "");  // max_attempts + 2 deliveries are still allowed
    EXPECT_EQ(died_too_often_reason(6, 3), "worker died 5 times while running it");
}

TEST(outcome, durations_read_well) {
    using wharf::worker::format_duration;
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(1'500ms), "1.5s");
}
