#include "fleet.hpp"

#include "wharf/test/http_call.hpp"
#include "wharf/test/process.hpp"

#include <boost/beast/http/verb.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;

namespace {

namespace bhttp = boost::beast::http;

using wharf::test::http_reply;

http_reply http_call(std::uint16_t port, const std::string& target, bhttp::verb method = bhttp::verb::get) {
    return wharf::test::http_call(port, std::string(bhttp::to_string(method)), target);
}

// The samples of a metrics text: "name{labels}" -> value.
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

double sum_of(const std::map<std::string, double>& s, const std::string& prefix) {
    double total = 0;
    for (const auto& [name, value] : s)
        if (name.starts_with(prefix)) total += value;
    return total;
}

class admin : public ::testing::Test {
protected:
    fleet f;
    wharf::test::logs_on_failure dump{f};
    std::uint16_t port = wharf::test::free_port();

    wharf::test::process& worker(const std::string& queues, std::vector<std::string> extra = {}) {
        std::vector<std::string> flags{"--queues", queues, "--admin-listen", "127.0.0.1:" + std::to_string(port)};
        flags.insert(flags.end(), extra.begin(), extra.end());
        auto& p = f.start_worker(flags);
        wharf::test::wait_for_port(port, 30s);
        return p;
    }
    std::map<std::string, double> scrape() {
        const auto r = http_call(port, "/metrics");
        EXPECT_EQ(r.status, 200);
        const auto type = r.headers.find("Content-Type");
        EXPECT_TRUE(type != r.headers.end() && type->second.starts_with("text/plain; version=0.0.4"));
        return samples(r.body);
    }
};

}  // namespace

