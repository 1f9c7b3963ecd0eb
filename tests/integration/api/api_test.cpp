#include "fleet.hpp"

#include "wharf/test/http_call.hpp"
#include "wharf/test/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;
using wharf::test::http_call;
using wharf::test::http_reply;

namespace {

class api : public ::testing::Test {
protected:
    fleet f;
    wharf::test::logs_on_failure dump{f};
    wharf::test::temp_dir dir;
    std::uint16_t port = wharf::test::free_port();
    std::unique_ptr<wharf::test::process> server;

    void SetUp() override {
        wharf::test::process_options opts;
        opts.output = dir.path() / "api.log";
        opts.cwd = dir.path();
        server = std::make_unique<wharf::test::process>(
            std::vector<std::string>{(wharf::test::binary_dir() / "api" / "wharf-api").string(), "--redis-url",
                                     f.redis().url(), "--database-url", f.postgres().url(), "--listen",
                                     "127.0.0.1:" + std::to_string(port), "--api-queues", "noop,sleep", "--key-cache",
                                     "0s", "--max-body", "4096", "--log-level", "debug"},
            opts);
        wharf::test::wait_for_port(port, 30s);
    }
    void TearDown() override {
        if (HasFailure()) {
            std::ifstream in(dir.path() / "api.log");
            std::cerr << "---- wharf-api log ----\n" << in.rdbuf() << "\n";
        }
    }

    // wharfctl apikeys create: the key (printed alone on stdout).
    std::string key_for(const std::string& tenant, const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{"apikeys", "create", "--tenant", tenant};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back("--json");
        const auto r = f.ctl(args);
        EXPECT_EQ(r.status, 0) << r.output;
        const auto at = r.output.find('{');
        return json::parse(r.output.substr(at))["key"].get<std::string>();
    }
    http_reply call(const std::string& method, const std::string& target, const std::string& key,
                    const std::string& body = {}) {
        std::map<std::string, std::string> headers;
        if (!key.empty()) headers["Authorization"] = "Bearer " + key;
        if (!body.empty()) headers["Content-Type"] = "application/json";
        return http_call(port, method, target, headers, body);
    }
};

}  // namespace

TEST_F(api, every_bad_key_gets_the_same_401_and_a_good_one_gets_in) {
    const auto good = key_for("tenant-a");
    const auto revoked = key_for("tenant-a");
    const auto prefix = revoked.substr(3, 8);
    ASSERT_EQ(f.ctl({"apikeys", "revoke", prefix}).status, 0);
    const auto list = f.ctl({"apikeys", "list", "--json"});
    EXPECT_EQ(list.output.find(good), std::string::npos);  // never shown again
    EXPECT_NE(list.output.find(prefix), std::string::npos);

    std::string unknown = good;
    unknown[20] = unknown[20] == 'a' ? 'b' : 'a';
    std::string other_prefix = good;
    other_prefix[5] = other_prefix[5] == 'a' ? 'b' : 'a';
    std::vector<http_reply> refusals;
    refusals.push_back(call("GET", "/api/v1/usage", ""));
    refusals.push_back(call("GET", "/api/v1/usage", "not-a-key"));
    refusals.push_back(call("GET", "/api/v1/usage", unknown));       // right prefix, wrong secret
    refusals.push_back(call("GET", "/api/v1/usage", other_prefix));  // no such prefix
    refusals.push_back(call("GET", "/api/v1/usage", revoked));
    for (const auto& r : refusals) {
        EXPECT_EQ(r.status, 401);
        EXPECT_EQ(r.body, refusals.front().body);
        EXPECT_EQ(r.headers.at("WWW-Authenticate"), "Bearer");
    }
    const auto ok = call("GET", "/api/v1/usage", good);
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(json::parse(ok.body)["tenant"], "tenant-a");
    EXPECT_FALSE(ok.headers.at("X-Request-Id").empty());
    // The request id is in the API's log line for the request.
    std::this_thread::sleep_for(100ms);
    std::ifstream in(dir.path() / "api.log");
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find(ok.headers.at("X-Request-Id")), std::string::npos);
    EXPECT_EQ(log.find(good), std::string::npos);  // the key never reaches the log
    // X-API-Key works too; the health route needs no key.
    EXPECT_EQ(http_call(port, "GET", "/api/v1/usage", {{"X-API-Key", good}}).status, 200);
    EXPECT_EQ(http_call(port, "GET", "/health").status, 200);
}

