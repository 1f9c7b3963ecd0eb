// queue::operations against a real redis-server: each script's effect is checked on the Redis
// data structures themselves (stream, PEL, delayed ZSET, dead stream, id keys, stats).
#include "wharf/queue/error.hpp"
#include "wharf/queue/operations.hpp"
#include "wharf/redis/endpoint.hpp"
#include "wharf/test/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace asio = boost::asio;
namespace q = wharf::queue;
namespace redis = wharf::redis;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

class queue_ops : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = new wharf::test::redis_server(); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }

    void SetUp() override {
        auto where = redis::parse_url(server_->url());
        ASSERT_TRUE(where);
        conn_ = std::make_unique<redis::connection>(io_.get_executor(), *where);
        cmd({"FLUSHALL"});
        ops_ = std::make_unique<q::operations>(*conn_, "media");
        run(ops_->ensure_group());
    }
    void TearDown() override {
        ops_.reset();
        if (conn_) conn_->close();
        io_.restart();
        io_.run_for(200ms);
        conn_.reset();
    }

    // Drives the io_context until the coroutine finishes (the connection keeps work queued, so
    // run() alone would not return).
    template <class T>
    T run(asio::awaitable<T> a) {
        auto f = asio::co_spawn(io_, std::move(a), asio::use_future);
        io_.restart();
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (f.wait_for(0s) != std::future_status::ready) {
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("test coroutine timed out");
            io_.run_one_for(20ms);
        }
        return f.get();
    }

    redis::reply cmd(redis::command c) { return run(conn_->exec(std::move(c))); }
    std::int64_t integer(redis::command c) { return cmd(std::move(c)).integer(); }
    std::int64_t pending_count() { return cmd({"XPENDING", ops_->keys().stream, "workers"})[0].integer(); }
    std::string stat(const std::string& field) {
        auto r = cmd({"HGET", ops_->keys().stats, field});
        return r.is_nil() ? "0" : r.str();
    }
    std::string id_state(const std::string& id) {
        auto r = cmd({"HGET", ops_->keys().id_key(id), "state"});
        return r.is_nil() ? "" : r.str();
    }

    q::envelope job(std::optional<std::string> id = std::nullopt, std::string payload = R"({"n":1})") {
        q::envelope e;
        e.type = "media";
        e.payload_json = std::move(payload);
        e.id = std::move(id);
        return e;
    }
    q::envelope decoded(const std::string& text) {
        auto r = q::decode(text, "media");
        EXPECT_TRUE(std::holds_alternative<q::envelope>(r)) << text;
        return std::get<q::envelope>(r);
    }
    std::vector<q::delivery> read(const std::string& consumer, std::size_t n = 10) {
        return run(q::operations::read_new(*conn_, ops_->keys(), consumer, n, 100ms));
    }

    static wharf::test::redis_server* server_;
    asio::io_context io_;
    std::unique_ptr<redis::connection> conn_;
    std::unique_ptr<q::operations> ops_;
};

wharf::test::redis_server* queue_ops::server_ = nullptr;

}  // namespace

TEST_F(queue_ops, enqueue_adds_to_the_stream_and_the_registry_and_read_new_delivers_it) {
    const std::string entry = run(ops_->enqueue(job()));
    ASSERT_FALSE(entry.empty());
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 1);
    EXPECT_EQ(integer({"SISMEMBER", std::string{q::registry_key}, "media"}), 1);

    const auto got = read("w1");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].entry_id, entry);
    EXPECT_EQ(got[0].delivery_count, 1);
    EXPECT_EQ(std::to_string(got[0].entry_ms) + "-" + std::to_string(got[0].entry_seq), entry);
    EXPECT_EQ(json::parse(decoded(got[0].job_text).payload_json), json::parse(R"({"n":1})"));
    EXPECT_EQ(pending_count(), 1);
    EXPECT_TRUE(read("w1").empty());  // nothing new: BLOCK times out
}

TEST_F(queue_ops, entries_added_before_the_group_existed_are_delivered) {
    cmd({"DEL", ops_->keys().stream});
    cmd({"XADD", ops_->keys().stream, "*", "job", R"({"payload":{}})"});
    run(ops_->ensure_group());
    run(ops_->ensure_group());  // idempotent (BUSYGROUP is not an error)
    EXPECT_EQ(read("w1").size(), 1u);
}

