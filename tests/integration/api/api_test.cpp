#include "fleet.hpp"

#include "wharf/test/http_call.hpp"
#include "wharf/test/moto_server.hpp"
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

    // Bulk download: one manifest for many jobs; each job's own error in it.
    r = call("POST", "/api/v1/jobs/downloads", a,
             json{{"ids", {"clip-1", *ids.begin(), "nope"}}, {"expires", 900}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    doc = json::parse(r.body);
    EXPECT_EQ(doc["expires_in"], 900);
    ASSERT_EQ(doc["jobs"].size(), 3u);
    EXPECT_EQ(doc["jobs"][0]["queue"], "pipeline");
    EXPECT_EQ(doc["jobs"][0]["files"].size(), 1u);  // only its 720p exists
    EXPECT_NE(doc["jobs"][0]["files"]["720p"]["url"].get<std::string>().find("processed/clip-1/720p.mp4"), std::string::npos);
    EXPECT_EQ(doc["jobs"][0]["files"]["720p"]["size"], 10);
    EXPECT_EQ(doc["jobs"][1]["error"]["code"], "not_completed");
    EXPECT_EQ(doc["jobs"][2]["error"]["code"], "not_found");
    const auto other = key_for("tenant-z");
    r = call("POST", "/api/v1/jobs/downloads", other, R"({"ids": ["clip-1"]})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["jobs"][0]["error"]["code"], "not_found");
    r = call("POST", "/api/v1/jobs/downloads", a, R"({"ids": ["clip-1"], "file_types": ["1080p"]})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "file_types");
    EXPECT_EQ(json::parse(call("POST", "/api/v1/jobs/downloads", a, R"({"ids": []})").body)["error"]["field"], "ids");

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

namespace {

// curl -F: a multipart/form-data POST streamed from files, as browsers and scripts send it.
struct curl_reply {
    int status = 0;
    json body;
    std::string raw;
};
curl_reply curl_form(std::uint16_t port, const std::string& key, const std::vector<std::string>& fields,
                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"curl", "-sS", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + key};
    for (const auto& f : fields) {
        argv.push_back("-F");
        argv.push_back(f);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(port) + "/api/v1/uploads");
    const auto r = wharf::test::run(argv, {}, 300s);
    curl_reply out;
    out.raw = r.output;
    const auto nl = r.output.rfind('\n');
    if (nl == std::string::npos) return out;
    out.status = std::atoi(r.output.c_str() + nl + 1);
    out.body = json::parse(r.output.substr(0, nl), nullptr, false);
    return out;
}

std::string sha256_of(const std::filesystem::path& p) {
    const auto r = wharf::test::run({"sha256sum", p.string()});
    return r.output.substr(0, 64);
}

// The peak resident set of a process (VmHWM), in bytes.
std::uint64_t peak_rss(pid_t pid) {
    const auto status = wharf::test::read_proc_file("/proc/" + std::to_string(pid) + "/status");
    const auto at = status.find("VmHWM:");
    if (at == std::string::npos) return 0;
    return std::stoull(status.substr(at + 6)) * 1024;
}

}  // namespace

// The 1 GiB proof runs in the plain build (the README's test command). Under a sanitizer the API's
// allocator is the sanitizer's (its quarantine and shadow are in the RSS) and an unoptimised read
// costs ~500x more, so the same path runs with 64 MiB there, for memory safety, without the RSS bound.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::int64_t upload_mib = 64;
constexpr bool measure_rss = false;
#else
constexpr std::int64_t upload_mib = 1024;
constexpr bool measure_rss = true;
#endif
constexpr std::int64_t upload_bytes = upload_mib << 20;

TEST_F(api, a_1_gib_form_upload_is_streamed_in_bounded_memory_then_moved_to_permanent_and_deleted) {
    const auto a = key_for("tenant-a", {"--quota", "2GiB"});
    const auto b = key_for("tenant-b");
    const auto big = dir.path() / "big.bin";
    {
        std::ofstream out(big, std::ios::binary);
        std::string block(1 << 20, '\0');
        for (int i = 0; i < upload_mib; ++i) {  // not all alike (no compression anywhere helps)
            block[static_cast<std::size_t>(i) * 7 % block.size()] = static_cast<char>(i);
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
    }
    const auto sha = sha256_of(big);
    const auto before = peak_rss(server->pid());
    ASSERT_GT(before, 0u);
    const auto up = curl_form(port, a, {"is_temp=true", "file=@" + big.string() + ";type=video/mp4;filename=../../My Clip.mp4"});
    ASSERT_EQ(up.status, 201) << up.raw;
    const auto peak = peak_rss(server->pid());
    std::cerr << "wharf-api peak RSS: " << before / 1024 << " KiB before, " << peak / 1024 << " KiB after a " << upload_mib
              << " MiB upload\n";
    if (measure_rss) {
        EXPECT_LT(peak, 64ull << 20);
    }
    const auto id = up.body["id"].get<std::string>();
    EXPECT_EQ(up.body["size"], upload_bytes);
    EXPECT_EQ(up.body["sha256"], sha);
    EXPECT_EQ(up.body["is_temp"], true);
    EXPECT_EQ(up.body["content_type"], "video/mp4");
    EXPECT_EQ(up.body["key"], "temp/" + id + "/My_Clip.mp4");  // no traversal, no spaces
    EXPECT_FALSE(up.body["url"].get<std::string>().empty());
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND api_key = 'tenant-a' AND size = " +
                          std::to_string(upload_bytes) + " "
                      "AND sha256 = '" + sha + "' AND prefix_class = 'temp'"),
              1);
    auto usage = json::parse(call("GET", "/api/v1/usage", a).body);
    EXPECT_EQ(usage["used_bytes"], upload_bytes);

    // Its presigned URL, for its owner only: another tenant gets the 404 of an upload that does not exist.
    auto r = call("GET", "/api/v1/uploads/" + id, a);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["is_temp"], true);
    const auto other = call("GET", "/api/v1/uploads/" + id, b);
    const auto missing = call("GET", "/api/v1/uploads/up_00000000000000000000", b);
    EXPECT_EQ(other.status, 404);
    EXPECT_EQ(other.body, missing.body);
    EXPECT_EQ(call("POST", "/api/v1/uploads/" + id + "/permanent", b).status, 404);
    EXPECT_EQ(call("DELETE", "/api/v1/uploads/" + id, b).status, 404);

    // Move to permanent: a rename in the catalog, usage unchanged; again is a no-op.
    r = call("POST", "/api/v1/uploads/" + id + "/permanent", a);
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["key"], "videos/" + id + "/My_Clip.mp4");
    EXPECT_EQ(doc["is_temp"], false);
    EXPECT_EQ(json::parse(call("POST", "/api/v1/uploads/" + id + "/permanent", a).body)["key"], doc["key"]);
    usage = json::parse(call("GET", "/api/v1/usage", a).body);
    EXPECT_EQ(usage["used_bytes"], upload_bytes);
    EXPECT_EQ(usage["file_count"], 1);

    r = call("DELETE", "/api/v1/uploads/" + id, a);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["freed_bytes"], upload_bytes);
    usage = json::parse(call("GET", "/api/v1/usage", a).body);
    EXPECT_EQ(usage["used_bytes"], 0);
    EXPECT_EQ(call("GET", "/api/v1/uploads/" + id, a).status, 404);
    // Nothing left in the spool.
    std::size_t spooled = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path() / ".data" / "tmp"))
        spooled += e.is_regular_file();
    EXPECT_EQ(spooled, 0u);
}

