// The batched, fenced job-state writer against a real PostgreSQL.
#include "wharf/test/pg_env.hpp"

#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <cstdio>
#include <thread>

namespace asio = boost::asio;
namespace pg = wharf::pg;
using wharf::test::migrated_database;
using wharf::test::run_coro;

namespace {

pg::job_start start_of(std::string id, pg::fence f, std::int32_t attempt = 1) {
    pg::job_start s;
    s.id = std::move(id);
    s.queue = "transcode";
    s.fence = f;
    s.attempt = attempt;
    s.max_attempts = 3;
    s.api_key = "tenant-1";
    s.payload_json = R"({"src":"a.mp4"})";
    return s;
}

pg::job_outcome outcome_of(std::string id, pg::fence f, pg::job_status st = pg::job_status::succeeded,
                           std::int32_t attempt = 1) {
    pg::job_outcome o;
    o.id = std::move(id);
    o.queue = "transcode";
    o.fence = f;
    o.status = st;
    o.attempt = attempt;
    if (st == pg::job_status::succeeded) o.result_json = R"({"ok":true})";
    return o;
}

// Records the result of finished(); the arguments are references to the test's own objects.
asio::awaitable<void> finish_into(pg::job_state_writer& w, const pg::job_outcome& o, pg::write_result& out,
                                  int& done) {
    out = co_await w.finished(o);
    ++done;
}

struct writer_fixture : ::testing::Test {
    asio::io_context ctx;
    std::string url = migrated_database();
    pg::pool db{ctx.get_executor(), url};
    pg::job_state_writer writer{ctx.get_executor(), db};

    pg::write_result finish(pg::job_outcome o) { return run_coro(ctx, writer.finished(std::move(o))); }
    std::optional<pg::job_row> load(const std::string& id, const std::string& queue = "transcode") {
        return run_coro(ctx, pg::load_job(db, queue, id));
    }
    // Everything handed to the writer before this is durable once it returns: flushes run in
    // order, and an outcome completes after its COMMIT.
    void barrier() {
        static int n = 0;
        ASSERT_EQ(finish(outcome_of("barrier-" + std::to_string(++n), {1, 0, 1}, pg::job_status::cancelled)),
                  pg::write_result::applied);
    }
    std::int64_t scalar(const std::string& sql) {
        pqxx::connection c(url);
        return pqxx::read_transaction(c).exec1(sql)[0].as<std::int64_t>();
    }
    void TearDown() override { run_coro(ctx, writer.drain()); }
};

}  // namespace

TEST_F(writer_fixture, start_then_finish_is_succeeded_with_epoch_1) {
    const pg::fence f{1700000000000, 0, 1};
    writer.started(start_of("job-1", f));
    EXPECT_EQ(finish(outcome_of("job-1", f)), pg::write_result::applied);
    auto row = load("job-1");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, pg::job_status::succeeded);
    EXPECT_EQ(row->epoch, 1);
    EXPECT_EQ(row->attempts, 1);
    EXPECT_EQ(row->max_attempts, 3);
    EXPECT_EQ(row->queue, "transcode");
    EXPECT_EQ(row->api_key, "tenant-1");
    EXPECT_EQ(row->result_json, R"({"ok": true})");  // jsonb's canonical text
    EXPECT_TRUE(row->started_at);
    EXPECT_TRUE(row->finished_at);
    EXPECT_FALSE(row->error);
    EXPECT_EQ(scalar("SELECT count(*) FROM jobs WHERE id = 'job-1' AND payload->>'src' = 'a.mp4'"), 1);
}

TEST_F(writer_fixture, a_take_over_bumps_epoch_and_fences_off_the_old_owner) {
    const pg::fence first{1700000000000, 5, 1}, second{1700000000000, 5, 2};
    writer.started(start_of("job-t", first));
    barrier();
    writer.started(start_of("job-t", second));  // XAUTOCLAIM by another worker
    barrier();
    EXPECT_EQ(load("job-t")->epoch, 2);
    EXPECT_EQ(load("job-t")->status, pg::job_status::running);
    EXPECT_EQ(finish(outcome_of("job-t", first, pg::job_status::failed)), pg::write_result::stale);
    EXPECT_EQ(load("job-t")->status, pg::job_status::running);
    EXPECT_EQ(finish(outcome_of("job-t", second)), pg::write_result::applied);
    auto row = load("job-t");
    EXPECT_EQ(row->status, pg::job_status::succeeded);
    EXPECT_EQ(row->epoch, 2);
    EXPECT_EQ(row->attempts, 1);  // a take-over is not a new attempt
}

