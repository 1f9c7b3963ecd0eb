// Cancelling jobs (wharfctl cancel, the runtime's cancel watcher and the claim check): real
// redis-server and PostgreSQL, real wharf-worker processes.
#include "fleet.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;
using wharf::test::logs_on_failure;
using wharf::test::status_of;

}  // namespace

TEST(cancel, a_running_job_is_stopped_and_recorded_cancelled_not_retried) {
    fleet f;
    logs_on_failure logs{f};
    auto& w = f.start_worker({"--queues", "sleep=2"});
    f.enqueue("sleep", {{"id", "long-1"}, {"payload", {{"ms", 120'000}}}, {"max_attempts", 3}});
    f.enqueue("sleep", {{"id", "short-1"}, {"payload", {{"ms", 10}}}});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "long-1") == "running"; }, 20s)) << status_of(f, "long-1");
    const auto r = f.ctl({"cancel", "long-1"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("cancel asked for job long-1 of sleep"), std::string::npos) << r.output;
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "long-1") == "cancelled"; }, 10s)) << status_of(f, "long-1");
    const auto row = f.job("long-1");
    EXPECT_EQ(row->attempts, 1);
    EXPECT_NE(row->error.value_or("").find("cancelled during attempt 1 of 3"), std::string::npos) << *row->error;
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0 && f.pending("sleep") == 0; }, 5s));
    EXPECT_EQ(f.delayed("sleep"), 0);  // not retried
    EXPECT_EQ(f.stat("sleep", "cancelled"), 1);
    EXPECT_EQ(status_of(f, "short-1"), "succeeded");  // the other job was left alone
    EXPECT_EQ(f.cmd({"HLEN", "wharf:{sleep}:cancel"}).integer(), 0);  // the request is done with
    EXPECT_TRUE(w.running());
    // A job that is over cannot be cancelled; one that is cancelled already says so.
    const auto done = f.ctl({"cancel", "short-1"});
    EXPECT_EQ(done.status, 1) << done.output;
    EXPECT_NE(done.output.find("already succeeded"), std::string::npos) << done.output;
    const auto again = f.ctl({"cancel", "long-1"});
    EXPECT_EQ(again.status, 0) << again.output;
    EXPECT_NE(again.output.find("cancelled already"), std::string::npos) << again.output;
    EXPECT_EQ(f.ctl({"cancel", "no-such-job"}).status, 1);
}

TEST(cancel, a_queued_job_never_starts_with_or_without_a_producer_id) {
    fleet f;
    logs_on_failure logs{f};
    // No worker yet: the jobs wait in the stream. A fail job that ran would fail and be retried.
    const auto enq = f.ctl({"enqueue", "fail", "--id", "queued-1", "--payload", R"({"fail_attempts":5})",
                            "--max-attempts", "3"});
    ASSERT_EQ(enq.status, 0) << enq.output;
    const auto anonymous = f.enqueue("fail", {{"payload", {{"fail_attempts", 5}}}, {"max_attempts", 3}});
    ASSERT_EQ(f.ctl({"cancel", "queued-1"}).status, 0);
    // A job with no row yet (a producer's bare XADD) needs its queue named.
    const auto no_row = f.ctl({"cancel", anonymous});
    EXPECT_EQ(no_row.status, 1) << no_row.output;
    EXPECT_NE(no_row.output.find("--queue"), std::string::npos) << no_row.output;
    ASSERT_EQ(f.ctl({"cancel", anonymous, "--queue", "fail"}).status, 0);
    f.enqueue("fail", {{"id", "other-1"}, {"payload", {{"fail_attempts", 0}}}});
    f.start_worker({"--queues", "fail=2"});
    ASSERT_TRUE(fleet::eventually(
        [&] { return status_of(f, "queued-1") == "cancelled" && status_of(f, anonymous) == "cancelled"; }, 20s))
        << status_of(f, "queued-1") << " / " << status_of(f, anonymous);
    for (const auto& id : {std::string{"queued-1"}, anonymous}) {
        const auto row = f.job(id);
        EXPECT_EQ(row->error.value_or(""), "cancelled before it started") << id;
    }
    EXPECT_TRUE(fleet::eventually([&] { return status_of(f, "other-1") == "succeeded"; }, 10s));
    EXPECT_EQ(f.stat("fail", "retried"), 0);  // neither cancelled job ran
    EXPECT_EQ(f.delayed("fail"), 0);
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("fail") == 0 && f.pending("fail") == 0; }, 5s));
    EXPECT_EQ(f.cmd({"HLEN", "wharf:{fail}:cancel"}).integer(), 0);
}
