#include "fleet.hpp"

#include "wharf/test/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;
using wharf::test::process;

namespace {

class scheduler : public ::testing::Test {
protected:
    fleet f;
    wharf::test::logs_on_failure dump{f};
    wharf::test::temp_dir dir;
    std::vector<std::unique_ptr<process>> replicas;

    // Writes the schedules and applies them with wharfctl.
    void apply(const json& schedules) {
        const auto file = dir.path() / "schedules.json";
        std::ofstream(file) << schedules.dump();
        const auto r = f.ctl({"schedules", "apply", file.string()});
        ASSERT_EQ(r.status, 0) << r.output;
    }

    std::size_t logs = 0;

    std::unique_ptr<process> spawn(bool clock_off, bool defaults = false) {
        std::vector<std::string> argv{(wharf::test::binary_dir() / "scheduler" / "wharf-scheduler").string(),
                                      "--redis-url", f.redis().url(), "--database-url", f.postgres().url(),
                                      "--tick", "200ms", "--log-level", "debug", "--default-schedules",
                                      defaults ? "true" : "false"};
        wharf::test::process_options opts;
        opts.output = dir.path() / ("scheduler-" + std::to_string(logs++) + ".log");
        if (clock_off) {
            // Its wall clock ten minutes ahead: every decision uses the database's, so nothing changes.
            opts.env["LD_PRELOAD"] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
            opts.env["FAKETIME"] = "+10m";
            opts.env["DONT_FAKE_MONOTONIC"] = "1";
            const char* asan = std::getenv("ASAN_OPTIONS");
            opts.env["ASAN_OPTIONS"] = std::string{asan ? asan : ""} + ":verify_asan_link_order=0";
        }
        return std::make_unique<process>(argv, opts);
    }
    void start_replica(bool clock_off = false, bool defaults = false) { replicas.push_back(spawn(clock_off, defaults)); }

    std::int64_t fires(const std::string& name, const std::string& where = "true") {
        return f.count("SELECT count(*) FROM schedule_fires WHERE schedule = '" + name + "' AND " + where);
    }
    std::int64_t column(const std::string& name, const std::string& col) {
        return f.count("SELECT " + col + " FROM schedules WHERE name = '" + name + "'");
    }

    void TearDown() override {
        if (HasFailure()) {
            for (std::size_t i = 0; i < logs; ++i) {
                std::ifstream in(dir.path() / ("scheduler-" + std::to_string(i) + ".log"));
                std::cerr << "---- scheduler " << i << " log ----\n" << in.rdbuf() << "\n";
            }
        }
    }
};

}  // namespace

TEST_F(scheduler, replicas_killed_at_random_fire_every_slot_once_and_each_job_runs_once) {
    apply(json::array({{{"name", "every-second"}, {"cron", "* * * * * *"}, {"queue", "noop"}, {"overlap", "allow"},
                        {"catch_up", "all"}}}));
    f.start_worker({"--queues", "noop=16"});
    start_replica();
    start_replica();
    start_replica(true);
    std::mt19937 rng{20261207};
    const auto until = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1200));
        const auto i = rng() % replicas.size();
        replicas[i]->kill_hard();
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
        replicas[i] = spawn(i == 2);  // the third is the one with its clock off
    }
    std::this_thread::sleep_for(2s);
    ASSERT_EQ(f.ctl({"schedules", "pause", "every-second"}).status, 0);
    ASSERT_TRUE(fleet::eventually([&] { return fires("every-second", "outcome = 'pending'") == 0; }, 30s));
    const auto total = fires("every-second");
    ASSERT_GT(total, 20);
    // Every second from the first fire to the last, once (the primary key forbids twice).
    EXPECT_EQ(total, f.count("SELECT extract(epoch from max(slot) - min(slot))::bigint + 1 FROM schedule_fires "
                             "WHERE schedule = 'every-second'"));
    EXPECT_EQ(column("every-second", "missed"), 0);
    // Each job ran once: as many successes as fires, every row succeeded on its first attempt.
    ASSERT_TRUE(fleet::eventually([&] { return f.stat("noop", "succeeded") >= total; }, 60s))
        << f.stat("noop", "succeeded") << " of " << total;
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(f.stat("noop", "succeeded"), total);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs j JOIN schedule_fires s ON s.job_id = j.id AND s.queue = j.queue "
                      "WHERE s.schedule = 'every-second' AND j.status = 'succeeded' AND j.attempts = 1"),
              total);
}

