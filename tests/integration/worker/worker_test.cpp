// The runtime semantics of issue 2, each proved against a real redis-server and PostgreSQL with
// real wharf-worker processes (killed, signalled and restarted like in production).
#include "fleet.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/queue/envelope.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;
using wharf::test::fleet;
using wharf::test::logs_on_failure;
using wharf::test::status_of;

TEST(worker, kill_9_mid_job_another_worker_takes_it_over_and_finishes_it_once) {
    fleet f;
    logs_on_failure logs{f};
    auto& first = f.start_worker({"--queues", "sleep=2", "--lease", "2s", "--sweep", "200ms"});
    const auto entry = f.enqueue("sleep", {{"payload", {{"ms", 1'500}}}});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, entry) == "running"; }, 20s));
    first.kill_hard();
    const auto killed_at = std::chrono::steady_clock::now();
    f.start_worker({"--queues", "sleep=2", "--lease", "2s", "--sweep", "200ms"});

    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, entry) == "succeeded"; }, 30s));
    // Taken over within lease + one sweep (+ the 1.5 s run and some slack for process start-up).
    EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 2s + 200ms + 1'500ms + 4s);
    const auto row = f.job(entry);
    EXPECT_EQ(row->attempts, 1);  // a take-over is not a new attempt...
    EXPECT_EQ(row->epoch, 2);     // ...but a second holder of the job
    EXPECT_EQ(f.stat("sleep", "succeeded"), 1);
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0 && f.pending("sleep") == 0; }, 5s));
}

TEST(worker, two_workers_ten_thousand_jobs_each_succeeds_exactly_once) {
    fleet f;
    logs_on_failure logs{f};
    constexpr std::size_t jobs = 10'000;
    f.start_worker({"--queues", "noop=16"});
    f.start_worker({"--queues", "noop=16"});
    f.enqueue_many("noop", jobs, [](std::size_t i) { return json{{"payload", {{"n", i}}}}; });

    ASSERT_TRUE(fleet::eventually(
        [&] { return f.count("SELECT count(*) FROM jobs WHERE queue = 'noop' AND status = 'succeeded'") == jobs; },
        120s))
        << f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") << " succeeded";
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs"), jobs);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE attempts = 1 AND epoch = 1"), jobs);
    EXPECT_EQ(f.count("SELECT count(DISTINCT payload->>'n') FROM jobs"), jobs);  // none lost, none doubled
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("noop") == 0 && f.pending("noop") == 0; }, 10s));
    EXPECT_EQ(f.stat("noop", "succeeded"), static_cast<std::int64_t>(jobs));
    // Both workers took part (each logs its own start of the queue; the rows do not say who).
    EXPECT_EQ(f.cmd({"XINFO", "CONSUMERS", "wharf:{noop}:stream", "workers"}).size(), 2u);
}

// Several I/O threads: every piece of runtime state lives on one strand, while Redis and
// PostgreSQL completions, the pg pool and the job state writer run on other threads. Three queues
// at once, one of them of jobs that wait on a timer: every job of every queue starts and succeeds
// exactly once. CI runs it under ThreadSanitizer, where a data race fails the worker
// (halt_on_error) and fleet's log check. (The --threads 4 failure that once removed this test,
// "the sleep queue never ran its jobs", was not a race: it was the cross-queue id collision below.)
static void every_job_of_every_queue_succeeds_once_with_threads(const char* threads) {
    fleet f;
    logs_on_failure logs{f};
    constexpr std::size_t noops = 4'000, sleeps = 300, fails = 300;
    f.start_worker({"--queues", "noop=32,sleep=8,fail=4", "--threads", threads});
    // No pause between the queues' XADDs: their entry ids (each job's default id) collide, and
    // every job must still be a job of its own (see jobs_of_two_queues_with_the_same_entry_id...).
    f.enqueue_many("sleep", sleeps, [](std::size_t i) { return json{{"payload", {{"ms", 2}, {"n", i}}}}; });
    f.enqueue_many("noop", noops, [](std::size_t i) { return json{{"payload", {{"n", i}}}}; });
    // fail_attempts 0: succeeds at its first attempt (the fail job type's own code path).
    f.enqueue_many("fail", fails, [](std::size_t i) { return json{{"payload", {{"fail_attempts", 0}, {"n", i}}}}; });
    const auto succeeded = [&](const char* queue) {
        return f.count(std::string{"SELECT count(*) FROM jobs WHERE status = 'succeeded' AND queue = '"} + queue + "'");
    };
    const auto counts = [&] {
        return "noop " + std::to_string(succeeded("noop")) + "/" + std::to_string(noops) + ", sleep " +
               std::to_string(succeeded("sleep")) + "/" + std::to_string(sleeps) + ", fail " +
               std::to_string(succeeded("fail")) + "/" + std::to_string(fails) + " succeeded";
    };
    // The sleep queue must make progress while the other two are busy, not only after them.
    ASSERT_TRUE(fleet::eventually([&] { return succeeded("sleep") > 0; }, 60s)) << counts();
    ASSERT_TRUE(fleet::eventually(
        [&] {
            return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") ==
                   static_cast<std::int64_t>(noops + sleeps + fails);
        },
        180s))
        << counts();
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs"), noops + sleeps + fails);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE attempts = 1 AND epoch = 1"), noops + sleeps + fails);
    EXPECT_EQ(f.count("SELECT count(DISTINCT (queue, payload->>'n')) FROM jobs"), noops + sleeps + fails);
    EXPECT_TRUE(fleet::eventually(
        [&] { return f.pending("noop") == 0 && f.pending("sleep") == 0 && f.pending("fail") == 0; }, 10s));
    EXPECT_EQ(f.stat("sleep", "succeeded"), static_cast<std::int64_t>(sleeps));
}