TEST_F(queue_ops, read_new_recreates_a_group_that_vanished) {
    cmd({"DEL", ops_->keys().stream});
    EXPECT_TRUE(read("w1").empty());
    run(ops_->enqueue(job()));
    EXPECT_EQ(read("w1").size(), 1u);
}

TEST_F(queue_ops, enqueue_with_a_future_run_at_goes_to_delayed_with_a_token) {
    auto e = job("later-1");
    e.run_at = std::chrono::system_clock::now() + 1h;
    EXPECT_EQ(run(ops_->enqueue(e)), "");
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
    auto members = cmd({"ZRANGE", ops_->keys().delayed, "0", "-1"});
    ASSERT_EQ(members.size(), 1u);
    const auto stored = decoded(members[0].str());
    EXPECT_TRUE(stored.token);
    EXPECT_EQ(stored.id, "later-1");
    // Two identical delayed envelopes stay two jobs (distinct ZSET members).
    auto plain = job();
    plain.run_at = e.run_at;
    run(ops_->enqueue(plain));
    run(ops_->enqueue(plain));
    EXPECT_EQ(integer({"ZCARD", ops_->keys().delayed}), 3);
}

TEST_F(queue_ops, retry_later_moves_the_entry_out_of_stream_and_pel_into_delayed) {
    run(ops_->enqueue(job()));
    const auto d = read("w1").at(0);
    auto next = decoded(d.job_text);
    next.attempt = 2;
    const auto due = std::chrono::system_clock::now() + 5s;
    run(ops_->retry_later(d, next, due));

    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
    EXPECT_EQ(pending_count(), 0);
    auto members = cmd({"ZRANGE", ops_->keys().delayed, "0", "-1", "WITHSCORES"});
    ASSERT_EQ(members.size(), 2u);
    const auto stored = decoded(members[0].str());
    EXPECT_EQ(stored.attempt, 2);
    EXPECT_EQ(stored.token, d.entry_id);  // the run keeps its token across retries
    EXPECT_EQ(std::stoll(members[1].str()),
              std::chrono::duration_cast<std::chrono::milliseconds>(due.time_since_epoch()).count());
    EXPECT_EQ(stat("retried"), "1");
}

TEST_F(queue_ops, promote_due_moves_only_due_members_and_respects_the_limit) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    cmd({"ZADD", ops_->keys().delayed, std::to_string(now - 2000), R"({"payload":{"k":"a"}})"});
    cmd({"ZADD", ops_->keys().delayed, std::to_string(now - 1000), R"({"payload":{"k":"b"}})"});
    cmd({"ZADD", ops_->keys().delayed, std::to_string(now - 500), R"({"payload":{"k":"c"}})"});
    cmd({"ZADD", ops_->keys().delayed, std::to_string(now + 60'000), R"({"payload":{"k":"future"}})"});

    EXPECT_EQ(run(ops_->promote_due(2)), 2u);
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 2);
    EXPECT_EQ(integer({"ZCARD", ops_->keys().delayed}), 2);
    EXPECT_EQ(run(ops_->promote_due(100)), 1u);
    EXPECT_EQ(run(ops_->promote_due(100)), 0u);
    EXPECT_EQ(integer({"ZCARD", ops_->keys().delayed}), 1);

    // Oldest due first, each as its own entry with the member as the job field.
    const auto got = read("w1");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(json::parse(got[0].job_text)["payload"]["k"], "a");
    EXPECT_EQ(json::parse(got[1].job_text)["payload"]["k"], "b");
    EXPECT_EQ(json::parse(got[2].job_text)["payload"]["k"], "c");
}

TEST_F(queue_ops, reclaim_takes_over_entries_whose_lease_expired_with_delivery_count_2) {
    run(ops_->enqueue(job()));
    const auto first = read("dead-worker").at(0);
    EXPECT_TRUE(run(ops_->reclaim("w2", 200ms, 10)).empty());  // lease not expired yet
    std::this_thread::sleep_for(300ms);
    const auto taken = run(ops_->reclaim("w2", 200ms, 10));
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].entry_id, first.entry_id);
    EXPECT_EQ(taken[0].delivery_count, 2);
    EXPECT_EQ(taken[0].job_text, first.job_text);
    EXPECT_EQ(taken[0].entry_ms, first.entry_ms);
    auto p = cmd({"XPENDING", ops_->keys().stream, "workers", "-", "+", "10"});
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0][1].str(), "w2");
}