TEST_F(api, uploads_over_quota_are_refused_before_storing_bad_forms_name_the_field_and_temp_files_are_cleaned) {
    const auto a = key_for("tenant-q", {"--quota", "1MiB"});
    const auto two_mib = dir.path() / "two.bin";
    {
        std::ofstream out(two_mib, std::ios::binary);
        const std::string block(2 << 20, 'x');
        out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    // With a Content-Length: refused before the body is read (curl is told so and does not send it).
    auto r = curl_form(port, a, {"file=@" + two_mib.string()});
    EXPECT_EQ(r.status, 413) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "quota_exceeded");
    EXPECT_EQ(r.body["error"]["field"], "file");
    // Chunked, with no length: refused once the bytes pass the quota.
    r = curl_form(port, a, {"file=@" + two_mib.string()}, {"-H", "Transfer-Encoding: chunked"});
    EXPECT_EQ(r.status, 413) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "quota_exceeded");
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE api_key = 'tenant-q'"), 0);
    EXPECT_EQ(json::parse(call("GET", "/api/v1/usage", a).body)["used_bytes"], 0);

    // Bad forms: each names its field.
    const auto small = dir.path() / "small.txt";
    std::ofstream(small) << "hello, wharf\n";
    r = curl_form(port, a, {"is_temp=maybe", "file=@" + small.string()});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_EQ(r.body["error"]["field"], "is_temp");
    r = curl_form(port, a, {"is_temp=true"});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_EQ(r.body["error"]["field"], "file");
    r = curl_form(port, a, {"colour=blue", "file=@" + small.string()});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_EQ(r.body["error"]["field"], "colour");
    auto plain = call("POST", "/api/v1/uploads", a, R"({"file": "x"})");
    EXPECT_EQ(plain.status, 415) << plain.body;
    EXPECT_EQ(json::parse(plain.body)["error"]["field"], "Content-Type");
    // No file chosen (a browser's empty filename), and a Content-Type that is not a plain media type.
    plain = http_call(port, "POST", "/api/v1/uploads",
                      {{"Authorization", "Bearer " + a}, {"Content-Type", "multipart/form-data; boundary=zz"}},
                      "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n\r\n--zz--\r\n");
    EXPECT_EQ(plain.status, 400) << plain.body;
    EXPECT_EQ(json::parse(plain.body)["error"]["message"], "no file was chosen");
    plain = http_call(port, "POST", "/api/v1/uploads",
                      {{"Authorization", "Bearer " + a}, {"Content-Type", "multipart/form-data; boundary=zz"}},
                      "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.html\"\r\n"
                      "Content-Type: text/html; charset=utf-8\r\n\r\n<script>\r\n--zz--\r\n");
    EXPECT_EQ(plain.status, 400) << plain.body;
    EXPECT_EQ(json::parse(plain.body)["error"]["field"], "file");
    // A body that stops before its closing boundary stores nothing.
    plain = http_call(port, "POST", "/api/v1/uploads",
                      {{"Authorization", "Bearer " + a}, {"Content-Type", "multipart/form-data; boundary=zz"}},
                      "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n\r\nhalf a file");
    EXPECT_EQ(plain.status, 400) << plain.body;
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE api_key = 'tenant-q'"), 0);

    // A temp upload, its URL twice (the second from the presign cache), then the temp cleanup.
    r = curl_form(port, a, {"is_temp=1", "file=@" + small.string()});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto id = r.body["id"].get<std::string>();
    EXPECT_EQ(r.body["key"], "temp/" + id + "/small.txt");
    const auto first = json::parse(call("GET", "/api/v1/uploads/" + id, a).body);
    const auto stats_before = json::parse(call("GET", "/api/v1/presign-cache", a).body);
    const auto second = json::parse(call("GET", "/api/v1/uploads/" + id, a).body);
    const auto stats_after = json::parse(call("GET", "/api/v1/presign-cache", a).body);
    EXPECT_EQ(first["url"], second["url"]);
    EXPECT_EQ(stats_after["hits"].get<int>(), stats_before["hits"].get<int>() + 1);
    auto cleared = call("DELETE", "/api/v1/presign-cache", a);
    ASSERT_EQ(cleared.status, 200) << cleared.body;
    EXPECT_GE(json::parse(cleared.body)["cleared"].get<int>(), 1);
    EXPECT_EQ(json::parse(call("GET", "/api/v1/presign-cache", a).body)["entries"], 0);

    EXPECT_EQ(json::parse(call("GET", "/api/v1/usage", a).body)["used_bytes"], 13);
    // Another tenant's object under the same prefix (a job given such a key): never this tenant's to remove.
    f.count("WITH i AS (INSERT INTO objects (provider, bucket, key, size, sha256, api_key, prefix_class) "
            "SELECT provider, bucket, 'temp/" + id + "/intruder.bin', 5, sha256, 'someone-else', 'temp' FROM objects "
            "WHERE key = 'temp/" + id + "/small.txt' AND deleted_at IS NULL RETURNING 1) SELECT count(*) FROM i");
    auto cleanup = call("POST", "/api/v1/uploads/cleanup?older_than=1h", a);
    ASSERT_EQ(cleanup.status, 200) << cleanup.body;
    EXPECT_EQ(json::parse(cleanup.body)["removed_uploads"], 0);  // too young
    cleanup = call("POST", "/api/v1/uploads/cleanup?older_than=0s", a);
    ASSERT_EQ(cleanup.status, 200) << cleanup.body;
    EXPECT_EQ(json::parse(cleanup.body)["removed_uploads"], 1);
    EXPECT_EQ(json::parse(cleanup.body)["freed_bytes"], 13);
    EXPECT_EQ(json::parse(call("GET", "/api/v1/usage", a).body)["used_bytes"], 0);
    EXPECT_EQ(call("GET", "/api/v1/uploads/" + id, a).status, 404);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE key = 'temp/" + id + "/intruder.bin' AND deleted_at IS NULL"), 1);
    EXPECT_EQ(call("POST", "/api/v1/uploads/cleanup?older_than=soon", a).status, 400);
}

