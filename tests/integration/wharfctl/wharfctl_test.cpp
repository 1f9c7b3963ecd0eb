// wharfctl as an operator's script sees it: the built binary run against a real redis-server and
// PostgreSQL, checking stdout, the one-line stderr, --json shapes and exit codes.
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/queue/operations.hpp"
#include "wharf/redis/endpoint.hpp"
#include "wharf/test/postgres_server.hpp"
#include "wharf/test/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <fstream>
#include <sstream>
#include <thread>

namespace asio = boost::asio;
namespace q = wharf::queue;
namespace redis = wharf::redis;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct result {
    int status = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

std::size_t lines(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

class wharfctl : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        redis_ = new wharf::test::redis_server();
        postgres_ = new wharf::test::postgres_server();
    }
    static void TearDownTestSuite() {
        delete redis_;
        delete postgres_;
        redis_ = nullptr;
        postgres_ = nullptr;
    }
    void SetUp() override { ASSERT_EQ(ctl({"migrate"}).status, 0); }
    void TearDown() override {
        if (conn_) {
            conn_->close();
            io_.restart();
            io_.run_for(100ms);
        }
    }

    // Runs the binary with stdout and stderr kept apart (through sh, which the fixture's run()
    // does not do by itself).
    result ctl(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
        wharf::test::temp_dir dir("wharfctl-test");
        const auto err_file = dir.path() / "stderr.txt";
        std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$@\" 2>\"$WHARFCTL_TEST_ERR\"", "sh",
                                      (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        wharf::test::process_options options;
        options.env = {{"WHARF_REDIS_URL", redis_->url()},
                       {"WHARF_DATABASE_URL", postgres_->url()},
                       {"WHARFCTL_TEST_ERR", err_file.string()}};
        for (auto& [k, v] : env) options.env[k] = v;
        auto r = wharf::test::run(argv, options, 60s);
        std::ifstream in(err_file);
        std::stringstream err;
        err << in.rdbuf();
        return {r.status, r.output, err.str()};
    }

    // A usage/operation error: the code, and exactly one line on stderr, nothing on stdout.
    void expect_error(const result& r, int code, const std::string& contains) {
        EXPECT_EQ(r.status, code) << r.out << r.err;
        EXPECT_EQ(lines(r.err), 1u) << r.err;
        EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }

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
    redis::connection& conn() {
        if (!conn_) conn_ = std::make_unique<redis::connection>(io_.get_executor(), *redis::parse_url(redis_->url()));
        return *conn_;
    }
    json queue_row(const std::string& queue) {
        const auto r = ctl({"queues", "--json"});
        EXPECT_EQ(r.status, 0) << r.err;
        const json doc = json::parse(r.out);
        for (const auto& row : doc["queues"])
            if (row["queue"] == queue) return row;
        ADD_FAILURE() << "queue " << queue << " not listed: " << r.out;
        return {};
    }

    static wharf::test::redis_server* redis_;
    static wharf::test::postgres_server* postgres_;
    asio::io_context io_;
    std::unique_ptr<redis::connection> conn_;
};

wharf::test::redis_server* wharfctl::redis_ = nullptr;
wharf::test::postgres_server* wharfctl::postgres_ = nullptr;

}  // namespace

TEST_F(wharfctl, help_lists_the_commands_and_the_exit_codes) {
    const auto r = ctl({"--help"});
    EXPECT_EQ(r.status, 0);
    for (const char* word : {"migrate", "enqueue", "status", "queues", "dead", "exit codes", "2  usage",
                             "3  Redis or PostgreSQL unreachable", "WHARF_REDIS_URL"})
        EXPECT_NE(r.out.find(word), std::string::npos) << word;
    EXPECT_EQ(ctl({}).status, 2);
    expect_error(ctl({"frobnicate"}), 2, "unknown command 'frobnicate'");
}

TEST_F(wharfctl, every_command_has_help) {
    for (std::vector<std::string> args : {std::vector<std::string>{"migrate", "--help"},
                                          {"enqueue", "--help"},
                                          {"status", "--help"},
                                          {"queues", "--help"},
                                          {"dead", "--help"},
                                          {"dead", "list", "--help"},
                                          {"dead", "retry", "--help"},
                                          {"dead", "purge", "--help"}}) {
        const auto r = ctl(args);
        EXPECT_EQ(r.status, 0) << args[0] << r.err;
        EXPECT_NE(r.out.find("usage: wharfctl " + args[0]), std::string::npos) << r.out;
    }
}