TEST_F(queue_ops, reclaim_drops_entries_deleted_from_the_stream) {
    run(ops_->enqueue(job()));
    run(ops_->enqueue(job()));
    const auto got = read("dead-worker");
    ASSERT_EQ(got.size(), 2u);
    cmd({"XDEL", ops_->keys().stream, got[0].entry_id});
    std::this_thread::sleep_for(150ms);
    const auto taken = run(ops_->reclaim("w2", 100ms, 10));
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].entry_id, got[1].entry_id);
    EXPECT_EQ(pending_count(), 1);  // the deleted one left the PEL
}

TEST_F(queue_ops, reclaim_looks_past_renewed_entries_at_the_head_of_the_pel) {
    // 30 live entries owned by w1 at the head of the PEL, then one abandoned entry: with COUNT 1,
    // one XAUTOCLAIM round scans only COUNT*10 PEL entries, so the script must keep going.
    for (int i = 0; i < 31; ++i) run(ops_->enqueue(job()));
    auto live = read("w1", 30);
    ASSERT_EQ(live.size(), 30u);
    const auto abandoned = read("gone", 1).at(0);
    std::this_thread::sleep_for(150ms);
    std::vector<std::string> ids;
    for (const auto& d : live) ids.push_back(d.entry_id);
    EXPECT_TRUE(run(ops_->renew("w1", ids)).empty());
    const auto taken = run(ops_->reclaim("w2", 100ms, 1));
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].entry_id, abandoned.entry_id);
}

TEST_F(queue_ops, renew_resets_idle_time_keeps_the_count_and_reports_entries_taken_over) {
    run(ops_->enqueue(job()));
    run(ops_->enqueue(job()));
    const auto got = read("w1");
    ASSERT_EQ(got.size(), 2u);
    std::this_thread::sleep_for(300ms);
    // w2 takes the second over (as if w1 had stalled past its lease).
    cmd({"XCLAIM", ops_->keys().stream, "workers", "w2", "0", got[1].entry_id});

    const auto lost = run(ops_->renew("w1", {got[0].entry_id, got[1].entry_id}));
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0], got[1].entry_id);

    auto p = cmd({"XPENDING", ops_->keys().stream, "workers", got[0].entry_id, got[0].entry_id, "1"});
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0][1].str(), "w1");
    EXPECT_LT(p[0][2].integer(), 250);   // idle time reset
    EXPECT_EQ(p[0][3].integer(), 1);     // delivery count untouched by the renewal
    // And the renewed entry is not reclaimable with a lease it has not outlived.
    EXPECT_TRUE(run(ops_->reclaim("w3", 250ms, 10)).empty());
    // Renewing an entry that is acknowledged reports it lost too.
    run(ops_->ack({{got[0].entry_id, std::nullopt, "succeeded"}}));
    EXPECT_EQ(run(ops_->renew("w1", {got[0].entry_id})).size(), 1u);
}

TEST_F(queue_ops, claim_id_runs_once_waits_while_active_and_drops_duplicates_of_finished_jobs) {
    const auto wait = 5s;
    run(ops_->enqueue(job("order-7")));
    const auto first = read("w1").at(0);
    const auto first_env = decoded(first.job_text);
    // New to Redis: the worker asks PostgreSQL before running it (the id may have finished
    // longer ago than Redis keeps finished ids).
    EXPECT_EQ(run(ops_->claim_id(first, first_env, wait)), q::operations::claim_result::run_new);
    EXPECT_EQ(id_state("order-7"), "active");
    EXPECT_GT(integer({"TTL", ops_->keys().id_key("order-7")}), 6 * 24 * 3600);
    // A redelivery of the same entry (take-over) is the same run.
    EXPECT_EQ(run(ops_->claim_id(first, first_env, wait)), q::operations::claim_result::run);

    // A duplicate while the first is active waits: acked, out of the stream, into delayed.
    run(ops_->enqueue(job("order-7", R"({"n":2})")));
    const auto dup = read("w2").at(0);
    EXPECT_EQ(run(ops_->claim_id(dup, decoded(dup.job_text), wait)), q::operations::claim_result::wait);
    EXPECT_EQ(pending_count(), 1);
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 1);
    auto delayed = cmd({"ZRANGE", ops_->keys().delayed, "0", "-1", "WITHSCORES"});
    ASSERT_EQ(delayed.size(), 2u);
    EXPECT_EQ(delayed[0].str(), dup.job_text);

    // A retry of the first run carries its token: still the same run.
    auto retry = first_env;
    retry.token = first.entry_id;
    retry.attempt = 2;
    q::delivery retried = first;
    retried.entry_id = "9999999999999-0";
    EXPECT_EQ(run(ops_->claim_id(retried, retry, wait)), q::operations::claim_result::run);

    // The first finishes; the duplicate, once back, is acknowledged and counted, not run.
    run(ops_->ack({{first.entry_id, std::string{"order-7"}, "succeeded"}}));
    EXPECT_EQ(id_state("order-7"), "done");
    // Finished ids stay in Redis for a minute, not a week: PostgreSQL remembers them after that.
    EXPECT_LE(integer({"TTL", ops_->keys().id_key("order-7")}), 60);
    EXPECT_GT(integer({"TTL", ops_->keys().id_key("order-7")}), 50);
    cmd({"DEL", ops_->keys().delayed});
    cmd({"XADD", ops_->keys().stream, "*", "job", dup.job_text});
    const auto back = read("w2").at(0);
    EXPECT_EQ(run(ops_->claim_id(back, decoded(back.job_text), wait)),
              q::operations::claim_result::duplicate_done);
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
    EXPECT_EQ(pending_count(), 0);
    EXPECT_EQ(stat("duplicates"), "1");
}