TEST(worker, with_two_io_threads_every_job_of_every_queue_still_succeeds_exactly_once) {
    every_job_of_every_queue_succeeds_once_with_threads("2");
}

TEST(worker, with_several_io_threads_every_job_still_succeeds_exactly_once) {
    every_job_of_every_queue_succeeds_once_with_threads("4");
}

// The cause of the "--threads 4: one queue never ran its jobs" failure (issue 8), with one thread:
// a job's default id is its stream entry id, unique only within its own stream. Two producers'
// XADDs in the same millisecond give two queues the same entry id; while `jobs` was keyed by id
// alone, the second job's outcome met the first job's final row under the same fence, was taken
// for a replay ("applied"), and was acknowledged with no row of its own. A job is (queue, id).
TEST(worker, jobs_of_two_queues_with_the_same_entry_id_each_get_their_own_row) {
    fleet f;
    logs_on_failure logs{f};
    f.start_worker({"--queues", "noop=4,fail=4"});
    for (int i = 1; i <= 20; ++i) {
        const std::string id = "1700000000000-" + std::to_string(i);
        f.cmd({"XADD", "wharf:{noop}:stream", id, "job", json{{"payload", {{"n", i}}}}.dump()});
        f.cmd({"XADD", "wharf:{fail}:stream", id, "job", json{{"payload", {{"fail_attempts", 0}, {"n", i}}}}.dump()});
    }
    ASSERT_TRUE(
        fleet::eventually([&] { return f.stat("noop", "succeeded") == 20 && f.stat("fail", "succeeded") == 20; }, 30s));
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE queue = 'noop' AND status = 'succeeded'"), 20);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE queue = 'fail' AND status = 'succeeded'"), 20);
}

// A run whose last outcome reached PostgreSQL but whose hand-over to Redis was lost (Redis came
// back from an AOF without it, or the worker died in between) leaves its entry pending, and a
// take-over finds the row final. The entry is settled the way the run ended -- dead-lettered,
// once, when the run went dead with this very entry; acknowledged when it succeeded -- and the
// job does not run again.
TEST(worker, a_take_over_of_a_finished_run_settles_it_as_it_ended_without_running_it) {
    fleet f;
    logs_on_failure logs{f};
    f.cmd({"XGROUP", "CREATE", "wharf:{fail}:stream", "workers", "$", "MKSTREAM"});
    const auto dead_entry = f.enqueue(
        "fail", {{"id", "went-dead"}, {"payload", {{"fail_attempts", 9}}}, {"max_attempts", 3}, {"attempt", 3}});
    const auto done_entry = f.enqueue("fail", {{"id", "went-well"}, {"payload", {{"fail_attempts", 0}}}});
    // A worker took both and died after recording their outcomes.
    f.cmd({"XREADGROUP", "GROUP", "workers", "ghost", "COUNT", "10", "STREAMS", "wharf:{fail}:stream", ">"});
    const auto fence_of = [](const std::string& entry) {
        const auto dash = entry.find('-');
        return entry.substr(0, dash) + ", " + entry.substr(dash + 1) + ", 1";
    };
    ASSERT_EQ(f.count("WITH i AS (INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, entry_ms, "
                      "entry_seq, delivery, error, finished_at) VALUES "
                      "('went-dead', 'fail', 'dead', 3, 3, 1, " + fence_of(dead_entry) + ", 'failed 3 times', now()), "
                      "('went-well', 'fail', 'succeeded', 1, 3, 1, " + fence_of(done_entry) + ", NULL, now()) "
                      "RETURNING 1) SELECT count(*) FROM i"),
              2);
    f.start_worker({"--queues", "fail=2", "--lease", "1s", "--sweep", "200ms"});
    ASSERT_TRUE(fleet::eventually([&] { return f.stream_length("fail") == 0 && f.pending("fail") == 0; }, 30s));
    const auto dead = f.dead_entries("fail");
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].at("id"), "went-dead");
    EXPECT_EQ(dead[0].at("reason"), "failed 3 times");
    EXPECT_EQ(f.delayed("fail"), 0);  // neither ran again (a failing run would have scheduled a retry)
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE epoch = 1 AND ((id = 'went-dead' AND status = 'dead') OR "
                      "(id = 'went-well' AND status = 'succeeded'))"),
              2);
}

