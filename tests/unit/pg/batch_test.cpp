// The job-state writer's batching rules and row encoding, without a database.
#include "wharf/pg/detail/batch.hpp"

#include <gtest/gtest.h>

namespace pg = wharf::pg;
using namespace wharf::pg::detail;
using namespace std::chrono_literals;

namespace {

const clock::time_point t0 = clock::time_point{} + 1h;

pg::job_start start(std::string id, pg::fence f = {1, 0, 1}) {
    pg::job_start s;
    s.id = std::move(id);
    s.queue = "q";
    s.fence = f;
    return s;
}

pg::job_outcome outcome(std::string id, pg::fence f = {1, 0, 1}, pg::job_status st = pg::job_status::succeeded) {
    pg::job_outcome o;
    o.id = std::move(id);
    o.queue = "q";
    o.fence = f;
    o.status = st;
    return o;
}

}  // namespace

TEST(batch_queue, an_outcome_rides_on_the_pending_start_of_the_same_delivery) {
    batch_queue q(100, 1000);
    q.add_start(start("a"), t0);
    q.add_outcome(outcome("a"), 1, t0);
    ASSERT_EQ(q.batches(), 1u);
    ASSERT_EQ(q.front().starts.size(), 1u);
    EXPECT_TRUE(q.front().outcomes.empty());
    ASSERT_TRUE(q.front().starts[0].outcome);
    EXPECT_EQ(q.front().starts[0].outcome->ticket, 1u);
    EXPECT_EQ(q.pending_outcomes(), 1u);
    const auto p = encode(q.front());
    EXPECT_FALSE(p.starts);
    ASSERT_TRUE(p.combined);
    EXPECT_EQ((*p.combined)[0], R"({"a"})");
    EXPECT_EQ((*p.combined)[12], R"({"succeeded"})");
    q.pop_front();
    EXPECT_EQ(q.pending_outcomes(), 0u);
    EXPECT_TRUE(q.empty());
}

TEST(batch_queue, an_outcome_of_another_delivery_stays_separate_after_the_start) {
    batch_queue q(100, 1000);
    q.add_start(start("a", {1, 0, 2}), t0);             // the new owner starts
    q.add_outcome(outcome("a", {1, 0, 1}), 1, t0);      // the old owner's late outcome
    ASSERT_EQ(q.batches(), 1u);
    EXPECT_FALSE(q.front().starts[0].outcome);
    EXPECT_EQ(q.front().outcomes.size(), 1u);  // written after the start: refused as stale
    q.add_start(start("b"), t0);
    q.add_outcome(outcome("b"), 2, t0);
    const auto p = encode(q.front());
    ASSERT_TRUE(p.starts && p.combined && p.outcomes);
    EXPECT_EQ((*p.starts)[0], R"({"a"})");
    EXPECT_EQ((*p.combined)[0], R"({"b"})");
}

TEST(batch_queue, a_start_after_an_outcome_of_the_same_job_waits_for_the_next_batch) {
    batch_queue q(100, 1000);
    q.add_outcome(outcome("a", {1, 0, 1}, pg::job_status::queued), 1, t0);  // retry scheduled
    q.add_start(start("a", {2, 0, 1}), t0);                                 // the retry starts
    q.add_start(start("b"), t0);
    ASSERT_EQ(q.batches(), 2u);
    EXPECT_TRUE(q.front().starts.empty());
    q.pop_front();
    EXPECT_EQ(q.front().starts.size(), 2u);
}

TEST(batch_queue, a_second_outcome_of_a_job_goes_to_the_next_batch) {
    batch_queue q(100, 1000);
    q.add_outcome(outcome("a"), 1, t0);
    q.add_outcome(outcome("a"), 2, t0);
    ASSERT_EQ(q.batches(), 2u);
    EXPECT_EQ(q.front().outcomes.size(), 1u);
    EXPECT_EQ(q.front().outcomes[0].ticket, 1u);
}

