// Reconciliation against a real Redis that loses data: a FLUSHALL during a run, and a restart from
// an older AOF. Every job PostgreSQL knows ends exactly once: the ones Redis lost are re-enqueued
// by the reconcile task, the ones that had ended are never run again from a stale entry (the
// restart is a new Redis incarnation: entries older than it are checked against their rows).
#include "fleet.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;
namespace fs = std::filesystem;

namespace {

class reconcile : public ::testing::Test {
protected:
    explicit reconcile(wharf::test::redis_server_options redis = {}) : f(std::move(redis)) {}

    fleet f;
    wharf::test::logs_on_failure dump{f};

    // wharfctl enqueue: the job's row is written (queued) with its entry. Returns the job id.
    std::string enqueue(const std::string& id, std::int64_t ms) { return enqueue_on("sleep", id, json{{"ms", ms}}); }
    std::string enqueue_on(const std::string& queue, const std::string& id, const json& payload) {
        std::vector<std::string> args{"enqueue", queue, "--payload", payload.dump()};
        if (!id.empty()) {
            args.push_back("--id");
            args.push_back(id);
        }
        const auto r = f.ctl(args);
        EXPECT_EQ(r.status, 0) << r.output;
        // The id alone on a line (stdout; nothing on stderr when it is not a terminal).
        std::string out = r.output;
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        EXPECT_EQ(out.find_first_of(" \n"), std::string::npos) << out;
        return out;
    }

    json run_reconcile(const std::string& grace) {
        const auto r = f.ctl({"cleanup", "reconcile", "--older-than", grace, "--json"});
        EXPECT_EQ(r.status, 0) << r.output;
        return r.status == 0 ? json::parse(r.output) : json::object();
    }

    std::int64_t with_status(const std::string& status) {
        return f.count("SELECT count(*) FROM jobs WHERE queue IN ('sleep', 'fail') AND status = '" + status + "'");
    }

    // Runs reconcile every 500 ms until every sleep job succeeded; the sum of its re-enqueues.
    std::int64_t reconcile_until_all_succeeded(std::int64_t jobs) {
        std::int64_t requeued = 0;
        const bool done = fleet::eventually(
            [&] {
                requeued += run_reconcile("2s").value("requeued", 0);
                return with_status("succeeded") == jobs;
            },
            90s);
        EXPECT_TRUE(done) << "succeeded " << with_status("succeeded") << " of " << jobs;
        return requeued;
    }
};

class reconcile_with_aof : public reconcile {
protected:
    reconcile_with_aof() : reconcile(wharf::test::redis_server_options{.appendonly = true}) {}
};

}  // namespace

TEST_F(reconcile, a_flushall_during_a_run_loses_no_job_and_ends_each_once) {
    f.start_worker({"--queues", "sleep=4", "--lease", "1s"});
    std::vector<std::string> ids;
    for (int i = 0; i < 12; ++i) ids.push_back(enqueue(i % 2 ? fmt::format("flush-{}", i) : "", 6000));
    ASSERT_TRUE(fleet::eventually([&] { return with_status("running") == 4; }, 30s));
    f.cmd({"FLUSHALL"});

    // Not re-enqueued at the first sighting: the workers' leases must have gone first.
    const auto first = run_reconcile("2s");
    EXPECT_EQ(first["requeued"], 0) << first.dump();
    const auto requeued = reconcile_until_all_succeeded(12);
    for (const auto& id : ids) {
        SCOPED_TRACE(id);
        const auto row = f.job(id);
        ASSERT_TRUE(row);
        EXPECT_EQ(row->status, "succeeded");
        EXPECT_EQ(row->attempts, 1);
        EXPECT_LE(row->epoch, 2);  // a lost run and its re-run at most
    }
    // The runs the FLUSHALL cut were stopped and run again (epoch 2); a run that ended by itself
    // before its worker saw the lease go (a slow box) kept its outcome and was not re-enqueued.
    // Every one of the 8 waiting jobs was re-enqueued.
    const auto rerun = f.count("SELECT count(*) FROM jobs WHERE queue = 'sleep' AND epoch = 2");
    EXPECT_GE(rerun, 1);
    EXPECT_LE(rerun, 4);
    EXPECT_EQ(requeued, 8 + rerun);
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0; }, 10s));
    // Nothing was left to do: another run finds every job final.
    const auto after = run_reconcile("0s");
    EXPECT_EQ(after["examined"], 0) << after.dump();
    EXPECT_EQ(f.count("SELECT count(*) FROM reconcile_suspects"), 0);
}

TEST_F(reconcile_with_aof, a_restart_from_an_older_aof_reruns_nothing_that_ended_and_requeues_what_it_lost) {
    // Batch A: jobs that write a line each time they run (the `fail` diagnostic told to fail no
    // attempt), enqueued; then the AOF as it is now is kept aside.
    wharf::test::temp_dir runs_dir("wharf-reconcile-runs");
    const auto runs = runs_dir.path() / "runs.txt";
    std::vector<std::string> a;
    for (int i = 0; i < 8; ++i)
        a.push_back(enqueue_on("fail", i % 2 ? fmt::format("a-{}", i) : "",
                               json{{"record", runs.string()}, {"fail_attempts", 0}}));
    f.redis().stop();
    const auto aof = f.redis().dir() / "appendonlydir";
    const auto kept = f.redis().dir() / "appendonlydir.kept";
    fs::copy(aof, kept, fs::copy_options::recursive);
    f.redis().start();

    // Batch A runs and ends; batch B is enqueued and starts.
    f.start_worker({"--queues", "sleep=4,fail=4", "--lease", "1s"});
    ASSERT_TRUE(fleet::eventually([&] { return with_status("succeeded") == 8; }, 30s));
    const auto lines = [&] {
        std::ifstream in(runs);
        std::size_t n = 0;
        for (std::string line; std::getline(in, line);) ++n;
        return n;
    };
    EXPECT_EQ(lines(), 8u);
    std::vector<std::string> b;
    for (int i = 0; i < 6; ++i) b.push_back(enqueue(i % 2 ? fmt::format("b-{}", i) : "", 1500));
    ASSERT_TRUE(fleet::eventually([&] { return with_status("running") == 4; }, 30s));

    // Redis comes back from the older AOF: batch A's entries are back, undelivered; batch B is gone.
    f.redis().kill();
    fs::remove_all(aof);
    fs::rename(kept, aof);
    f.redis().start();

    reconcile_until_all_succeeded(14);
    for (const auto& id : a) {
        SCOPED_TRACE(id);
        const auto row = f.job(id);
        ASSERT_TRUE(row);
        EXPECT_EQ(row->status, "succeeded");
        EXPECT_EQ(row->epoch, 1);  // never started again
    }
    for (const auto& id : b) {
        SCOPED_TRACE(id);
        const auto row = f.job(id);
        ASSERT_TRUE(row);
        EXPECT_EQ(row->status, "succeeded");
        EXPECT_EQ(row->attempts, 1);
    }
    EXPECT_TRUE(fleet::eventually([&] { return f.stream_length("sleep") == 0 && f.stream_length("fail") == 0; }, 10s));
    EXPECT_EQ(lines(), 8u);  // batch A's stale entries were acknowledged, not run again
    EXPECT_NE(f.worker_log(0).find("already succeeded by an earlier run"), std::string::npos);
    // The worker saw a new Redis incarnation (a restart), not the first one wharf ever saw.
    EXPECT_NE(f.worker_log(0).find("checked against PostgreSQL before they run"), std::string::npos);
    EXPECT_EQ(f.count("SELECT count(*) FROM redis_incarnations"), 2);
}