TEST_F(api, jobs_enqueued_over_http_run_and_another_tenant_sees_a_404_identical_to_a_missing_job) {
    f.start_worker({"--queues", "noop=4,sleep=2"});
    const auto a = key_for("tenant-a");
    const auto b = key_for("tenant-b");
    auto r = call("POST", "/api/v1/jobs", a, R"({"queue": "noop", "payload": {}, "id": "order-1"})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(json::parse(r.body)["id"], "order-1");
    ASSERT_TRUE(fleet::eventually(
        [&] { return json::parse(call("GET", "/api/v1/jobs/order-1", a).body).value("status", "") == "succeeded"; },
        30s));
    const auto mine = json::parse(call("GET", "/api/v1/jobs/order-1?queue=noop", a).body);
    EXPECT_EQ(mine["api_key"], "tenant-a");
    EXPECT_EQ(mine["queue"], "noop");

    const auto theirs = call("GET", "/api/v1/jobs/order-1", b);
    const auto missing = call("GET", "/api/v1/jobs/no-such-job", b);
    EXPECT_EQ(theirs.status, 404);
    EXPECT_EQ(theirs.body, missing.body);
    EXPECT_EQ(call("POST", "/api/v1/jobs/order-1/cancel", b).body, call("POST", "/api/v1/jobs/no-such-job/cancel", b).body);
    EXPECT_EQ(call("GET", "/api/v1/jobs/order-1/download/720p", b).body,
              call("GET", "/api/v1/jobs/no-such-job/download/720p", b).body);

    // A job for later, listed and cancelled.
    r = call("POST", "/api/v1/jobs", a, R"({"queue": "sleep", "payload": {"ms": 1}, "delay": "1h"})");
    ASSERT_EQ(r.status, 201) << r.body;
    const auto later = json::parse(r.body);
    EXPECT_TRUE(later["run_at"].is_string());
    const std::string later_id = later["id"];
    r = call("POST", "/api/v1/jobs/" + later_id + "/cancel", a);
    EXPECT_EQ(r.status, 202) << r.body;
    r = call("POST", "/api/v1/jobs/order-1/cancel", a);
    EXPECT_EQ(r.status, 409) << r.body;  // over already
}

TEST_F(api, bad_input_names_the_field_and_big_bodies_are_refused_before_they_are_read) {
    const auto a = key_for("tenant-a");
    const auto field_of = [&](const std::string& body) {
        const auto r = call("POST", "/api/v1/jobs", a, body);
        EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
        const auto doc = json::parse(r.body);
        return doc["error"].value("field", std::string());
    };
    EXPECT_EQ(field_of("not json"), "body");
    EXPECT_EQ(field_of("[]"), "body");
    EXPECT_EQ(field_of(R"({"payload": {}})"), "queue");
    EXPECT_EQ(field_of(R"({"queue": "cleanup", "payload": {}})"), "queue");  // not one the API takes
    EXPECT_EQ(field_of(R"({"queue": "noop", "payload": []})"), "payload");
    EXPECT_EQ(field_of(R"({"queue": "noop", "max_attempts": 0})"), "max_attempts");
    EXPECT_EQ(field_of(R"({"queue": "noop", "id": "bad id!"})"), "id");
    EXPECT_EQ(field_of(R"({"queue": "noop", "timeout": "soon"})"), "timeout");
    EXPECT_EQ(field_of(R"({"queue": "noop", "delay": "1s", "run_at": "2030-01-01T00:00:00Z"})"), "delay");
    auto r = call("POST", "/api/v1/pipelines", a, R"({"source": "/etc/passwd"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "source");
    r = call("GET", "/api/v1/jobs?limit=1000", a);
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "limit");
    r = call("GET", "/api/v1/jobs/x/download/1080p", a);
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "file_type");
    r = call("GET", "/api/v1/jobs/a%2F..%2Fb", a);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "id");
    // 4 KiB limit (--max-body): refused from its Content-Length, 413.
    r = call("POST", "/api/v1/jobs", a, R"({"queue": "noop", "payload": {"x": ")" + std::string(8000, 'a') + "\"}}");
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(call("DELETE", "/api/v1/jobs", a).status, 405);
    EXPECT_EQ(call("GET", "/api/v1/nowhere", a).status, 404);
}