TEST(batch_queue, starts_of_a_job_coalesce_to_the_largest_fence_and_count_takes) {
    batch_queue q(100, 1000);
    q.add_start(start("a", {5, 0, 1}), t0);
    q.add_start(start("a", {5, 0, 2}), t0);  // take-over
    q.add_start(start("a", {5, 0, 1}), t0);  // late duplicate of the first: ignored
    ASSERT_EQ(q.front().starts.size(), 1u);
    EXPECT_EQ(q.front().starts[0].start.fence, (pg::fence{5, 0, 2}));
    EXPECT_EQ(q.front().starts[0].takes, 2);
}

TEST(batch_queue, progress_coalesces_latest_wins_and_is_bounded) {
    batch_queue q(10, 10);
    EXPECT_TRUE(q.add_progress("q", "a", {1, 0, 1}, "1", t0));
    EXPECT_TRUE(q.add_progress("q", "a", {1, 0, 1}, "2", t0));
    EXPECT_TRUE(q.add_progress("q", "a", {1, 0, 0}, "old owner", t0));
    ASSERT_EQ(q.front().progress.size(), 1u);
    EXPECT_EQ(q.front().progress[0].json, "2");
    for (int i = 0; i < 9; ++i) EXPECT_TRUE(q.add_progress("q", "j" + std::to_string(i), {1, 0, 1}, "0", t0));
    EXPECT_FALSE(q.add_progress("q", "one-too-many", {1, 0, 1}, "0", t0));  // dropped: advisory only
    EXPECT_TRUE(q.add_progress("q", "a", {1, 0, 1}, "3", t0));               // coalescing still works
    EXPECT_EQ(q.progress_rows(), 10u);
}

TEST(batch_queue, batches_hold_at_most_max_batch_rows_per_kind) {
    batch_queue q(3, 100);
    for (int i = 0; i < 7; ++i) q.add_outcome(outcome("o" + std::to_string(i)), static_cast<std::uint64_t>(i), t0);
    EXPECT_EQ(q.batches(), 3u);
    EXPECT_EQ(q.front().outcomes.size(), 3u);
    EXPECT_TRUE(q.front_ready(t0, 1s));  // full: no waiting for company
}

TEST(batch_queue, outcomes_beyond_the_bound_wait_in_order_for_room) {
    batch_queue q(2, 4);
    for (int i = 0; i < 7; ++i) q.add_outcome(outcome("o" + std::to_string(i)), static_cast<std::uint64_t>(i), t0);
    EXPECT_EQ(q.pending_outcomes(), 4u);
    EXPECT_EQ(q.waiting_outcomes(), 3u);
    q.seal_front();
    q.pop_front();  // two flushed: two admitted
    EXPECT_EQ(q.pending_outcomes(), 4u);
    EXPECT_EQ(q.waiting_outcomes(), 1u);
    std::vector<std::uint64_t> order;
    while (!q.empty()) {
        for (const auto& o : q.front().outcomes) order.push_back(o.ticket);
        q.pop_front();
    }
    EXPECT_EQ(order, (std::vector<std::uint64_t>{2, 3, 4, 5, 6}));
}

TEST(batch_queue, a_sealed_batch_takes_nothing_more) {
    batch_queue q(100, 1000);
    q.add_start(start("a"), t0);
    q.seal_front();
    q.add_start(start("b"), t0);
    q.add_progress("q", "a", {1, 0, 1}, "{}", t0);
    q.add_outcome(outcome("c"), 1, t0);
    ASSERT_EQ(q.batches(), 2u);
    EXPECT_EQ(q.front().rows(), 1u);
}

TEST(batch_queue, a_lone_batch_waits_max_delay_for_company) {
    batch_queue q(100, 1000);
    q.add_start(start("a"), t0);
    EXPECT_FALSE(q.front_ready(t0 + 1ms, 2ms));
    EXPECT_EQ(q.front_due(2ms), t0 + 2ms);
    EXPECT_TRUE(q.front_ready(t0 + 2ms, 2ms));
}