TEST_F(api, a_presigned_put_goes_straight_to_the_provider_and_counts_once_completed_and_read_back) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    // A spool file an API killed mid-upload left an hour ago goes when an API starts; a fresh
    // one (another API's upload under way) stays.
    const auto spool = dir.path() / ".data" / "tmp";
    std::filesystem::create_directories(spool);
    std::ofstream(spool / "upload-api-up_0123456789abcdef0123.part") << "left by a kill -9";
    std::ofstream(spool / "upload-api-up_fedcba9876543210fedc.part") << "being written";
    std::filesystem::last_write_time(spool / "upload-api-up_0123456789abcdef0123.part",
                                     std::filesystem::file_time_type::clock::now() - 2h);
    const std::uint16_t port2 = wharf::test::free_port();
    wharf::test::process_options opts;
    opts.output = dir.path() / "api-s3.log";
    opts.cwd = dir.path();
    const std::string providers =
        R"([{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
        R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing"}])";
    wharf::test::process api_s3{{(wharf::test::binary_dir() / "api" / "wharf-api").string(), "--redis-url", f.redis().url(),
                                 "--database-url", f.postgres().url(), "--listen", "127.0.0.1:" + std::to_string(port2),
                                 "--key-cache", "0s", "--storage-providers", providers, "--admin-listen", "off"},
                                opts};
    wharf::test::wait_for_port(port2, 30s);
    EXPECT_FALSE(std::filesystem::exists(spool / "upload-api-up_0123456789abcdef0123.part"));
    EXPECT_TRUE(std::filesystem::exists(spool / "upload-api-up_fedcba9876543210fedc.part"));
    std::filesystem::remove(spool / "upload-api-up_fedcba9876543210fedc.part");
    const auto a = key_for("tenant-p", {"--quota", "1MiB"});
    const auto b = key_for("tenant-other");
    const auto call2 = [&](const std::string& method, const std::string& target, const std::string& key,
                           const std::string& body = {}) {
        std::map<std::string, std::string> headers{{"Authorization", "Bearer " + key}};
        if (!body.empty()) headers["Content-Type"] = "application/json";
        return http_call(port2, method, target, headers, body);
    };
    const auto put = [&](const json& grant, const std::filesystem::path& file) {
        std::vector<std::string> argv{"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary",
                                      "@" + file.string()};
        for (const auto& [k, v] : grant["headers"].items()) {
            argv.push_back("-H");
            argv.push_back(k + ": " + v.get<std::string>());
        }
        argv.push_back(grant["url"].get<std::string>());
        return wharf::test::run(argv).output;
    };
    const auto file = dir.path() / "clip.mp4";
    {
        std::ofstream out(file, std::ios::binary);
        for (int i = 0; i < 1000; ++i) out.put(static_cast<char>(i * 31));
    }

    auto r = call2("POST", "/api/v1/uploads/presign", a,
                   R"({"filename": "../clip.mp4", "size": 1000, "is_temp": true, "content_type": "video/mp4"})");
    ASSERT_EQ(r.status, 201) << r.body;
    const auto grant = json::parse(r.body);
    const auto id = grant["id"].get<std::string>();
    EXPECT_EQ(grant["method"], "PUT");
    EXPECT_EQ(grant["provider"], "moto");
    EXPECT_EQ(grant["key"], "temp/" + id + "/clip.mp4");
    EXPECT_NE(grant["url"].get<std::string>().find("X-Amz-Signature="), std::string::npos);
    // Nothing PUT yet; and another tenant cannot complete it.
    r = call2("POST", "/api/v1/uploads/" + id + "/complete", a);
    EXPECT_EQ(r.status, 409) << r.body;
    ASSERT_EQ(put(grant, file), "200");
    EXPECT_EQ(call2("POST", "/api/v1/uploads/" + id + "/complete", b).status, 404);
    EXPECT_EQ(json::parse(call2("GET", "/api/v1/usage", a).body)["used_bytes"], 0);  // not counted before completion

    r = call2("POST", "/api/v1/uploads/" + id + "/complete", a);
    ASSERT_EQ(r.status, 201) << r.body;
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["sha256"], sha256_of(file));
    EXPECT_EQ(doc["size"], 1000);
    EXPECT_EQ(doc["is_temp"], true);
    r = call2("POST", "/api/v1/uploads/" + id + "/complete", a);  // again: the same upload, counted once
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(call2("GET", "/api/v1/usage", a).body)["used_bytes"], 1000);
    // Move to permanent on S3: a server-side copy.
    r = call2("POST", "/api/v1/uploads/" + id + "/permanent", a);
    ASSERT_EQ(r.status, 200) << r.body;
    std::set<std::string> keys;
    for (const auto& o : moto.list_objects("media")) keys.insert(o.key);
    EXPECT_EQ(keys, (std::set<std::string>{"videos/" + id + "/clip.mp4"}));

    // A size other than the one declared: the object goes, nothing is counted.
    r = call2("POST", "/api/v1/uploads/presign", a, R"({"filename": "short.bin", "size": 10})");
    ASSERT_EQ(r.status, 201) << r.body;
    const auto lying = json::parse(r.body);
    ASSERT_EQ(put(lying, file), "200");
    r = call2("POST", "/api/v1/uploads/" + lying["id"].get<std::string>() + "/complete", a);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "size_mismatch");
    EXPECT_EQ(moto.list_objects("media").size(), 1u);
    EXPECT_EQ(json::parse(call2("GET", "/api/v1/usage", a).body)["used_bytes"], 1000);

    // Over the quota: refused when the URL is asked for.
    r = call2("POST", "/api/v1/uploads/presign", a, R"({"filename": "big.bin", "size": 2097152})");
    EXPECT_EQ(r.status, 413) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "size");
    EXPECT_EQ(call2("POST", "/api/v1/uploads/presign", a, R"({"filename": "x", "size": -1})").status, 400);
    EXPECT_EQ(call2("POST", "/api/v1/uploads/presign", a, R"({"size": 1})").status, 400);

    // Granted, PUT, never completed, expired: the cleanup removes the uncounted object.
    r = call2("POST", "/api/v1/uploads/presign", a, R"({"filename": "left.bin", "size": 1000, "is_temp": true})");
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_EQ(put(json::parse(r.body), file), "200");
    EXPECT_EQ(moto.list_objects("media").size(), 2u);
    f.count("WITH u AS (UPDATE api_pending_uploads SET expires_at = now() - interval '1 second' RETURNING 1) "
            "SELECT count(*) FROM u");
    r = call2("POST", "/api/v1/uploads/cleanup", a);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["expired_presigned_uploads"], 1);
    EXPECT_EQ(moto.list_objects("media").size(), 1u);
    EXPECT_EQ(f.count("SELECT count(*) FROM api_pending_uploads"), 0);
    EXPECT_EQ(json::parse(call2("GET", "/api/v1/usage", a).body)["used_bytes"], 1000);
}