TEST_F(queue_ops, claim_id_without_a_producer_id_always_runs) {
    run(ops_->enqueue(job()));
    const auto d = read("w1").at(0);
    EXPECT_EQ(run(ops_->claim_id(d, decoded(d.job_text), 1s)), q::operations::claim_result::run);
    EXPECT_EQ(integer({"DBSIZE"}), 2);  // stream and registry: no id key
}

TEST_F(queue_ops, ack_removes_many_entries_in_one_call_and_counts_outcomes) {
    for (int i = 0; i < 3; ++i) run(ops_->enqueue(job("j" + std::to_string(i))));
    const auto got = read("w1");
    ASSERT_EQ(got.size(), 3u);
    run(ops_->ack({{got[0].entry_id, std::string{"j0"}, "succeeded"},
                   {got[1].entry_id, std::string{"j1"}, "succeeded"},
                   {got[2].entry_id, std::nullopt, "failed"}}));
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
    EXPECT_EQ(pending_count(), 0);
    EXPECT_EQ(stat("succeeded"), "2");
    EXPECT_EQ(stat("failed"), "1");
    EXPECT_EQ(id_state("j0"), "done");
    EXPECT_EQ(id_state("j2"), "");
    EXPECT_GT(integer({"TTL", ops_->keys().id_key("j1")}), 0);
}

TEST_F(queue_ops, ack_batches_larger_than_one_script_call) {
    std::vector<q::operations::ack_item> items;
    for (int i = 0; i < 1200; ++i) run(ops_->enqueue(job()));
    for (;;) {
        auto got = read("w1", 500);
        if (got.empty()) break;
        for (auto& d : got) items.push_back({d.entry_id, std::nullopt, "succeeded"});
    }
    ASSERT_EQ(items.size(), 1200u);
    run(ops_->ack(items));
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
    EXPECT_EQ(stat("succeeded"), "1200");
}