TEST(encode, one_array_per_column_rows_sorted_by_id) {
    batch_queue q(100, 1000);
    auto s = start("b\"x", {7, 3, 2});
    s.attempt = 2;
    s.max_attempts = 5;
    s.api_key = "key";
    s.payload_json = R"({"k":"v"})";
    q.add_start(std::move(s), t0);
    q.add_start(start("a"), t0);
    auto o = outcome("a", {0, 9, 1}, pg::job_status::queued);  // another delivery: not merged
    o.error = "boom\xFF";
    o.run_at = std::chrono::system_clock::time_point{} + std::chrono::milliseconds{1700000000123};
    q.add_outcome(std::move(o), 1, t0);
    const auto p = encode(q.front());
    ASSERT_TRUE(p.starts && p.outcomes);
    EXPECT_FALSE(p.progress);
    const auto& st = *p.starts;
    EXPECT_EQ(st[0], R"({"a","b\"x"})");
    EXPECT_EQ(st[2], "{1,2}");  // attempt
    EXPECT_EQ(st[3], "{1,5}");  // max_attempts
    EXPECT_EQ(st[4], "{1,1}");  // takes
    EXPECT_EQ(st[5], "{1,7}");
    EXPECT_EQ(st[6], "{0,3}");
    EXPECT_EQ(st[7], "{1,2}");
    EXPECT_EQ(st[8], R"({NULL,"key"})");
    EXPECT_EQ(st[10], R"({"{}","{\"k\":\"v\"}"})");
    const auto& out = *p.outcomes;
    EXPECT_EQ(out[5], R"({"queued"})");
    EXPECT_EQ(out[7], "{\"boom\xEF\xBF\xBD\"}");
    EXPECT_EQ(out[8], "{NULL}");
    EXPECT_EQ(out[9], "{1700000000123}");
    EXPECT_EQ(out[10], "{0}");  // generation
}

TEST(batch_queue, jobs_of_two_queues_with_the_same_id_are_two_rows) {
    batch_queue q(100, 1000);
    auto a = start("1700000000000-0");
    auto b = start("1700000000000-0");
    b.queue = "other";
    q.add_start(a, t0);
    q.add_start(b, t0);  // not coalesced into a's row
    ASSERT_EQ(q.front().starts.size(), 2u);
    auto oa = outcome("1700000000000-0");
    q.add_outcome(oa, 1, t0);  // rides on a's start, not b's
    EXPECT_EQ(q.front().merged, 1u);
    ASSERT_TRUE(q.front().starts[0].outcome);
    EXPECT_FALSE(q.front().starts[1].outcome);
    q.add_progress("other", "1700000000000-0", {1, 0, 1}, "{}", t0);
    q.add_progress("q", "1700000000000-0", {1, 0, 1}, "{}", t0);
    EXPECT_EQ(q.front().progress.size(), 2u);
    const auto p = encode(q.front());
    ASSERT_TRUE(p.starts && p.combined);
    EXPECT_EQ((*p.starts)[1], R"({"other"})");
    EXPECT_EQ((*p.combined)[1], R"({"q"})");
    EXPECT_EQ(job_key("q", "1700000000000-0"), "q/1700000000000-0");
}

TEST(batch_queue, a_newer_generation_outranks_any_entry_of_an_older_one) {
    const pg::fence old_run{1800000000000, 7, 9, 0}, retried{1700000000000, 0, 1, 1};
    EXPECT_LT(old_run, retried);
    batch_queue q(100, 1000);
    q.add_start(start("a", retried), t0);
    q.add_start(start("a", old_run), t0);  // a late take-over of the old run: ignored
    ASSERT_EQ(q.front().starts.size(), 1u);
    EXPECT_EQ(q.front().starts[0].start.fence, retried);
    EXPECT_EQ(q.front().starts[0].takes, 1);
    const auto p = encode(q.front());
    EXPECT_EQ((*p.starts)[11], "{1}");  // generation
}