TEST_F(writer_fixture, take_overs_coalesced_into_one_flush_still_count_in_epoch) {
    writer.started(start_of("job-c", {10, 0, 1}));
    writer.started(start_of("job-c", {10, 0, 2}));
    writer.started(start_of("job-c", {10, 0, 3}));
    barrier();
    EXPECT_EQ(load("job-c")->epoch, 3);
}

TEST_F(writer_fixture, a_final_state_is_written_once) {
    const pg::fence f{20, 0, 1};
    writer.started(start_of("job-f", f));
    auto o = outcome_of("job-f", f, pg::job_status::failed);
    o.error = "codec not supported";
    EXPECT_EQ(finish(o), pg::write_result::applied);
    const auto finished_at = load("job-f")->finished_at;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // The same outcome again (a flush retried after its COMMIT was lost): reported applied,
    // nothing rewritten.
    EXPECT_EQ(finish(o), pg::write_result::applied);
    EXPECT_EQ(load("job-f")->finished_at, finished_at);
    // A different outcome under the same fence: refused.
    EXPECT_EQ(finish(outcome_of("job-f", f, pg::job_status::succeeded)), pg::write_result::stale);
    // A stale delivery (an older fence) may not restart it.
    writer.started(start_of("job-f", {19, 0, 1}));
    barrier();
    auto row = load("job-f");
    EXPECT_EQ(row->status, pg::job_status::failed);
    EXPECT_EQ(row->error, "codec not supported");
    EXPECT_EQ(row->epoch, 1);
    EXPECT_EQ(row->finished_at, finished_at);
}

TEST_F(writer_fixture, a_start_and_outcome_pair_replayed_is_applied_once) {
    const pg::fence f{30, 0, 1};
    writer.started(start_of("job-r", f));
    ASSERT_EQ(finish(outcome_of("job-r", f)), pg::write_result::applied);
    const auto first = load("job-r");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // The same pair again, merged into one row version (a flush rerun after its COMMIT was lost):
    // reported applied, nothing rewritten.
    writer.started(start_of("job-r", f));
    EXPECT_EQ(finish(outcome_of("job-r", f)), pg::write_result::applied);
    auto row = load("job-r");
    EXPECT_EQ(row->epoch, 1);
    EXPECT_EQ(row->finished_at, first->finished_at);
    EXPECT_EQ(row->updated_at, first->updated_at);
    // Another status under the same fence: refused, next to outcomes that are applied in the
    // same flush.
    writer.started(start_of("job-r", f));
    writer.started(start_of("job-r2", {31, 0, 1}));
    auto refused = outcome_of("job-r", f, pg::job_status::failed);
    auto other = outcome_of("job-r2", {31, 0, 1});
    pg::write_result r1{}, r2{};
    int done = 0;
    asio::co_spawn(ctx, finish_into(writer, refused, r1, done), asio::detached);
    asio::co_spawn(ctx, finish_into(writer, other, r2, done), asio::detached);
    ctx.restart();
    while (done < 2 && ctx.run_one() > 0) {
    }
    ASSERT_EQ(done, 2);
    EXPECT_EQ(r1, pg::write_result::stale);
    EXPECT_EQ(r2, pg::write_result::applied);
    EXPECT_EQ(load("job-r")->status, pg::job_status::succeeded);
}

TEST_F(writer_fixture, a_succeeded_job_is_never_restarted) {
    const pg::fence f{30, 0, 1};
    writer.started(start_of("job-s", f));
    EXPECT_EQ(finish(outcome_of("job-s", f)), pg::write_result::applied);
    writer.started(start_of("job-s", {31, 0, 1}));  // even by a newer entry
    barrier();
    auto row = load("job-s");
    EXPECT_EQ(row->status, pg::job_status::succeeded);
    EXPECT_EQ(row->epoch, 1);
}