TEST(worker, poison_messages_are_dead_lettered_with_readable_reasons_and_good_jobs_still_run) {
    fleet f;
    logs_on_failure logs{f};
    auto& w = f.start_worker({"--queues", "noop=4"});
    const auto bad_json = f.enqueue_raw("noop", "{not json");
    const auto wrong_types = f.enqueue("noop", {{"payload", 5}, {"max_attempts", "three"}});
    const auto wrong_queue = f.enqueue("noop", {{"type", "transcode"}, {"payload", json::object()}});
    const auto no_job = f.cmd({"XADD", "wharf:{noop}:stream", "*", "data", "x"}).str();
    std::vector<std::string> good;
    for (int i = 0; i < 20; ++i) good.push_back(f.enqueue("noop", {{"payload", {{"i", i}}}}));

    ASSERT_TRUE(fleet::eventually([&] { return f.dead_entries("noop").size() == 4; }, 20s));
    ASSERT_TRUE(
        fleet::eventually([&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") == 20; }, 20s));
    std::map<std::string, std::string> reasons;
    for (auto& e : f.dead_entries("noop")) reasons[e["id"]] = e["reason"];
    for (const auto& id : {bad_json, wrong_types, wrong_queue, no_job}) {
        ASSERT_TRUE(reasons.contains(id)) << id;
        EXPECT_NE(reasons[id].find("malformed envelope"), std::string::npos) << reasons[id];
        const auto row = f.job(id);
        ASSERT_TRUE(row) << id;
        EXPECT_EQ(row->status, "dead");
        EXPECT_EQ(row->error.value_or(""), reasons[id]);
    }
    // Readable: each reason names what is wrong (the codec's words, not a stack trace).
    EXPECT_NE(reasons[wrong_queue].find("transcode"), std::string::npos) << reasons[wrong_queue];
    EXPECT_NE(reasons[wrong_types].find("payload"), std::string::npos) << reasons[wrong_types];
    EXPECT_TRUE(w.running());
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("noop") == 0 && f.pending("noop") == 0; }, 5s));
}