TEST_F(scheduler, after_three_hours_away_latest_fires_once_and_all_fires_each_up_to_the_cap) {
    apply(json::array({{{"name", "latest"}, {"cron", "* * * * *"}, {"queue", "noop"}},
                       {{"name", "all"}, {"cron", "* * * * *"}, {"queue", "noop"}, {"catch_up", "all"},
                        {"catch_up_window", "4h"}}}));
    // The checks below are of the first tick's plan: keep clear of a minute boundary.
    const auto second = f.count("SELECT extract(second from now())::bigint");
    if (second > 50) std::this_thread::sleep_for(std::chrono::seconds(62 - second));
    // The scheduler was down for three hours: the cursors say so.
    f.count("WITH u AS (UPDATE schedules SET cursor = date_trunc('minute', now()) - interval '3 hours' RETURNING 1) "
            "SELECT count(*) FROM u");
    start_replica();
    ASSERT_TRUE(fleet::eventually([&] { return fires("latest") >= 1 && fires("all") >= 100; }, 30s));
    EXPECT_EQ(fires("latest"), 1);
    EXPECT_EQ(column("latest", "missed"), 120);
    EXPECT_EQ(column("latest", "coalesced"), 59);
    EXPECT_EQ(fires("latest", "slot = date_trunc('minute', now())"), 1);
    EXPECT_EQ(fires("all"), 100);
    EXPECT_EQ(column("all", "missed"), 80);
    // In order: the newest hundred minutes, oldest first (job ids follow the slots).
    EXPECT_EQ(f.count("SELECT extract(epoch from max(slot) - min(slot))::bigint FROM schedule_fires WHERE schedule = 'all'"),
              99 * 60);
    ASSERT_TRUE(fleet::eventually([&] { return fires("all", "outcome = 'enqueued'") == 100; }, 30s));
}

TEST_F(scheduler, overlap_skip_leaves_a_slot_while_the_previous_run_is_still_running) {
    apply(json::array({{{"name", "slow"}, {"cron", "* * * * * *"}, {"queue", "sleep"}, {"payload", {{"ms", 2500}}}},
                       {{"name", "slow-allowed"}, {"cron", "* * * * * *"}, {"queue", "sleep"}, {"overlap", "allow"},
                        {"payload", {{"ms", 2500}}}}}));
    f.start_worker({"--queues", "sleep=32"});
    start_replica();
    std::this_thread::sleep_for(8s);
    ASSERT_EQ(f.ctl({"schedules", "pause", "slow"}).status, 0);
    ASSERT_EQ(f.ctl({"schedules", "pause", "slow-allowed"}).status, 0);
    // skip: about one run in three seconds, the rest skipped; allow: one a second.
    EXPECT_GT(column("slow", "skipped"), 3);
    EXPECT_GT(fires("slow", "outcome = 'skipped'"), 3);
    EXPECT_EQ(fires("slow-allowed", "outcome = 'skipped'"), 0);
    EXPECT_GT(fires("slow-allowed"), fires("slow", "outcome <> 'skipped'") + 3);
    // Never two runs of `slow` at once: each started after the one before it had ended.
    ASSERT_TRUE(fleet::eventually([&] { return f.count("SELECT count(*) FROM jobs WHERE queue = 'sleep' AND status <> 'succeeded'") == 0; }, 30s));
    EXPECT_EQ(f.count(R"sql(
SELECT count(*) FROM (
  SELECT j.started_at, lag(j.finished_at) OVER (ORDER BY j.started_at) AS previous_end
  FROM schedule_fires s JOIN jobs j ON j.id = s.job_id AND j.queue = s.queue
  WHERE s.schedule = 'slow' AND s.outcome = 'enqueued') runs
WHERE previous_end IS NOT NULL AND started_at < previous_end)sql"),
              0);
}