TEST_F(queue_ops, dead_letter_then_list_retry_and_purge) {
    run(ops_->enqueue(job("bad-1")));
    const auto d = read("w1").at(0);
    run(ops_->claim_id(d, decoded(d.job_text), 1s));
    run(ops_->dead_letter(d, "bad-1", "payload: url missing", 3));
    // Settling the same entry again (a take-over racing the run's last step) adds nothing.
    run(ops_->dead_letter(d, "bad-1", "payload: url missing", 3));

    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
    EXPECT_EQ(pending_count(), 0);
    EXPECT_EQ(id_state("bad-1"), "dead");
    EXPECT_EQ(stat("dead"), "1");
    const auto dead = run(ops_->dead_list(10));
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].job_id, "bad-1");
    EXPECT_EQ(dead[0].reason, "payload: url missing");
    EXPECT_EQ(dead[0].attempts, 3);
    EXPECT_EQ(dead[0].job_text, d.job_text);
    EXPECT_TRUE(wharf::queue::parse_rfc3339(dead[0].failed_at));

    // A duplicate of a dead job is not run...
    run(ops_->enqueue(job("bad-1")));
    const auto dup = read("w1").at(0);
    EXPECT_EQ(run(ops_->claim_id(dup, decoded(dup.job_text), 1s)), q::operations::claim_result::duplicate_done);

    // ...but dead retry runs it again on purpose, from attempt 1.
    EXPECT_EQ(run(ops_->dead_retry(std::string{"no-such-id"})), 0u);
    EXPECT_EQ(run(ops_->dead_retry(std::string{"bad-1"})), 1u);
    EXPECT_EQ(integer({"XLEN", ops_->keys().dead}), 0);
    const auto again = read("w1").at(0);
    const auto env = decoded(again.job_text);
    EXPECT_EQ(env.attempt, 1);
    EXPECT_FALSE(env.token);
    EXPECT_EQ(env.generation, 1);  // the next generation: only it may reopen the job's dead row
    EXPECT_EQ(run(ops_->claim_id(again, env, 1s)), q::operations::claim_result::run_new);

    // A job without a producer id dead-letters under its entry id, with no id key.
    run(ops_->enqueue(job()));
    const auto anon = read("w1").at(0);
    run(ops_->dead_letter(anon, anon.entry_id, "boom", 1));
    EXPECT_EQ(integer({"EXISTS", ops_->keys().id_key(anon.entry_id)}), 0);
    // A malformed envelope is dead-lettered and retried as it was.
    cmd({"XADD", ops_->keys().stream, "*", "job", "{not json"});
    const auto junk = read("w1").at(0);
    run(ops_->dead_letter(junk, junk.entry_id, "not JSON", 1));
    EXPECT_EQ(run(ops_->dead_list(10)).size(), 2u);
    EXPECT_EQ(run(ops_->dead_retry(std::nullopt)), 2u);
    auto back = read("w1");
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[1].job_text, "{not json");

    run(ops_->dead_letter(back[0], back[0].entry_id, "again", 1));
    run(ops_->dead_letter(back[1], back[1].entry_id, "again", 1));
    EXPECT_EQ(run(ops_->dead_purge()), 2u);
    EXPECT_EQ(integer({"EXISTS", ops_->keys().dead}), 0);
}

TEST_F(queue_ops, stats_counts_waiting_in_flight_delayed_and_dead) {
    for (int i = 0; i < 5; ++i) run(ops_->enqueue(job()));
    auto later = job();
    later.run_at = std::chrono::system_clock::now() + 1h;
    run(ops_->enqueue(later));
    const auto got = read("w1", 2);
    run(ops_->dead_letter(got[0], got[0].entry_id, "x", 1));
    const auto s = run(ops_->stats());
    EXPECT_EQ(s.queue, "media");
    EXPECT_EQ(s.waiting, 3);
    EXPECT_EQ(s.in_flight, 1);
    EXPECT_EQ(s.delayed, 1);
    EXPECT_EQ(s.dead, 1);

    q::operations fresh{*conn_, "never-used"};
    const auto empty = run(fresh.stats());
    EXPECT_EQ(empty.waiting + empty.in_flight + empty.delayed + empty.dead, 0);
}

TEST_F(queue_ops, prune_consumers_deletes_only_idle_consumers_that_own_nothing) {
    run(ops_->enqueue(job()));
    run(ops_->enqueue(job()));
    const auto a = read("idle-a", 1).at(0);
    run(ops_->ack({{a.entry_id, std::nullopt, "succeeded"}}));
    read("busy-b", 1);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(run(ops_->prune_consumers(1h)), 0u);
    EXPECT_EQ(run(ops_->prune_consumers(50ms)), 1u);
    auto consumers = cmd({"XINFO", "CONSUMERS", ops_->keys().stream, "workers"});
    ASSERT_EQ(consumers.size(), 1u);
    EXPECT_EQ(consumers[0][1].str(), "busy-b");
}

TEST_F(queue_ops, known_queues_lists_the_registry_sorted) {
    q::operations other{*conn_, "alpha"};
    run(other.ensure_group());
    EXPECT_EQ(run(q::known_queues(*conn_)), (std::vector<std::string>{"alpha", "media"}));
}

TEST_F(queue_ops, invalid_queue_names_are_refused) {
    EXPECT_THROW(q::operations(*conn_, "Bad{name}"), q::error);
}

TEST_F(queue_ops, scripts_survive_a_script_cache_flush) {
    run(ops_->enqueue(job()));
    cmd({"SCRIPT", "FLUSH"});
    const auto d = read("w1").at(0);
    run(ops_->ack({{d.entry_id, std::nullopt, "succeeded"}}));
    EXPECT_EQ(integer({"XLEN", ops_->keys().stream}), 0);
}