// Issue 8: hostile envelopes. A payload nested 200,000 levels deep used to crash every worker
// that decoded it (a fleet-wide crash loop); a number outside double's range threw out of the
// job coroutine and leaked its slot, so shutdown then waited out the whole grace period.
TEST(worker, hostile_envelopes_are_dead_lettered_and_leak_no_slot) {
    fleet f;
    logs_on_failure logs{f};
    auto& w = f.start_worker({"--queues", "noop=1", "--grace", "60s"});
    const std::string deep_array = std::string(200'000, '[') + std::string(200'000, ']');
    std::string deep_object;
    for (int i = 0; i < 100'000; ++i) deep_object += R"({"a":)";
    deep_object += "1" + std::string(100'000, '}');
    const std::vector<std::string> hostile = {
        f.enqueue_raw("noop", R"({"payload":{"x":)" + deep_array + "}}"),
        f.enqueue_raw("noop", R"({"payload":)" + deep_object + "}"),
        f.enqueue_raw("noop", R"({"payload":{"n":1e999999}})"),
        f.enqueue_raw("noop", R"({"payload":{},"max_attempts":-1e400})"),
        f.enqueue_raw("noop", R"({"payload":{},"trace":)" + deep_array + "}"),
        f.enqueue_raw("noop", std::string(R"({"payload":{"s":")") + "\xc3\x28" + "\"}}"),
    };
    // With one slot, a leaked slot would stop these from ever running.
    std::vector<std::string> good;
    for (int i = 0; i < 20; ++i) good.push_back(f.enqueue("noop", {{"payload", {{"i", i}}}}));

    ASSERT_TRUE(fleet::eventually([&] { return f.dead_entries("noop").size() == hostile.size(); }, 30s))
        << f.dead_entries("noop").size() << " dead";
    ASSERT_TRUE(
        fleet::eventually([&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") == 20; }, 30s));
    std::map<std::string, std::string> reasons;
    for (auto& e : f.dead_entries("noop")) reasons[e["id"]] = e["reason"];
    for (const auto& id : hostile) {
        ASSERT_TRUE(reasons.contains(id)) << id;
        EXPECT_TRUE(reasons[id].starts_with("malformed envelope: ")) << reasons[id];
        EXPECT_LT(reasons[id].size(), 300u) << reasons[id];
        const auto row = f.job(id);
        ASSERT_TRUE(row) << id;
        EXPECT_EQ(row->status, "dead");
    }
    EXPECT_EQ(reasons[hostile[0]], "malformed envelope: envelope: nested deeper than 64 levels");
    EXPECT_EQ(reasons[hostile[1]], "malformed envelope: envelope: nested deeper than 64 levels");
    EXPECT_NE(reasons[hostile[2]].find("number overflow"), std::string::npos) << reasons[hostile[2]];
    EXPECT_TRUE(w.running());
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("noop") == 0 && f.pending("noop") == 0; }, 5s));
    // Nothing is running: SIGTERM ends the worker at once, not after the 60 s grace period.
    w.signal(SIGTERM);
    EXPECT_EQ(w.wait(20s), 0);
}

// The "died too often" rule holds before the envelope is decoded, so an entry that kills the
// decoder itself cannot crash-loop the fleet. The deaths are simulated: a consumer that took
// the entry and "died" 110 times (XCLAIM ... RETRYCOUNT), then the worker's take-over.
TEST(worker, an_entry_whose_workers_keep_dying_is_dead_lettered_before_it_is_decoded) {
    fleet f;
    logs_on_failure logs{f};
    f.cmd({"XGROUP", "CREATE", "wharf:{noop}:stream", "workers", "$", "MKSTREAM"});
    // Not JSON: were it decoded, it would be dead-lettered as a malformed envelope instead.
    const auto id = f.enqueue_raw("noop", "[[[[ stands for a text that kills the decoder");
    const auto taken =
        f.cmd({"XREADGROUP", "GROUP", "workers", "ghost", "COUNT", "1", "STREAMS", "wharf:{noop}:stream", ">"});
    ASSERT_TRUE(taken.is_array()) << taken.debug_string();
    f.cmd({"XCLAIM", "wharf:{noop}:stream", "workers", "ghost", "0", id, "IDLE", "600000", "RETRYCOUNT", "110"});
    auto& w = f.start_worker({"--queues", "noop=2", "--lease", "2s", "--sweep", "200ms"});
    ASSERT_TRUE(fleet::eventually([&] { return f.dead_entries("noop").size() == 1; }, 20s));
    const auto dead = f.dead_entries("noop");
    EXPECT_EQ(dead[0].at("id"), id);
    EXPECT_NE(dead[0].at("reason").find("worker died"), std::string::npos) << dead[0].at("reason");
    const auto row = f.job(id);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, "dead");
    EXPECT_EQ(row->error.value_or(""), dead[0].at("reason"));
    EXPECT_TRUE(w.running());
}

TEST(worker, retries_back_off_with_full_jitter_and_dead_letter_after_the_last_attempt) {
    fleet f;
    logs_on_failure logs{f};
    wharf::test::temp_dir dir{"wharf-retry"};
    const auto record = (dir.path() / "attempts.txt").string();
    f.start_worker({"--queues", "fail=2"});
    // Fails every attempt: 4 attempts (the fail type's default), then dead.
    const auto doomed = f.enqueue("fail", {{"payload", {{"record", record}, {"message", "disk on fire"}}}});
    // Fails twice, then succeeds on attempt 3.
    const auto flaky = f.enqueue("fail", {{"id", "flaky-1"}, {"payload", {{"fail_attempts", 2}}}});

    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, doomed) == "dead"; }, 30s));
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "flaky-1") == "succeeded"; }, 30s));

    const auto row = f.job(doomed);
    EXPECT_EQ(row->attempts, 4);
    EXPECT_EQ(row->epoch, 4);
    EXPECT_NE(row->error.value_or("").find("disk on fire"), std::string::npos);
    EXPECT_NE(row->error.value_or("").find("attempt 4 of 4, no attempts left"), std::string::npos);
    const auto dead = f.dead_entries("fail");
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].at("id"), doomed);
    EXPECT_EQ(dead[0].at("attempts"), "4");
    EXPECT_EQ(dead[0].at("reason"), row->error.value_or(""));

    const auto flaky_row = f.job("flaky-1");
    EXPECT_EQ(flaky_row->attempts, 3);
    EXPECT_EQ(flaky_row->result.value_or(""), R"({"attempt": 3})");

    // The schedule: attempt k+1 starts within [0, min(2 s, 200 ms * 2^(k-1))] of attempt k's end,
    // plus the promotion poll (50 ms) and scheduling slack on a loaded machine.
    std::ifstream in(record);
    std::vector<std::pair<int, std::int64_t>> attempts;
    int a = 0;
    std::int64_t at = 0;
    while (in >> a >> at) attempts.emplace_back(a, at);
    ASSERT_EQ(attempts.size(), 4u);
    const wharf::backoff_policy policy{200ms, 2'000ms, 0};
    for (std::size_t k = 1; k < attempts.size(); ++k) {
        EXPECT_EQ(attempts[k].first, static_cast<int>(k + 1));
        const auto gap = std::chrono::milliseconds(attempts[k].second - attempts[k - 1].second);
        EXPECT_GE(gap, 0ms);
        EXPECT_LE(gap, policy.delay_ceiling(static_cast<std::uint32_t>(k)) + 500ms) << "after attempt " << k;
    }
    EXPECT_EQ(f.stat("fail", "retried"), 3 + 2);
    EXPECT_TRUE(fleet::eventually([&] { return f.delayed("fail") == 0 && f.stream_length("fail") == 0; }, 5s));
}