TEST_F(writer_fixture, a_dead_job_retried_on_purpose_runs_again_under_its_new_generation) {
    // `wharfctl dead retry` re-enqueues a dead job as a new stream entry of the next generation.
    const pg::fence first{40, 0, 1}, retried{41, 0, 1, 1};
    writer.started(start_of("job-d", first));
    auto dead = outcome_of("job-d", first, pg::job_status::dead);
    dead.error = "attempts exhausted";
    EXPECT_EQ(finish(dead), pg::write_result::applied);
    writer.started(start_of("job-d", retried));
    barrier();
    auto row = load("job-d");
    EXPECT_EQ(row->status, pg::job_status::running);
    EXPECT_EQ(row->epoch, 2);
    EXPECT_EQ(row->fence, retried);
    EXPECT_FALSE(row->finished_at);
    // The old delivery cannot write over the new run; the new one finishes it.
    EXPECT_EQ(finish(outcome_of("job-d", first)), pg::write_result::stale);
    EXPECT_EQ(finish(outcome_of("job-d", retried)), pg::write_result::applied);
    EXPECT_EQ(load("job-d")->status, pg::job_status::succeeded);

    // The same when the retried run's start and outcome reach PostgreSQL in one flush.
    const pg::fence first2{50, 0, 1}, retried2{51, 0, 1, 1};
    writer.started(start_of("job-d2", first2));
    EXPECT_EQ(finish(outcome_of("job-d2", first2, pg::job_status::dead)), pg::write_result::applied);
    writer.started(start_of("job-d2", retried2));
    EXPECT_EQ(finish(outcome_of("job-d2", retried2)), pg::write_result::applied);
    EXPECT_EQ(load("job-d2")->status, pg::job_status::succeeded);
    EXPECT_EQ(load("job-d2")->epoch, 2);

    // A dead job whose objects the failed_jobs cleanup deleted (cleaned_up) is final to every
    // delivery of its run, and a dead retry reopens it like a dead one.
    const pg::fence first3{70, 0, 1}, late3{70, 0, 2}, retried3{71, 0, 1, 1};
    writer.started(start_of("job-d3", first3));
    EXPECT_EQ(finish(outcome_of("job-d3", first3, pg::job_status::dead)), pg::write_result::applied);
    {
        pqxx::connection c(url);
        pqxx::work tx(c);
        tx.exec0("UPDATE jobs SET status = 'cleaned_up' WHERE id = 'job-d3'");
        tx.commit();
    }
    writer.started(start_of("job-d3", late3));
    EXPECT_EQ(finish(outcome_of("job-d3", late3)), pg::write_result::stale);
    EXPECT_EQ(load("job-d3")->status, pg::job_status::cleaned_up);
    writer.started(start_of("job-d3", retried3));
    EXPECT_EQ(finish(outcome_of("job-d3", retried3)), pg::write_result::applied);
    EXPECT_EQ(load("job-d3")->status, pg::job_status::succeeded);
}

// The chaos soak's "duplicate chain": a take-over of the same run (a newer entry or delivery, the
// same generation) reaches PostgreSQL after that run's last outcome. It used to reopen the dead
// row, which then stayed queued or running while Redis held the dead letter.
TEST_F(writer_fixture, a_late_take_over_of_the_same_run_never_reopens_a_dead_job) {
    const pg::fence last{60, 0, 1}, taken_over{60, 0, 2}, other_entry{61, 0, 1};
    writer.started(start_of("job-dc", last, 3));
    EXPECT_EQ(finish(outcome_of("job-dc", last, pg::job_status::dead, 3)), pg::write_result::applied);
    writer.started(start_of("job-dc", taken_over, 3));
    writer.started(start_of("job-dc2", other_entry, 2));  // company, so the start flushes alone
    barrier();
    auto row = load("job-dc");
    EXPECT_EQ(row->status, pg::job_status::dead);
    EXPECT_EQ(row->fence, last);
    EXPECT_EQ(row->epoch, 1);
    EXPECT_EQ(finish(outcome_of("job-dc", taken_over, pg::job_status::queued, 3)), pg::write_result::stale);
    // Start and outcome of another entry of the same run, in one flush: refused too.
    writer.started(start_of("job-dc", other_entry, 2));
    EXPECT_EQ(finish(outcome_of("job-dc", other_entry, pg::job_status::succeeded, 2)), pg::write_result::stale);
    row = load("job-dc");
    EXPECT_EQ(row->status, pg::job_status::dead);
    EXPECT_EQ(row->attempts, 3);
    EXPECT_EQ(row->fence, last);
}