// /readyz turns 503 within one check when Redis stops while /livez stays 200, and comes back;
// after SIGTERM /readyz is 503 at once and the process exits after its grace.
TEST_F(admin, readiness_follows_redis_and_a_sigterm_drains) {
    auto& w = worker("sleep=1", {"--grace", "3s"});
    EXPECT_EQ(http_call(port, "/livez").status, 200);
    ASSERT_TRUE(fleet::eventually([&] { return http_call(port, "/readyz").status == 200; }, 10s));
    const auto verbose = http_call(port, "/readyz?verbose");
    ASSERT_EQ(verbose.status, 200) << verbose.body;
    const auto doc = json::parse(verbose.body);
    EXPECT_EQ(doc["ready"], true);
    ASSERT_EQ(doc["checks"].size(), 2u);
    EXPECT_EQ(doc["checks"][0]["name"], "redis");
    EXPECT_EQ(doc["checks"][1]["name"], "postgresql");
    EXPECT_FALSE(verbose.headers.at("X-Request-Id").empty());

    f.redis().stop();
    const auto down = http_call(port, "/readyz?verbose");  // one check, no polling
    EXPECT_EQ(down.status, 503) << down.body;
    const auto down_doc = json::parse(down.body);
    EXPECT_EQ(down_doc["checks"][0]["ok"], false);
    EXPECT_EQ(down_doc["checks"][1]["ok"], true);
    EXPECT_EQ(http_call(port, "/livez").status, 200);
    f.redis().start();
    EXPECT_TRUE(fleet::eventually([&] { return http_call(port, "/readyz").status == 200; }, 15s));

    // A job that outlives the grace: the process exits after the grace, not before, not never.
    f.enqueue("sleep", {{"payload", {{"ms", 60'000}}}});
    ASSERT_TRUE(fleet::eventually([&] { return f.pending("sleep") == 1; }, 10s));
    std::this_thread::sleep_for(300ms);
    const auto signalled = std::chrono::steady_clock::now();
    w.signal(SIGTERM);
    const auto draining = http_call(port, "/readyz");
    EXPECT_EQ(draining.status, 503);
    EXPECT_EQ(draining.body, "draining\n");
    EXPECT_EQ(http_call(port, "/livez").status, 200);
    const auto status = w.wait(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0);
    EXPECT_GE(std::chrono::steady_clock::now() - signalled, 2900ms);
}

TEST_F(admin, post_admin_drain_is_a_graceful_stop_and_other_requests_get_clear_errors) {
    auto& w = worker("noop=2");
    EXPECT_EQ(http_call(port, "/admin/drain").status, 405);  // GET
    EXPECT_EQ(http_call(port, "/metrics", bhttp::verb::post).status, 405);
    const auto missing = http_call(port, "/nope");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(json::parse(missing.body)["error"]["code"], "not_found");
    const auto drained = http_call(port, "/admin/drain", bhttp::verb::post);
    EXPECT_EQ(drained.status, 202);
    EXPECT_EQ(json::parse(drained.body)["draining"], true);
    const auto status = w.wait(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0);
}

// After N jobs the finished counts sum to N; 10,000 distinct job ids leave the number of series
// where it was; promtool finds nothing wrong with the text.
TEST_F(admin, finished_counts_add_up_and_series_stay_bounded_with_ten_thousand_ids) {
    worker("noop=16,fail=4");
    f.enqueue_many("noop", 200, [](std::size_t) { return json{{"payload", json::object()}}; });
    f.enqueue_many("fail", 20, [](std::size_t) {
        return json{{"payload", {{"permanent", true}}}, {"max_attempts", 1}};
    });
    ASSERT_TRUE(fleet::eventually([&] { return f.stat("noop", "succeeded") == 200; }, 60s));
    ASSERT_TRUE(fleet::eventually([&] { return f.dead_entries("fail").size() == 20; }, 60s));
    auto m = scrape();
    EXPECT_DOUBLE_EQ(sum_of(m, "wharf_jobs_finished_total{queue=\"noop\""), 200);
    EXPECT_DOUBLE_EQ(m["wharf_jobs_finished_total{queue=\"noop\",outcome=\"succeeded\"}"], 200);
    EXPECT_DOUBLE_EQ(m["wharf_jobs_finished_total{queue=\"fail\",outcome=\"dead\"}"], 20);
    EXPECT_DOUBLE_EQ(m["wharf_dead_letters_total{queue=\"fail\"}"], 20);
    EXPECT_DOUBLE_EQ(m["wharf_jobs_started_total{queue=\"noop\"}"], 200);
    EXPECT_DOUBLE_EQ(m["wharf_job_duration_seconds_count{queue=\"noop\",outcome=\"succeeded\"}"], 200);
    EXPECT_DOUBLE_EQ(m["wharf_job_wait_seconds_count{queue=\"noop\"}"], 200);
    EXPECT_DOUBLE_EQ(m["wharf_worker_slots{queue=\"noop\"}"], 16);
    EXPECT_DOUBLE_EQ(m["wharf_worker_busy_slots{queue=\"noop\"}"], 0);
    EXPECT_DOUBLE_EQ(m["wharf_queue_backlog{queue=\"noop\"}"], 0);
    EXPECT_GT(m["process_resident_memory_bytes"], 0);
    EXPECT_GT(m["process_open_fds"], 0);
    // The series once a scrape has been counted too (requests are counted when answered).
    const auto series_before = scrape().size();

    f.enqueue_many("noop", 10'000, [](std::size_t i) {
        return json{{"id", "order-" + std::to_string(i)}, {"payload", json::object()}};
    });
    ASSERT_TRUE(fleet::eventually([&] { return f.stat("noop", "succeeded") == 10'200; }, 120s));
    const auto text = http_call(port, "/metrics").body;
    m = samples(text);
    EXPECT_DOUBLE_EQ(sum_of(m, "wharf_jobs_finished_total{queue=\"noop\""), 10'200);
    EXPECT_EQ(m.size(), series_before);  // no id is a label
    EXPECT_EQ(text.find("order-"), std::string::npos);
    // Requests are counted once answered: the first scrape is in the second's figures.
    EXPECT_GE(m["wharf_http_requests_total{server=\"admin\",route=\"metrics\",code=\"200\"}"], 1);

    // promtool, Prometheus's own linter, reads the exposition from stdin.
    wharf::test::temp_dir dir;
    const auto file = dir.path() / "metrics.txt";
    std::ofstream(file) << text;
    const auto lint = wharf::test::run({"/bin/sh", "-c", "promtool check metrics < '" + file.string() + "'"});
    EXPECT_EQ(lint.status, 0) << lint.output;
    EXPECT_EQ(lint.output, "") << lint.output;
}

// The backlog gauge is the number of entries not yet delivered, also after XDEL (Redis 7.0's
// XINFO lag is wrong then), and the oldest waiting job's age is reported.
TEST_F(admin, backlog_gauge_equals_the_stream_after_xdel) {
    worker("sleep=1");
    f.enqueue("sleep", {{"payload", {{"ms", 60'000}}}});
    ASSERT_TRUE(fleet::eventually([&] { return f.pending("sleep") >= 1; }, 10s));
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(f.enqueue("sleep", {{"payload", {{"ms", 1}}}}));
    std::this_thread::sleep_for(1s);  // whatever the worker reads ahead, it has read by now
    for (int i = 15; i < 20; ++i) f.cmd({"XDEL", "wharf:{sleep}:stream", ids[i]});
    std::this_thread::sleep_for(1100ms);
    // The truth: entries after the group's last-delivered id.
    const auto groups = f.cmd({"XINFO", "GROUPS", "wharf:{sleep}:stream"});
    std::string last;
    for (std::size_t i = 0; i + 1 < groups[0].size(); i += 2)
        if (groups[0][i].str() == "last-delivered-id") last = groups[0][i + 1].str();
    ASSERT_FALSE(last.empty());
    const auto after = f.cmd({"XRANGE", "wharf:{sleep}:stream", "(" + last, "+"});
    const auto truth = static_cast<double>(after.size());
    EXPECT_GT(truth, 0);
    auto m = scrape();
    EXPECT_DOUBLE_EQ(m["wharf_queue_backlog{queue=\"sleep\"}"], truth);
    EXPECT_DOUBLE_EQ(m["wharf_queue_in_flight{queue=\"sleep\"}"], static_cast<double>(f.pending("sleep")));
    EXPECT_GE(m["wharf_queue_oldest_waiting_seconds{queue=\"sleep\"}"], 1.0);
    EXPECT_DOUBLE_EQ(m["wharf_worker_busy_slots{queue=\"sleep\"}"], 1);
}

TEST_F(admin, the_scheduler_serves_the_same_endpoints_and_wharfctl_health_asks_them) {
    wharf::test::temp_dir dir;
    wharf::test::process_options opts;
    opts.output = dir.path() / "scheduler.log";
    wharf::test::process sched({(wharf::test::binary_dir() / "scheduler" / "wharf-scheduler").string(), "--redis-url",
                                f.redis().url(), "--database-url", f.postgres().url(), "--admin-listen",
                                "127.0.0.1:" + std::to_string(port)},
                               opts);
    wharf::test::wait_for_port(port, 30s);
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(fleet::eventually([&] { return f.ctl({"health", "--url", base + "/readyz"}).status == 0; }, 15s));
    const auto live = f.ctl({"health", "--url", base + "/livez"});
    EXPECT_EQ(live.status, 0) << live.output;
    EXPECT_EQ(live.output, "ok\n");
    // The built-in schedules are recorded at start: their gauges come from PostgreSQL.
    ASSERT_TRUE(fleet::eventually(
        [&] { return http_call(port, "/metrics").body.find("wharf_schedule_paused{schedule=") != std::string::npos; },
        15s));
    f.redis().stop();
    const auto down = f.ctl({"health", "--url", base + "/readyz"});
    EXPECT_EQ(down.status, 1) << down.output;
    EXPECT_NE(down.output.find("not ready: redis"), std::string::npos) << down.output;
    f.redis().start();
    sched.signal(SIGTERM);
    EXPECT_EQ(sched.wait(30s), std::optional<int>(0));
    const auto gone = f.ctl({"health", "--url", base + "/readyz", "--timeout", "2s"});
    EXPECT_EQ(gone.status, 3) << gone.output;
}

// --exit-when-idle (a worker run as a batch job, KEDA's ScaledJob): it runs what there is, then
// stops the graceful way once nothing has been in hand for that long.
TEST_F(admin, a_worker_with_exit_when_idle_stops_once_its_work_is_done) {
    f.enqueue_many("sleep", 3, [](std::size_t) { return json{{"payload", {{"ms", 300}}}}; });
    auto& w = worker("sleep=1", {"--exit-when-idle", "1s"});
    const auto started = std::chrono::steady_clock::now();
    const auto status = w.wait(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 1800ms);  // three jobs of 300 ms, then 1 s idle
    EXPECT_EQ(f.stat("sleep", "succeeded"), 3);
    EXPECT_EQ(f.count("SELECT count(*) FROM jobs WHERE queue = 'sleep' AND status = 'succeeded'"), 3);
}