TEST_F(api, scopes_limit_a_key_and_the_rate_limit_answers_429_with_retry_after) {
    const auto reader = key_for("tenant-a", {"--scopes", "jobs:read"});
    auto r = call("POST", "/api/v1/jobs", reader, R"({"queue": "noop"})");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(call("GET", "/api/v1/usage", reader).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/jobs", reader).status, 200);

    const auto slow = key_for("tenant-a", {"--rate", "5"});
    int ok = 0, limited = 0;
    std::string retry_after;
    for (int i = 0; i < 30; ++i) {
        const auto res = call("GET", "/api/v1/jobs", slow);
        if (res.status == 200) ++ok;
        if (res.status == 429) {
            ++limited;
            retry_after = res.headers.at("Retry-After");
        }
    }
    EXPECT_GT(limited, 0);
    EXPECT_GE(ok, 5);
    EXPECT_LE(ok, 15);  // at most 5 a second, over however many seconds the loop spans
    EXPECT_EQ(retry_after, "1");
}

TEST_F(api, lists_page_by_cursor_and_download_urls_storage_stats_and_usage_have_their_shapes) {
    const auto a = key_for("tenant-a", {"--quota", "1GiB"});
    std::set<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        const auto r = call("POST", "/api/v1/jobs", a, R"({"queue": "sleep", "payload": {"ms": 1}, "delay": "1h"})");
        ASSERT_EQ(r.status, 201) << r.body;
        ids.insert(json::parse(r.body)["id"].get<std::string>());
    }
    std::set<std::string> listed;
    std::string cursor;
    int pages = 0;
    do {
        std::string target = "/api/v1/jobs?limit=2&queue=sleep";
        if (!cursor.empty()) {
            std::string escaped;
            for (unsigned char c : cursor) {
                char buf[4];
                std::snprintf(buf, sizeof buf, "%%%02X", c);
                escaped += buf;
            }
            target += "&cursor=" + escaped;
        }
        const auto r = call("GET", target, a);
        ASSERT_EQ(r.status, 200) << r.body;
        const auto doc = json::parse(r.body);
        for (const auto& j : doc["jobs"]) listed.insert(j["id"].get<std::string>());
        cursor = doc["next_cursor"].is_null() ? "" : doc["next_cursor"].get<std::string>();
        ++pages;
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(listed, ids);
    EXPECT_EQ(pages, 3);

    // A finished pipeline's row (as the worker writes it), to take download URLs from.
    f.count("WITH i AS (INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, api_key, result, finished_at) "
            "VALUES ('clip-1', 'pipeline', 'succeeded', 1, 1, 1, 'tenant-a', "
            "'{\"artifacts\": {\"720p\": {\"provider\": \"local\", \"key\": \"processed/clip-1/720p.mp4\", \"size\": 10, "
            "\"sha256\": \"ab\"}}}', now()) RETURNING 1) SELECT count(*) FROM i");
    auto r = call("GET", "/api/jobs/clip-1/download/720p?expires=600", a);
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json::parse(r.body);
    EXPECT_NE(doc["url"].get<std::string>().find("processed/clip-1/720p.mp4"), std::string::npos);
    EXPECT_EQ(doc["expires_in"], 600);
    EXPECT_TRUE(doc["expires_at"].is_string());
    r = call("GET", "/api/v1/jobs/clip-1/download/audio", a);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "no_such_file");
    r = call("GET", "/api/v1/jobs/" + *ids.begin() + "/download/720p", a);
    EXPECT_EQ(r.status, 400);  // not completed
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "not_completed");

    // Seed 000's shape.
    r = call("GET", "/api/storage/stats", a);
    ASSERT_EQ(r.status, 200) << r.body;
    doc = json::parse(r.body);
    for (const char* k : {"providers", "total_size_bytes", "total_size_gb", "total_file_count"})
        EXPECT_TRUE(doc.contains(k)) << k;
    ASSERT_FALSE(doc["providers"].empty());
    for (const char* k : {"provider", "total_size_bytes", "total_size_gb", "file_count", "available_bytes",
                          "available_gb", "used_percentage", "is_full", "last_updated"})
        EXPECT_TRUE(doc["providers"][0].contains(k)) << k;
    r = call("GET", "/api/v1/usage", a);
    doc = json::parse(r.body);
    EXPECT_EQ(doc["quota_bytes"], 1ll << 30);
    EXPECT_EQ(doc["used_bytes"], 0);
}