TEST_F(wharfctl, migrate_is_idempotent_and_reports_json) {
    const auto again = ctl({"migrate"});
    EXPECT_EQ(again.status, 0) << again.err;
    EXPECT_NE(again.out.find("up to date"), std::string::npos) << again.out;
    const auto j = ctl({"migrate", "--json"});
    ASSERT_EQ(j.status, 0) << j.err;
    const json doc = json::parse(j.out);
    EXPECT_TRUE(doc["applied"].empty());
    EXPECT_FALSE(doc["already_applied"].empty());
}

TEST_F(wharfctl, enqueue_prints_the_job_id_alone_and_the_queue_shows_it) {
    // `id=$(wharfctl enqueue ...)`: the id and a newline on stdout, nothing else.
    const auto r = ctl({"enqueue", "cli-a", "--payload", R"({"url":"http://x/a.mp4"})"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(r.out.back(), '\n');
    const std::string printed_id = r.out.substr(0, r.out.size() - 1);
    EXPECT_EQ(printed_id.find_first_of(" \n"), std::string::npos) << r.out;

    const auto j = ctl({"enqueue", "cli-a", "--payload", "{}", "--id", "order-1", "--api-key", "t1",
                        "--max-attempts", "4", "--timeout", "90s", "--json"});
    ASSERT_EQ(j.status, 0) << j.err;
    const json doc = json::parse(j.out);
    EXPECT_EQ(doc["queue"], "cli-a");
    EXPECT_EQ(doc["job_id"], "order-1");
    EXPECT_TRUE(doc["entry_id"].is_string());
    EXPECT_TRUE(doc["run_at"].is_null());

    const auto entries = run(conn().exec({"XRANGE", "wharf:{cli-a}:stream", "-", "+"}));
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0][0].str(), printed_id);  // without --id, a job's id is its entry id
    EXPECT_EQ(entries[1][0].str(), doc["entry_id"]);
    auto env = std::get<q::envelope>(q::decode(entries[1][1][1].str(), "cli-a"));
    EXPECT_EQ(env.id, "order-1");
    EXPECT_EQ(env.api_key, "t1");
    EXPECT_EQ(env.max_attempts, 4);
    EXPECT_EQ(env.timeout_s, 90);

    const json row = queue_row("cli-a");
    EXPECT_EQ(row["depth"], 2);
    EXPECT_EQ(row["in_flight"], 0);
    EXPECT_EQ(row["delayed"], 0);
    EXPECT_EQ(row["dead"], 0);
}

TEST_F(wharfctl, enqueue_with_a_delay_schedules_the_job_under_a_trackable_id) {
    const auto r = ctl({"enqueue", "cli-b", "--payload", "{}", "--delay", "1h", "--json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const json doc = json::parse(r.out);
    EXPECT_TRUE(doc["entry_id"].is_null());
    EXPECT_TRUE(doc["job_id"].get<std::string>().starts_with("wharfctl-"));
    const auto at = q::parse_rfc3339(doc["run_at"].get<std::string>());
    ASSERT_TRUE(at);
    EXPECT_GT(*at, std::chrono::system_clock::now() + 59min);
    EXPECT_EQ(ctl({"enqueue", "cli-b", "--payload", "{}", "--run-at", "2200-01-01T00:00:00Z"}).status, 0);
    EXPECT_EQ(queue_row("cli-b")["delayed"], 2);
}

TEST_F(wharfctl, enqueue_refuses_bad_input_with_one_line_and_exit_2) {
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{nope"}), 2, "--payload: not JSON");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "[1,2]"}), 2, "--payload: must be a JSON object");
    expect_error(ctl({"enqueue", "cli-c"}), 2, "--payload is required");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--id", "a b"}), 2,
                 "--id: 1-128 characters of [A-Za-z0-9._:-]");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--max-attempts", "0"}), 2, "--max-attempts:");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--max-attempts", "x"}), 2, "whole number");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--delay", "soon"}), 2, "--delay");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--run-at", "tomorrow"}), 2, "--run-at:");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--delay", "1s", "--run-at", "2200-01-01T00:00:00Z"}),
                 2, "not both");
    expect_error(ctl({"enqueue", "Bad{Queue}", "--payload", "{}"}), 2, "queue name");
    expect_error(ctl({"enqueue", "--payload", "{}"}), 2, "missing argument");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--colour", "red"}), 2, "unknown flag --colour");
    expect_error(ctl({"enqueue", "cli-c", "--payload", "{}", "--redis-url", "http://x"}), 2, "--redis-url");
    // Nothing reached Redis.
    EXPECT_EQ(run(conn().exec({"EXISTS", "wharf:{cli-c}:stream"})).integer(), 0);
}