TEST_F(scheduler, wharfctl_lists_pauses_resumes_triggers_and_refuses_bad_definitions) {
    apply(json::array({{{"name", "nightly"}, {"cron", "30 2 * * *"}, {"time_zone", "Europe/Berlin"}, {"queue", "noop"}},
                       {{"name", "hourly"}, {"cron", "@hourly"}, {"queue", "noop"}, {"paused", true}}}));
    f.start_worker({"--queues", "noop=2"});
    start_replica(false, true);  // with the built-in maintenance, backup and restore-drill schedules
    ASSERT_TRUE(fleet::eventually([&] { return f.count("SELECT count(*) FROM schedules") == 11; }, 20s));
    EXPECT_EQ(f.count("SELECT count(*) FROM schedules WHERE name = 'backup-database' AND queue = 'backup' "
                      "AND cron = '0 1 * * *'"),
              1);
    EXPECT_EQ(f.count("SELECT count(*) FROM schedules WHERE name = 'restore-drill' AND queue = 'restore-drill'"), 1);
    EXPECT_EQ(f.count("SELECT count(*) FROM schedules WHERE name = 'compress-old-jobs' AND queue = 'compress'"), 1);
    EXPECT_EQ(f.count("SELECT count(*) FROM schedules WHERE name = 'cleanup-stuck-jobs' AND cron = '*/10 * * * *' "
                      "AND queue = 'cleanup' AND payload->>'task' = 'stuck_jobs'"),
              1);
    EXPECT_EQ(f.count("SELECT count(*) FROM schedules WHERE name = 'cleanup-job-retention' AND queue = 'cleanup'"), 1);
    ASSERT_EQ(f.ctl({"schedules", "pause", "cleanup-stuck-jobs"}).status, 0);
    // An operator's change to a built-in stays: a restarted scheduler adds only what is missing.
    replicas.back()->kill_hard();
    replicas.back() = spawn(false, true);
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(f.count("SELECT paused::int FROM schedules WHERE name = 'cleanup-stuck-jobs'"), 1);
    f.count("WITH d AS (DELETE FROM schedules WHERE name LIKE 'cleanup-%' OR name IN ('backup-database', "
            "'restore-drill', 'compress-old-jobs') RETURNING 1) SELECT count(*) FROM d");

    auto r = f.ctl({"schedules", "list", "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto listed = json::parse(r.output);
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0]["name"], "hourly");
    EXPECT_EQ(listed[0]["paused"], true);
    EXPECT_EQ(listed[1]["time_zone"], "Europe/Berlin");
    EXPECT_TRUE(listed[1]["last_fire"].is_null());
    // 02:30 in Berlin is 00:30 or 01:30 UTC.
    const auto next = listed[1]["next_fire"].get<std::string>();
    EXPECT_TRUE(next.find("T00:30:00") != std::string::npos || next.find("T01:30:00") != std::string::npos) << next;

    r = f.ctl({"schedules", "next", "nightly", "3"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 3) << r.output;

    r = f.ctl({"schedules", "trigger", "nightly", "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto job_id = json::parse(r.output)["job_id"].get<std::string>();
    EXPECT_TRUE(job_id.starts_with("sched:nightly:")) << job_id;
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, job_id) == "succeeded"; }, 30s));
    r = f.ctl({"schedules", "list", "--json"});
    const auto after = json::parse(r.output);
    EXPECT_EQ(after[1]["last_fire"]["job_id"], job_id);
    EXPECT_EQ(after[1]["last_fire"]["job_status"], "succeeded");

    EXPECT_EQ(f.ctl({"schedules", "resume", "hourly"}).status, 0);
    EXPECT_EQ(column("hourly", "paused::int"), 0);
    EXPECT_EQ(f.ctl({"schedules", "pause", "nothing"}).status, 1);
    EXPECT_EQ(f.ctl({"schedules", "trigger", "nothing"}).status, 1);

    // Bad definitions: exit 2, naming the schedule and the field; nothing written.
    const auto bad = [&](const json& schedules, const std::string& expect) {
        const auto file = dir.path() / "bad.json";
        std::ofstream(file) << schedules.dump();
        const auto out = f.ctl({"schedules", "apply", file.string()});
        EXPECT_EQ(out.status, 2) << out.output;
        EXPECT_NE(out.output.find(expect), std::string::npos) << out.output;
    };
    bad(json::array({{{"name", "x"}, {"cron", "61 * * * *"}, {"queue", "noop"}}}), "schedule 'x': cron: cron minute field");
    bad(json::array({{{"name", "x"}, {"cron", "@daily"}, {"queue", "noop"}, {"time_zone", "Mars/Base"}}}),
        "schedule 'x': time_zone");
    bad(json::array({{{"name", "x"}, {"cron", "@daily"}, {"queue", "noop"}, {"max_attempts", 0}}}),
        "schedule 'x': max_attempts");
    bad(json::array({{{"name", "x"}, {"cron", "@daily"}, {"queue", "no pe"}}}), "schedule 'x': queue");
    bad(json::array({{{"name", "x"}, {"cron", "@daily"}, {"queue", "noop"}, {"colour", "red"}}}),
        "schedule 'x': colour: is not a schedule field");
    bad(json::array({{{"name", "x"}, {"cron", "@daily"}, {"queue", "noop"}},
                     {{"name", "x"}, {"cron", "@daily"}, {"queue", "noop"}}}),
        "defined twice");
    bad(json::object(), "must be a JSON array");
    EXPECT_EQ(f.count("SELECT count(*) FROM schedules"), 2);
}