TEST(worker, a_permanent_error_is_dead_at_once) {
    fleet f;
    logs_on_failure logs{f};
    f.start_worker({"--queues", "fail=1"});
    const auto id = f.enqueue("fail", {{"payload", {{"permanent", true}, {"message", "bad input"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, id) == "dead"; }, 20s));
    const auto row = f.job(id);
    EXPECT_EQ(row->attempts, 1);
    EXPECT_NE(row->error.value_or("").find("bad input (permanent error"), std::string::npos) << *row->error;
}

TEST(worker, graceful_shutdown_lets_a_running_job_finish_within_the_grace_period) {
    fleet f;
    logs_on_failure logs{f};
    auto& w = f.start_worker({"--queues", "sleep=1", "--grace", "10s"});
    const auto id = f.enqueue("sleep", {{"payload", {{"ms", 1'500}}}});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, id) == "running"; }, 20s));
    w.signal(SIGTERM);
    const auto status = w.wait(15s);
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0);
    const auto row = f.job(id);
    EXPECT_EQ(row->status, "succeeded");  // finished and recorded before the process exited
    EXPECT_EQ(f.stream_length("sleep"), 0);
    EXPECT_EQ(f.pending("sleep"), 0);  // and acknowledged
}

TEST(worker, graceful_shutdown_hands_back_a_job_longer_than_the_grace_period) {
    fleet f;
    logs_on_failure logs{f};
    // A long lease: the second worker can only get the job through the hand-back, not a take-over.
    auto& w = f.start_worker({"--queues", "sleep=1", "--grace", "500ms", "--lease", "60s"});
    const auto id = f.enqueue("sleep", {{"payload", {{"ms", 3'000}}}});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, id) == "running"; }, 20s));
    w.signal(SIGTERM);
    const auto status = w.wait(10s);
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0);
    EXPECT_EQ(status_of(f, id), "queued");
    EXPECT_EQ(f.pending("sleep"), 0);

    const auto restarted = std::chrono::steady_clock::now();
    f.start_worker({"--queues", "sleep=1", "--lease", "60s"});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, id) == "succeeded"; }, 20s));
    EXPECT_LT(std::chrono::steady_clock::now() - restarted, 3s + 3s);
    const auto row = f.job(id);
    EXPECT_EQ(row->attempts, 1);  // handing back does not use up an attempt
    EXPECT_EQ(row->epoch, 2);
}

// Short jobs are read ahead of free slots (read_ahead.hpp). A SIGTERM in the middle of a stream of
// them hands the read-ahead ones back at once; with another worker they all run exactly once.
TEST(worker, shutdown_hands_back_jobs_read_ahead_and_none_is_lost_or_doubled) {
    fleet f;
    logs_on_failure logs{f};
    constexpr std::size_t jobs = 3'000;
    // A long lease: a job left pending instead of handed back would not come back in time.
    auto& w = f.start_worker({"--queues", "sleep=4", "--grace", "10s", "--lease", "60s"});
    f.enqueue_many("sleep", jobs, [](std::size_t i) { return json{{"payload", {{"ms", 0}, {"n", i}}}}; });
    ASSERT_TRUE(
        fleet::eventually([&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") >= 200; }, 60s));
    w.signal(SIGTERM);
    const auto status = w.wait(20s);
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0);
    EXPECT_EQ(f.pending("sleep"), 0) << "every job in hand was finished or handed back";

    f.start_worker({"--queues", "sleep=4", "--lease", "60s"});
    ASSERT_TRUE(fleet::eventually(
        [&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") == jobs; }, 120s))
        << f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") << " succeeded";
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs"), jobs);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE attempts = 1"), jobs);  // a hand-back uses no attempt
    EXPECT_EQ(f.count("SELECT count(DISTINCT payload->>'n') FROM jobs"), jobs);
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0 && f.pending("sleep") == 0; }, 10s));
    EXPECT_EQ(f.stat("sleep", "succeeded"), static_cast<std::int64_t>(jobs));
}

TEST(worker, the_same_id_twice_runs_once) {
    fleet f;
    logs_on_failure logs{f};
    f.start_worker({"--queues", "sleep=4"});
    const json job{{"id", "dup-1"}, {"payload", {{"ms", 800}}}};
    f.enqueue("sleep", job);
    f.enqueue("sleep", job);  // while the first is running: waits on it, then is acknowledged
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "dup-1") == "succeeded"; }, 20s));
    ASSERT_TRUE(fleet::eventually([&] { return f.stat("sleep", "duplicates") == 1; }, 10s));
    f.enqueue("sleep", job);  // after it finished: acknowledged and noted, not run
    ASSERT_TRUE(fleet::eventually([&] { return f.stat("sleep", "duplicates") == 2; }, 10s));
    // Redis keeps a finished id for a minute only (--finished-id-ttl); then PostgreSQL's row tells.
    const auto ttl = f.cmd({"TTL", "wharf:{sleep}:id:dup-1"}).integer();
    EXPECT_GT(ttl, 40);
    EXPECT_LE(ttl, 60);
    f.cmd({"DEL", "wharf:{sleep}:id:dup-1"});
    f.enqueue("sleep", job);
    ASSERT_TRUE(fleet::eventually([&] { return f.stat("sleep", "duplicates") == 3; }, 10s));
    EXPECT_NE(f.worker_log(0).find("duplicate of a job that already ended (succeeded in PostgreSQL)"),
              std::string::npos);
    EXPECT_EQ(f.cmd({"HGET", "wharf:{sleep}:id:dup-1", "state"}).str(), "done");
    const auto row = f.job("dup-1");
    EXPECT_EQ(row->status, "succeeded");
    EXPECT_EQ(row->epoch, 1);  // started once
    EXPECT_EQ(f.stat("sleep", "succeeded"), 1);
    EXPECT_TRUE(fleet::eventually(
        [&] { return f.stream_length("sleep") == 0 && f.pending("sleep") == 0 && f.delayed("sleep") == 0; }, 5s));
}

TEST(worker, a_job_past_its_timeout_is_cancelled_and_retried_then_dead) {
    fleet f;
    logs_on_failure logs{f};
    f.start_worker({"--queues", "sleep=1"});
    const auto started = std::chrono::steady_clock::now();
    const auto id = f.enqueue("sleep", {{"timeout_s", 1}, {"max_attempts", 2}, {"payload", {{"ms", 60'000}}}});
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, id) == "dead"; }, 20s));
    // Two 1 s attempts and one backoff (at most 1 s for sleep's defaults): the 60 s sleeps were cut.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
    const auto row = f.job(id);
    EXPECT_EQ(row->attempts, 2);
    EXPECT_NE(row->error.value_or("").find("timed out after 1s"), std::string::npos) << *row->error;
}

TEST(worker, a_future_run_at_waits_in_the_delayed_set) {
    fleet f;
    logs_on_failure logs{f};
    f.start_worker({"--queues", "noop=1"});
    const auto due = std::chrono::system_clock::now() + 1'500ms;
    const auto entry = f.enqueue(
        "noop", {{"id", "later-1"}, {"run_at", wharf::queue::format_rfc3339(due)}, {"payload", json::object()}});
    (void)entry;
    ASSERT_TRUE(fleet::eventually([&] { return f.delayed("noop") == 1; }, 5s));
    EXPECT_EQ(status_of(f, "later-1"), "");
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, "later-1") == "succeeded"; }, 10s));
    EXPECT_GE(std::chrono::system_clock::now(), due);
}