TEST_F(writer_fixture, two_queues_jobs_with_the_same_id_are_two_jobs) {
    const pg::fence f{1700000000000, 0, 1};
    auto in_download = start_of("1700000000000-0", f);
    in_download.queue = "download";
    writer.started(start_of("1700000000000-0", f));
    writer.started(in_download);
    auto done = outcome_of("1700000000000-0", f);
    EXPECT_EQ(finish(done), pg::write_result::applied);
    auto failed = outcome_of("1700000000000-0", f, pg::job_status::dead);
    failed.queue = "download";
    EXPECT_EQ(finish(failed), pg::write_result::applied);
    writer.progress("download", "1700000000000-0", f, R"({"x":1})");
    barrier();
    EXPECT_EQ(load("1700000000000-0")->status, pg::job_status::succeeded);
    EXPECT_EQ(load("1700000000000-0", "download")->status, pg::job_status::dead);
    EXPECT_EQ(run_coro(ctx, pg::load_jobs_with_id(db, "1700000000000-0")).size(), 2u);
    EXPECT_EQ(scalar("SELECT count(*) FROM jobs WHERE id = '1700000000000-0'"), 2);
}

TEST_F(writer_fixture, a_retry_keeps_the_error_and_counts_attempts) {
    writer.started(start_of("job-r", {30, 0, 1}, 1));
    auto retry = outcome_of("job-r", {30, 0, 1}, pg::job_status::queued, 1);
    retry.error = "HTTP 503 from origin";
    retry.run_at = std::chrono::system_clock::now() + std::chrono::seconds(10);
    EXPECT_EQ(finish(retry), pg::write_result::applied);
    auto row = load("job-r");
    EXPECT_EQ(row->status, pg::job_status::queued);
    EXPECT_TRUE(row->run_at);
    EXPECT_FALSE(row->finished_at);
    // The retry is a new stream entry: a larger fence.
    writer.started(start_of("job-r", {40, 0, 1}, 2));
    EXPECT_EQ(finish(outcome_of("job-r", {40, 0, 1}, pg::job_status::succeeded, 2)), pg::write_result::applied);
    row = load("job-r");
    EXPECT_EQ(row->status, pg::job_status::succeeded);
    EXPECT_EQ(row->attempts, 2);
    EXPECT_EQ(row->epoch, 2);
    EXPECT_EQ(row->error, "HTTP 503 from origin");
    EXPECT_FALSE(row->run_at);
}

TEST_F(writer_fixture, an_outcome_of_a_job_never_started_is_inserted) {
    auto o = outcome_of("1700000000000-7", {1700000000000, 7, 1}, pg::job_status::dead);
    o.queue = "download";
    o.error = "malformed envelope: payload must be an object";
    EXPECT_EQ(finish(o), pg::write_result::applied);
    EXPECT_FALSE(load("1700000000000-7"));  // a job is its queue and its id
    auto row = load("1700000000000-7", "download");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, pg::job_status::dead);
    EXPECT_EQ(row->error, "malformed envelope: payload must be an object");
    EXPECT_EQ(row->queue, "download");
    EXPECT_TRUE(row->finished_at);
    EXPECT_FALSE(row->started_at);
}

TEST_F(writer_fixture, progress_is_stored_for_the_current_owner_only) {
    const pg::fence f{50, 0, 1};
    writer.started(start_of("job-p", f));
    writer.progress("transcode", "job-p", f, R"({"bytes_done":10})");
    writer.progress("transcode", "job-p", f, R"({"bytes_done":20})");
    writer.progress("transcode", "job-p", {49, 0, 1}, R"({"bytes_done":999})");  // an old owner
    barrier();
    EXPECT_EQ(load("job-p")->progress_json, R"({"bytes_done": 20})");
}

TEST_F(writer_fixture, hostile_text_is_stored_not_fatal) {
    const pg::fence f{60, 0, 1};
    writer.started(start_of("job-h", f));
    auto o = outcome_of("job-h", f, pg::job_status::failed);
    o.error = std::string("ffmpeg said \"\\\" {x,y} \xFF\xFE and a NUL:") + '\0' + "end";
    EXPECT_EQ(finish(o), pg::write_result::applied);
    EXPECT_EQ(load("job-h")->error, "ffmpeg said \"\\\" {x,y} \xEF\xBF\xBD\xEF\xBF\xBD and a NUL:end");
    auto bad = outcome_of("job-h2", f);
    bad.result_json = "{not json";
    EXPECT_THROW(finish(bad), std::invalid_argument);
}

TEST_F(writer_fixture, load_job_of_an_unknown_id_is_empty) { EXPECT_FALSE(load("nope")); }