TEST_F(wharfctl, an_unreachable_server_exits_3_with_one_line) {
    const std::string nowhere = "redis://127.0.0.1:" + std::to_string(wharf::test::free_port()) + "/0";
    expect_error(ctl({"queues"}, {{"WHARF_REDIS_URL", nowhere}}), 3, "cannot reach Redis");
    expect_error(ctl({"enqueue", "cli-d", "--payload", "{}"}, {{"WHARF_REDIS_URL", nowhere}}), 3,
                 "cannot reach Redis");
    const std::string no_db = "postgresql://postgres@127.0.0.1:" + std::to_string(wharf::test::free_port()) + "/x";
    expect_error(ctl({"status", "j1"}, {{"WHARF_DATABASE_URL", no_db}}), 3, "cannot reach PostgreSQL");
    // Passwords stay out of the message.
    const auto r = ctl({"queues"}, {{"WHARF_REDIS_URL", "redis://:hunter2@127.0.0.1:" +
                                                            std::to_string(wharf::test::free_port()) + "/0"}});
    EXPECT_EQ(r.status, 3);
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

TEST_F(wharfctl, status_of_an_unknown_job_exits_1) {
    expect_error(ctl({"status", "no-such-job"}), 1, "no job with id no-such-job");
    expect_error(ctl({"status", "x"}, {{"WHARF_DATABASE_URL", "postgresql://[::1"}}), 2, "--database-url");
    expect_error(ctl({"status"}), 2, "missing argument");
}

TEST_F(wharfctl, status_shows_the_jobs_row) {
    wharf::pg::pool db{io_.get_executor(), postgres_->url()};
    {
        wharf::pg::job_state_writer writer{io_.get_executor(), db};
        wharf::pg::job_start s;
        s.id = "status-1";
        s.queue = "cli-e";
        s.fence = {1700000000000, 0, 1};
        s.max_attempts = 3;
        s.api_key = "tenant-9";
        writer.started(s);
        wharf::pg::job_outcome o;
        o.id = "status-1";
        o.queue = "cli-e";
        o.fence = s.fence;
        o.status = wharf::pg::job_status::succeeded;
        o.result_json = R"({"bytes":42})";
        EXPECT_EQ(run(writer.finished(o)), wharf::pg::write_result::applied);
        run(writer.drain());
    }
    db.shutdown();

    const auto text = ctl({"status", "status-1"});
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_NE(text.out.find("succeeded"), std::string::npos) << text.out;

    const auto r = ctl({"status", "status-1", "--json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const json doc = json::parse(r.out);
    for (const char* key : {"id", "queue", "status", "attempts", "max_attempts", "epoch", "error", "result",
                            "progress", "api_key", "parent_id", "created_at", "updated_at", "started_at",
                            "finished_at", "run_at"})
        EXPECT_TRUE(doc.contains(key)) << key;
    EXPECT_EQ(doc["id"], "status-1");
    EXPECT_EQ(doc["queue"], "cli-e");
    EXPECT_EQ(doc["status"], "succeeded");
    EXPECT_EQ(doc["epoch"], 1);
    EXPECT_EQ(doc["result"], json::parse(R"({"bytes":42})"));
    EXPECT_EQ(doc["api_key"], "tenant-9");
    EXPECT_TRUE(doc["error"].is_null());
}

// --wait: a script's "submit, then wait" -- the row read until the job is over, the exit status
// saying how it ended, a timeout that says what the job still is.
TEST_F(wharfctl, status_wait_returns_when_the_job_is_over_and_says_how_it_ended) {
    ASSERT_EQ(ctl({"enqueue", "cli-w", "--payload", "{}", "--id", "wait-1"}).status, 0);
    ASSERT_EQ(ctl({"enqueue", "cli-w", "--payload", "{}", "--id", "wait-2"}).status, 0);
    const auto finish_later = [this](std::string id, std::string status) {
        return std::thread([url = postgres_->url(), id, status] {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            pqxx::connection c(url);
            pqxx::work tx(c);
            tx.exec_params("UPDATE jobs SET status = $2, finished_at = now() WHERE id = $1", id, status);
            tx.commit();
        });
    };

    // Still queued when the timeout passes: exit 5, and what it still is.
    auto timed_out = ctl({"status", "wait-1", "--wait", "--wait-timeout", "300ms"});
    EXPECT_EQ(timed_out.status, 5);
    EXPECT_NE(timed_out.err.find("still queued after 300ms"), std::string::npos) << timed_out.err;
    EXPECT_NE(timed_out.out.find("queued"), std::string::npos) << timed_out.out;

    auto t1 = finish_later("wait-1", "succeeded");
    const auto ok = ctl({"status", "wait-1", "--wait", "--json"});
    t1.join();
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(json::parse(ok.out)["status"], "succeeded");
    // Over already: at once, the same answer.
    EXPECT_EQ(ctl({"status", "wait-1", "--wait"}).status, 0);

    auto t2 = finish_later("wait-2", "failed");
    const auto failed = ctl({"status", "wait-2", "--wait", "--json"});
    t2.join();
    EXPECT_EQ(failed.status, 1);
    EXPECT_EQ(json::parse(failed.out)["status"], "failed");
    expect_error(ctl({"status", "wait-2", "--wait", "--wait-timeout", "soon"}), 2, "--wait-timeout");
}

// With a database configured, enqueue writes the job's 'queued' row, so status sees it before a
// worker starts it; the worker's first start (delivery 1 of that entry) then takes the row over.
TEST_F(wharfctl, an_enqueued_job_is_queued_in_status_until_a_worker_starts_it) {
    const auto e = ctl({"enqueue", "cli-q", "--payload", R"({"n":1})", "--id", "queued-1", "--api-key", "t7",
                        "--max-attempts", "3", "--json"});
    ASSERT_EQ(e.status, 0) << e.err;
    EXPECT_TRUE(e.err.empty()) << e.err;
    const std::string entry = json::parse(e.out)["entry_id"];
    auto s = ctl({"status", "queued-1", "--json"});
    ASSERT_EQ(s.status, 0) << s.err;
    json doc = json::parse(s.out);
    EXPECT_EQ(doc["status"], "queued");
    EXPECT_EQ(doc["queue"], "cli-q");
    EXPECT_EQ(doc["attempts"], 0);
    EXPECT_EQ(doc["max_attempts"], 3);
    EXPECT_EQ(doc["epoch"], 0);
    EXPECT_EQ(doc["api_key"], "t7");
    EXPECT_TRUE(doc["started_at"].is_null());

    // The same id again: the row stays as it is (the duplicate will not run either).
    EXPECT_EQ(ctl({"enqueue", "cli-q", "--payload", "{}", "--id", "queued-1"}).status, 0);

    wharf::pg::pool db{io_.get_executor(), postgres_->url()};
    {
        wharf::pg::job_state_writer writer{io_.get_executor(), db};
        wharf::pg::job_start start;
        start.id = "queued-1";
        start.queue = "cli-q";
        start.fence = {std::stoll(entry.substr(0, entry.find('-'))), std::stoll(entry.substr(entry.find('-') + 1)), 1};
        start.max_attempts = 3;
        writer.started(start);
        wharf::pg::job_outcome o;
        o.id = "queued-1";
        o.queue = "cli-q";
        o.fence = start.fence;
        o.status = wharf::pg::job_status::succeeded;
        EXPECT_EQ(run(writer.finished(o)), wharf::pg::write_result::applied);
        run(writer.drain());
    }
    db.shutdown();
    doc = json::parse(ctl({"status", "queued-1", "--json"}).out);
    EXPECT_EQ(doc["status"], "succeeded");
    EXPECT_EQ(doc["attempts"], 1);
    EXPECT_EQ(doc["epoch"], 1);

    // A delayed job is queued with its run_at.
    const auto d = ctl({"enqueue", "cli-q", "--payload", "{}", "--delay", "1h", "--json"});
    ASSERT_EQ(d.status, 0) << d.err;
    doc = json::parse(ctl({"status", json::parse(d.out)["job_id"].get<std::string>(), "--json"}).out);
    EXPECT_EQ(doc["status"], "queued");
    EXPECT_TRUE(doc["run_at"].is_string());

    // Without a database the job is still enqueued (Redis is the queue); with an unreachable one,
    // too, with a warning.
    const auto no_db = ctl({"enqueue", "cli-q", "--payload", "{}"}, {{"WHARF_DATABASE_URL", ""}});
    EXPECT_EQ(no_db.status, 0) << no_db.err;
    EXPECT_TRUE(no_db.err.empty()) << no_db.err;
    const auto down = ctl({"enqueue", "cli-q", "--payload", "{}"},
                          {{"WHARF_DATABASE_URL", "postgresql://wharf@127.0.0.1:1/wharf?connect_timeout=2"}});
    EXPECT_EQ(down.status, 0) << down.err;
    EXPECT_NE(down.err.find("is enqueued, but its 'queued' row was not written"), std::string::npos) << down.err;
    EXPECT_FALSE(down.out.empty());
    EXPECT_EQ(down.out.find(' '), std::string::npos) << down.out;  // the id alone
}

TEST_F(wharfctl, dead_list_retry_and_purge) {
    q::operations ops{conn(), "cli-f"};
    run(ops.ensure_group());
    for (const char* id : {"d1", "d2"}) {
        q::envelope e;
        e.type = "cli-f";
        e.id = id;
        run(ops.enqueue(e));
    }
    auto got = run(q::operations::read_new(conn(), ops.keys(), "w1", 10, 100ms));
    ASSERT_EQ(got.size(), 2u);
    run(ops.dead_letter(got[0], "d1", "payload: url missing", 3));
    run(ops.dead_letter(got[1], "d2", "timed out after 60s", 1));

    const auto list = ctl({"dead", "list", "cli-f", "--json"});
    ASSERT_EQ(list.status, 0) << list.err;
    const json doc = json::parse(list.out);
    EXPECT_EQ(doc["queue"], "cli-f");
    ASSERT_EQ(doc["entries"].size(), 2u);
    EXPECT_EQ(doc["entries"][0]["job_id"], "d1");
    EXPECT_EQ(doc["entries"][0]["reason"], "payload: url missing");
    EXPECT_EQ(doc["entries"][0]["attempts"], 3);
    EXPECT_TRUE(doc["entries"][0]["failed_at"].is_string());
    EXPECT_TRUE(doc["entries"][0]["entry_id"].is_string());
    EXPECT_TRUE(doc["entries"][0]["job"].is_string());
    EXPECT_EQ(json::parse(ctl({"dead", "list", "cli-f", "--json", "--limit", "1"}).out)["entries"].size(), 1u);
    const auto text = ctl({"dead", "list", "cli-f"});
    EXPECT_NE(text.out.find("timed out after 60s"), std::string::npos);
    EXPECT_EQ(queue_row("cli-f")["dead"], 2);

    expect_error(ctl({"dead", "retry", "cli-f", "--id", "nope"}), 1, "no dead job with id nope");
    const auto retry = ctl({"dead", "retry", "cli-f", "--id", "d2"});
    EXPECT_EQ(retry.status, 0) << retry.err;
    EXPECT_NE(retry.out.find("retried 1"), std::string::npos) << retry.out;
    const json row = queue_row("cli-f");
    EXPECT_EQ(row["dead"], 1);
    EXPECT_EQ(row["depth"], 1);

    expect_error(ctl({"dead", "purge", "cli-f"}), 2, "without --yes");
    EXPECT_EQ(queue_row("cli-f")["dead"], 1);
    const auto purge = ctl({"dead", "purge", "cli-f", "--yes"});
    EXPECT_EQ(purge.status, 0) << purge.err;
    EXPECT_NE(purge.out.find("purged 1"), std::string::npos) << purge.out;
    EXPECT_EQ(queue_row("cli-f")["dead"], 0);

    expect_error(ctl({"dead", "bury", "cli-f"}), 2, "unknown subcommand 'bury'");
    expect_error(ctl({"dead"}), 2, "missing subcommand");
}

TEST_F(wharfctl, queues_prints_a_table) {
    ASSERT_EQ(ctl({"enqueue", "cli-g", "--payload", "{}"}).status, 0);
    const auto r = ctl({"queues"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("QUEUE"), std::string::npos);
    EXPECT_NE(r.out.find("IN-FLIGHT"), std::string::npos);
    EXPECT_NE(r.out.find("cli-g"), std::string::npos);
}