TEST(worker, redis_restart_mid_run_loses_nothing) {
    fleet f{{.appendonly = true}};
    logs_on_failure logs{f};
    constexpr std::size_t jobs = 10'000;
    f.enqueue_many("sleep", jobs, [](std::size_t i) { return json{{"payload", {{"ms", 10}, {"n", i}}}}; });
    f.start_worker({"--queues", "sleep=50", "--lease", "5s", "--sweep", "500ms"});
    f.start_worker({"--queues", "sleep=50", "--lease", "5s", "--sweep", "500ms"});
    ASSERT_TRUE(fleet::eventually(
        [&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") >= 1'000; }, 60s));
    f.redis().stop();
    std::this_thread::sleep_for(1s);  // the workers notice, jobs in hand finish, acks pile up
    f.redis().start();

    ASSERT_TRUE(fleet::eventually(
        [&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") == jobs; }, 180s))
        << f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") << " succeeded";
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs"), jobs);
    EXPECT_EQ(f.count("SELECT count(DISTINCT payload->>'n') FROM jobs"), jobs);
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0 && f.pending("sleep") == 0; }, 30s))
        << "stream " << f.stream_length("sleep") << ", pending "
        << f.cmd({"XPENDING", "wharf:{sleep}:stream", "workers", "-", "+", "5"}).debug_string() << ", first entries "
        << f.cmd({"XRANGE", "wharf:{sleep}:stream", "-", "+", "COUNT", "3"}).debug_string();
}

TEST(worker, postgres_restart_mid_run_loses_nothing) {
    fleet f;
    logs_on_failure logs{f};
    constexpr std::size_t jobs = 3'000;
    f.enqueue_many("sleep", jobs, [](std::size_t i) { return json{{"payload", {{"ms", 5}, {"n", i}}}}; });
    f.start_worker({"--queues", "sleep=20"});
    ASSERT_TRUE(
        fleet::eventually([&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") >= 300; }, 60s));
    f.postgres().restart();
    ASSERT_TRUE(fleet::eventually(
        [&] { return f.count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") == jobs; }, 120s));
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs"), jobs);
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0 && f.pending("sleep") == 0; }, 30s));
}

TEST(worker, bad_flags_and_unknown_queues_are_refused_with_one_line_and_status_2) {
    const auto binary = (wharf::test::binary_dir() / "worker" / "wharf-worker").string();
    const auto check = [&](std::vector<std::string> argv, const std::string& expected) {
        argv.insert(argv.begin(), binary);
        wharf::test::process_options opts;
        opts.env["WHARF_DATABASE_URL"] = "postgresql://127.0.0.1:1/none";
        const auto r = wharf::test::run(argv, opts, 10s);
        EXPECT_EQ(r.status, 2) << r.output;
        EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    };
    check({"--queues", "nosuch=1", "--diagnostics"}, "no job type 'nosuch'");
    check({"--queues", "noop=1"}, "need --diagnostics");
    check({"--queues", "noop=x", "--diagnostics"}, "must be a whole number");
    check({"--queues", "noop=1", "--diagnostics", "--bogus"}, "unknown flag --bogus");
    check({"--queues", "noop=1", "--diagnostics", "--redis-url", "http://:pw@x"}, "--redis-url");
    check({"--queues", "noop=1", "--diagnostics", "--grace", "soon"}, "--grace");
}