TEST_F(writer_fixture, outcomes_after_drain_are_refused) {
    run_coro(ctx, writer.drain());
    EXPECT_THROW(finish(outcome_of("late", {1, 0, 1})), pg::unavailable);
}

namespace {

// n jobs through the writer the way a worker drives it: started() when a job begins, then
// finished() awaited, from `concurrency` coroutines. Returns seconds taken.
double drive(asio::io_context& ctx, pg::job_state_writer& writer, int n, int concurrency, const std::string& prefix,
             std::atomic<int>& applied, std::function<void()> midway = {}) {
    std::atomic<int> next{0}, done{0};
    std::atomic<int> failures{0};
    const auto t0 = std::chrono::steady_clock::now();
    for (int w = 0; w < concurrency; ++w)
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                for (int i = next++; i < n; i = next++) {
                    const pg::fence f{1700000000000 + i, 0, 1};
                    writer.started(start_of(prefix + std::to_string(i), f));
                    const auto r = co_await writer.finished(outcome_of(prefix + std::to_string(i), f));
                    if (r == pg::write_result::applied) ++applied;
                    ++done;
                }
            },
            [&](std::exception_ptr e) {
                if (e) ++failures;
            });
    std::thread side;
    bool midway_started = false;
    ctx.restart();
    const auto deadline = t0 + std::chrono::seconds(240);
    while (done < n && failures == 0 && std::chrono::steady_clock::now() < deadline) {
        ctx.run_one_for(std::chrono::milliseconds(50));
        if (midway && !midway_started && done >= n / 4) {
            midway_started = true;
            side = std::thread(midway);
        }
    }
    if (side.joinable()) side.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(done, n);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_F(writer_fixture, batching_20k_started_and_finished_pairs) {
    constexpr int n = 20'000;
    std::atomic<int> applied{0};
    const double seconds = drive(ctx, writer, n, 2'000, "bulk-", applied);
    EXPECT_EQ(applied, n);
    EXPECT_EQ(scalar("SELECT count(*) FROM jobs WHERE id LIKE 'bulk-%' AND status = 'succeeded' AND epoch = 1"), n);
    std::printf("[ measure  ] job state writer: %d started+finished pairs (%d rows) in %.2f s = %.0f rows/s, "
                "%.0f outcomes/s\n",
                n, 2 * n, seconds, 2 * n / seconds, n / seconds);
}

// Flushes look rows up by key, never by scanning the table. The prepared statements may switch to
// a generic plan, made once for the connection's life; made while `jobs` was small (early in a
// deployment, or after a TRUNCATE) it hash-joins a sequential scan of the whole table, and every
// flush would read every row. The database is set to always use generic plans here, with
// statistics that say the table is tiny, so the test sees the plans that case would get.
TEST_F(writer_fixture, flushes_never_scan_the_jobs_table) {
    const auto seq_scans = [&] {
        return scalar("SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'jobs'");
    };
    {
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        tx.exec0("ANALYZE jobs");
        tx.exec0("ALTER DATABASE " + tx.quote_name(c.dbname()) + " SET plan_cache_mode = force_generic_plan");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::int64_t before = seq_scans();
    {
        pg::pool fresh{ctx.get_executor(), url};  // connections that take the setting
        pg::job_state_writer w{ctx.get_executor(), fresh};
        std::atomic<int> applied{0};
        drive(ctx, w, 4'000, 400, "scan-", applied);  // batches of hundreds, many flushes
        EXPECT_EQ(applied, 4'000);
        for (int i = 0; i < 20; ++i) w.progress("transcode", "scan-" + std::to_string(i), {1, 0, 1}, R"({"p":1})");
        run_coro(ctx, w.drain());
        fresh.shutdown();  // a backend's table statistics are reported when it exits
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(seq_scans() - before, 0);
    scalar("SELECT count(*) FROM jobs WHERE result IS NOT NULL");  // a scan, to show the count works
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(seq_scans() - before, 1);
}

TEST_F(writer_fixture, a_postgres_restart_under_load_loses_nothing) {
    constexpr int n = 8'000;
    std::atomic<int> applied{0};
    drive(ctx, writer, n, 500, "restart-", applied, [] { wharf::test::shared_postgres().restart(); });
    EXPECT_EQ(applied, n);
    EXPECT_EQ(scalar("SELECT count(*) FROM jobs WHERE id LIKE 'restart-%' AND status = 'succeeded'"), n);
}
