// The `download` job in real wharf-worker processes (redis-server, PostgreSQL, the local storage
// provider) against a real nginx on loopback: the stored bytes and their SHA-256; a worker killed
// with -9 mid-transfer whose take-over continues the partial file with Range + If-Range; a changed
// ETag that starts over; a complete partial file verified through a 416; the size cap with and
// without Content-Length; 404 permanent and 503 retried; a stall; every refused spelling of the
// test server's address (and a redirect to it) refused while the allow-listed port works; a
// default-deny worker; quota and size checks before the body; no URL secret in a row or a log.
#include "fleet.hpp"

#include "wharf/storage/sha256.hpp"
#include "wharf/test/nginx_server.hpp"
#include "wharf/test/storage_data.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <csignal>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wharf::test::fleet;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

const char* servers = R"(
server {
  listen 127.0.0.1:@PORT0@;
  root @ROOT@;
  location /slow/ { limit_rate 512k; }
  location /crawl/ { limit_rate 100; }
  location /ssi/ { ssi on; ssi_types text/plain; }
  location = /redirect/other-port { return 302 http://127.0.0.1:@PORT1@/clip.bin; }
  location = /redirect/octal { return 302 http://0177.0.0.1:@PORT1@/clip.bin; }
  location = /status/404 { return 404; }
  location = /status/503 { return 503; }
}
server { listen 127.0.0.1:@PORT1@; root @ROOT@; }
)";

bool is_final(const std::string& status) { return status == "succeeded" || status == "dead" || status == "failed"; }

class download_job : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir = new wharf::test::temp_dir("wharf-download-job");
        servers_ = new fleet();
        web = new wharf::test::nginx_server({.servers = servers, .ports = 2});
        clip = wharf::test::random_bytes(3 * MiB + 123, 11);
        wharf::test::spill(web->root() / "clip.bin", clip);
        wharf::test::spill(web->root() / "big.bin", wharf::test::random_bytes(2 * MiB, 12));
        fs::create_directories(web->root() / "slow");
        fs::create_directories(web->root() / "crawl");
        wharf::test::spill(web->root() / "crawl/clip.bin", wharf::test::random_bytes(64 * 1024, 13));
        fs::create_directories(web->root() / "ssi");
        wharf::test::spill(web->root() / "ssi/big.txt", std::string(2 * MiB, 'a'));
    }
    static void TearDownTestSuite() {
        delete web;
        delete servers_;
        delete dir;
    }
    void TearDown() override {
        for (auto* w : started) w->kill_hard();
        if (HasFailure()) {
            servers_->dump_logs();
            std::cerr << "---- nginx access log ----\n" << web->access_log() << "\n";
        }
    }

    static fs::path storage_root() { return dir->path() / "storage"; }
    static fs::path scratch() { return dir->path() / "scratch"; }
    static std::string allowed_port() { return std::to_string(web->port(0)); }

    // A worker on the download queue: the local provider, the test's scratch folder, the test
    // server's first port allowed, a 1 s stall window. `extra` replaces the allow-list when it
    // names one.
    wharf::test::process& start_worker(std::vector<std::string> extra = {}, bool allow = true) {
        const json providers = {{"providers", {{{"name", "local"}, {"kind", "local"}, {"root", storage_root().string()},
                                                {"limit", "1GiB"}}}}};
        std::vector<std::string> flags{"--queues",        "download=4",
                                       "--lease",         "1500ms",
                                       "--sweep",         "100ms",
                                       "--storage-providers", providers.dump(),
                                       "--scratch-dir",   scratch().string(),
                                       "--download-stall-window", "1s"};
        if (allow) flags.insert(flags.end(), {"--download-allow", "127.0.0.1/32:" + allowed_port()});
        flags.insert(flags.end(), extra.begin(), extra.end());
        auto& w = servers_->start_worker(flags);
        started.push_back(&w);
        last_worker = workers_started++;
        return w;
    }

    static void enqueue(const std::string& id, json payload, int max_attempts = 3,
                        std::optional<std::string> api_key = std::nullopt) {
        json envelope{{"id", id}, {"max_attempts", max_attempts}, {"payload", std::move(payload)}};
        if (api_key) envelope["api_key"] = *api_key;
        servers_->enqueue("download", envelope);
    }

    static wharf::test::job_row_view final_row(const std::string& id, std::chrono::seconds limit = 60s) {
        std::optional<wharf::test::job_row_view> row;
        fleet::eventually(
            [&] {
                row = servers_->job(id);
                return row && is_final(row->status);
            },
            limit);
        if (!row) return {.id = id, .status = "(no row)"};
        return *row;
    }

    static json result_of(const wharf::test::job_row_view& row) { return json::parse(row.result.value_or("{}")); }

    static std::int64_t progress_done(const std::string& id) {
        return servers_->count("SELECT COALESCE(max((progress->>'done')::bigint), 0) FROM jobs WHERE id = '" + id +
                               "' AND progress->>'phase' = 'download'");
    }

    static fs::path partial_of(const std::string& id) { return scratch() / ("download-download-" + id + ".part"); }

    // The access log lines for one path.
    static std::vector<std::string> requests_for(const std::string& path) {
        std::istringstream log(web->access_log());
        std::vector<std::string> lines;
        for (std::string line; std::getline(log, line);)
            if (line.find(" " + path + " ") != std::string::npos) lines.push_back(line);
        return lines;
    }

    static wharf::test::temp_dir* dir;
    static fleet* servers_;
    static wharf::test::nginx_server* web;
    static std::string clip;
    static std::size_t workers_started;  // by this suite, on the shared fleet: a worker's log index
    std::vector<wharf::test::process*> started;
    std::size_t last_worker = 0;
};

wharf::test::temp_dir* download_job::dir = nullptr;
fleet* download_job::servers_ = nullptr;
wharf::test::nginx_server* download_job::web = nullptr;
std::string download_job::clip;
std::size_t download_job::workers_started = 0;

TEST_F(download_job, stores_the_exact_bytes_and_records_them) {
    start_worker();
    const auto sha = wharf::storage::sha256_hex(clip);
    enqueue("plain", {{"url", web->url("/clip.bin")}, {"video_id", "v-plain"}, {"sha256", sha}, {"size", clip.size()}},
            3, "tenant-plain");
    const auto row = final_row("plain");
    ASSERT_EQ(row.status, "succeeded") << row.error.value_or("");
    const auto r = result_of(row);
    EXPECT_EQ(r["key"], "videos/v-plain/clip.bin");
    EXPECT_EQ(r["size"], clip.size());
    EXPECT_EQ(r["sha256"], sha);
    EXPECT_EQ(r["bytes_resumed"], 0);
    EXPECT_EQ(r["url"], web->url("/clip.bin"));
    EXPECT_EQ(r["content_type"], "application/octet-stream");
    EXPECT_EQ(r["duplicate"], false);
    EXPECT_EQ(servers_->count("SELECT count(*) FROM objects WHERE key = 'videos/v-plain/clip.bin' AND sha256 = '" + sha +
                              "' AND size = " + std::to_string(clip.size()) + " AND api_key = 'tenant-plain'"),
              1);
    EXPECT_EQ(wharf::storage::sha256_file_hex(storage_root() / "videos/v-plain/clip.bin"), sha);
    EXPECT_FALSE(fs::exists(partial_of("plain")));
}

TEST_F(download_job, secrets_in_the_url_reach_no_row_and_no_log) {
    auto& w = start_worker();
    const auto port = allowed_port();
    enqueue("secret-ok", {{"url", "http://alice:hunter2@127.0.0.1:" + port + "/clip.bin?sig=topsecret&t=1"},
                          {"key", "videos/v-secret/clip.bin"}});
    enqueue("secret-404", {{"url", "http://alice:hunter2@127.0.0.1:" + port + "/status/404?sig=topsecret"},
                           {"key", "videos/v-secret/missing.bin"}});
    EXPECT_EQ(final_row("secret-ok").status, "succeeded");
    const auto failed = final_row("secret-404");
    EXPECT_EQ(failed.status, "dead");
    EXPECT_NE(failed.error.value_or("").find("404"), std::string::npos);
    EXPECT_NE(result_of(final_row("secret-ok"))["url"], nullptr);
    pqxx::connection c{servers_->postgres().url()};
    pqxx::nontransaction tx{c};
    const auto rows = tx.exec(
        "SELECT id, coalesce(payload::text, ''), coalesce(result::text, ''), coalesce(error, ''), "
        "coalesce(progress::text, '') FROM jobs WHERE id LIKE 'secret-%'");
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) {
        for (int col = 1; col < 5; ++col) {
            const auto text = row[col].as<std::string>();
            EXPECT_EQ(text.find("hunter2"), std::string::npos) << row[0].as<std::string>() << ": " << text;
            EXPECT_EQ(text.find("topsecret"), std::string::npos) << row[0].as<std::string>() << ": " << text;
        }
    }
    w.kill_hard();
    const auto log = servers_->worker_log(last_worker);
    EXPECT_NE(log.find("secret-ok"), std::string::npos);  // the log is the right one, and it talks
    EXPECT_EQ(log.find("hunter2"), std::string::npos);
    EXPECT_EQ(log.find("topsecret"), std::string::npos);
}

TEST_F(download_job, a_worker_killed_mid_transfer_is_continued_with_if_range) {
    const std::string slow = wharf::test::random_bytes(3 * MiB + 5, 21);
    wharf::test::spill(web->root() / "slow/resume.bin", slow);
    auto& first = start_worker();
    enqueue("resume", {{"url", web->url("/slow/resume.bin")}, {"key", "videos/v-resume/clip.bin"}});
    // nginx sends 512 KiB a second: after 1 MiB, about 2 MiB are still to come.
    ASSERT_TRUE(fleet::eventually([&] { return progress_done("resume") >= 1024 * 1024; }, 30s)) << "no progress";
    first.kill_hard();
    const auto kept = fs::file_size(partial_of("resume"));
    EXPECT_GT(kept, 0u);
    EXPECT_LT(kept, slow.size());

    start_worker();
    const auto row = final_row("resume");
    ASSERT_EQ(row.status, "succeeded") << row.error.value_or("");
    EXPECT_EQ(row.epoch, 2);  // taken over, not retried
    const auto r = result_of(row);
    EXPECT_EQ(r["sha256"], wharf::storage::sha256_hex(slow));
    EXPECT_EQ(r["size"], slow.size());
    EXPECT_EQ(r["bytes_resumed"], kept);
    const auto lines = requests_for("/slow/resume.bin");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[1].find("status=206"), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("range=\"bytes=" + r["bytes_resumed"].dump() + "-\""), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("if_range=\"\\x22"), std::string::npos) << lines[1];  // the ETag nginx sent
    EXPECT_EQ(wharf::storage::sha256_file_hex(storage_root() / "videos/v-resume/clip.bin"), wharf::storage::sha256_hex(slow));
    EXPECT_FALSE(fs::exists(partial_of("resume")));
}

TEST_F(download_job, a_changed_etag_starts_over_from_zero) {
    const auto path = web->root() / "slow/changing.bin";
    wharf::test::spill(path, wharf::test::random_bytes(3 * MiB, 31));
    auto& first = start_worker();
    enqueue("changed", {{"url", web->url("/slow/changing.bin")}, {"key", "videos/v-changed/clip.bin"}});
    ASSERT_TRUE(fleet::eventually([&] { return progress_done("changed") >= 1024 * 1024; }, 30s)) << "no progress";
    first.kill_hard();
    ASSERT_GT(fs::file_size(partial_of("changed")), 0u);
    // New bytes, same size, another modification time: nginx's ETag changes.
    const std::string now = wharf::test::random_bytes(3 * MiB, 32);
    wharf::test::spill(path, now);
    fs::last_write_time(path, fs::last_write_time(path) + 10s);

    start_worker();
    const auto row = final_row("changed");
    ASSERT_EQ(row.status, "succeeded") << row.error.value_or("");
    const auto r = result_of(row);
    EXPECT_EQ(r["bytes_resumed"], 0);
    EXPECT_EQ(r["sha256"], wharf::storage::sha256_hex(now));
    const auto lines = requests_for("/slow/changing.bin");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[1].find("if_range=\"\\x22"), std::string::npos) << lines[1];  // it asked to continue...
    EXPECT_NE(lines[1].find("status=200"), std::string::npos) << lines[1];         // ...and got the new whole
}

TEST_F(download_job, a_complete_partial_file_is_verified_through_416_not_fetched_again) {
    // What an attempt leaves when it downloaded everything and then failed to store: the file and
    // its sidecar. The next attempt asks from the end, gets 416 and stores what is there.
    const auto url = web->url("/clip.bin");
    const auto probe = wharf::test::run({"curl", "-sSI", url});
    const auto at = probe.output.find("ETag: ");
    ASSERT_NE(at, std::string::npos) << probe.output;
    const auto etag = probe.output.substr(at + 6, probe.output.find('\r', at) - at - 6);
    fs::create_directories(scratch());
    wharf::test::spill(partial_of("verify"), clip);
    const json sidecar{{"v", 1}, {"url", wharf::storage::sha256_hex(url)}, {"etag", etag}, {"total", clip.size()}};
    wharf::test::spill(scratch() / "download-download-verify.part.json", sidecar.dump());

    start_worker();
    enqueue("verify", {{"url", url}, {"key", "videos/v-verify/clip.bin"}, {"sha256", wharf::storage::sha256_hex(clip)}});
    const auto row = final_row("verify");
    ASSERT_EQ(row.status, "succeeded") << row.error.value_or("");
    EXPECT_EQ(result_of(row)["bytes_resumed"], clip.size());
    const auto lines = requests_for("/clip.bin");
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines.back().find("status=416"), std::string::npos) << lines.back();
    EXPECT_NE(lines.back().find("range=\"bytes=" + std::to_string(clip.size()) + "-\""), std::string::npos);
}

TEST_F(download_job, http_404_is_permanent_and_503_is_retried) {
    start_worker();
    enqueue("missing", {{"url", web->url("/status/404")}, {"key", "videos/v-404/x.bin"}}, 3);
    enqueue("unavailable", {{"url", web->url("/status/503")}, {"key", "videos/v-503/x.bin"}}, 2);
    const auto missing = final_row("missing");
    EXPECT_EQ(missing.status, "dead");
    EXPECT_EQ(missing.attempts, 1);
    EXPECT_NE(missing.error.value_or("").find("HTTP status 404"), std::string::npos) << missing.error.value_or("");
    const auto unavailable = final_row("unavailable");
    EXPECT_EQ(unavailable.status, "dead");
    EXPECT_EQ(unavailable.attempts, 2);
    EXPECT_NE(unavailable.error.value_or("").find("HTTP status 503"), std::string::npos);
    EXPECT_EQ(requests_for("/status/503").size(), 2u);
}

TEST_F(download_job, a_stalled_server_is_aborted) {
    start_worker();
    enqueue("stalled", {{"url", web->url("/crawl/clip.bin")}, {"key", "videos/v-stall/x.bin"}}, 1);
    const auto row = final_row("stalled");
    EXPECT_EQ(row.status, "dead");
    EXPECT_NE(row.error.value_or("").find("stalled"), std::string::npos) << row.error.value_or("");
    EXPECT_FALSE(fs::exists(partial_of("stalled")));  // the last attempt keeps nothing
}

TEST_F(download_job, the_size_cap_holds_with_and_without_content_length) {
    start_worker();
    enqueue("cap-length", {{"url", web->url("/big.bin")}, {"key", "videos/v-cap/a.bin"}, {"max_bytes", MiB}});
    enqueue("cap-chunked", {{"url", web->url("/ssi/big.txt")}, {"key", "videos/v-cap/b.txt"}, {"max_bytes", MiB}});
    for (const auto* id : {"cap-length", "cap-chunked"}) {
        SCOPED_TRACE(id);
        const auto row = final_row(id);
        EXPECT_EQ(row.status, "dead");
        EXPECT_EQ(row.attempts, 1);
        EXPECT_NE(row.error.value_or("").find("cap of 1048576 bytes"), std::string::npos) << row.error.value_or("");
        EXPECT_FALSE(fs::exists(partial_of(id)));
    }
    EXPECT_EQ(servers_->count("SELECT count(*) FROM objects WHERE key LIKE 'videos/v-cap/%'"), 0);
}

TEST_F(download_job, size_and_sha256_mismatches_are_permanent) {
    start_worker();
    enqueue("bad-size", {{"url", web->url("/clip.bin")}, {"key", "videos/v-bad/a.bin"}, {"size", clip.size() + 1}});
    enqueue("bad-sha", {{"url", web->url("/clip.bin")}, {"key", "videos/v-bad/b.bin"}, {"sha256", std::string(64, 'a')}});
    const auto size = final_row("bad-size");
    EXPECT_EQ(size.status, "dead");
    EXPECT_NE(size.error.value_or("").find("payload.size says"), std::string::npos) << size.error.value_or("");
    const auto sha = final_row("bad-sha");
    EXPECT_EQ(sha.status, "dead");
    EXPECT_EQ(sha.attempts, 1);
    EXPECT_NE(sha.error.value_or("").find("payload.sha256 says"), std::string::npos) << sha.error.value_or("");
    EXPECT_EQ(servers_->count("SELECT count(*) FROM objects WHERE key LIKE 'videos/v-bad/%'"), 0);
}

TEST_F(download_job, every_refused_spelling_and_redirect_is_refused_while_the_allowed_port_works) {
    start_worker();
    const auto p1 = std::to_string(web->port(1));
    const std::vector<std::pair<std::string, std::string>> urls{
        {"refused-ip", "http://127.0.0.1:" + p1 + "/clip.bin"},
        {"refused-name", "http://localhost:" + p1 + "/clip.bin"},
        {"refused-octal", "http://0177.0.0.1:" + p1 + "/clip.bin"},
        {"refused-decimal", "http://2130706433:" + p1 + "/clip.bin"},
        {"refused-mapped", "http://[::ffff:127.0.0.1]:" + p1 + "/clip.bin"},
        {"refused-redirect", web->url("/redirect/other-port")},
        {"refused-redirect-octal", web->url("/redirect/octal")},
    };
    for (const auto& [id, url] : urls) enqueue(id, {{"url", url}, {"key", "videos/" + id + "/clip.bin"}}, 3);
    enqueue("allowed", {{"url", web->url("/clip.bin")}, {"key", "videos/allowed/clip.bin"}});
    for (const auto& [id, url] : urls) {
        SCOPED_TRACE(id);
        const auto row = final_row(id);
        EXPECT_EQ(row.status, "dead");
        EXPECT_EQ(row.attempts, 1);  // permanent
        EXPECT_NE(row.error.value_or("").find("egress refused"), std::string::npos) << row.error.value_or("");
        EXPECT_NE(row.error.value_or("").find("loopback"), std::string::npos) << row.error.value_or("");
    }
    EXPECT_EQ(final_row("allowed").status, "succeeded");
    std::istringstream log(web->access_log());
    for (std::string line; std::getline(log, line);) EXPECT_FALSE(line.starts_with(p1 + " ")) << line;
}

TEST_F(download_job, a_worker_without_an_allow_list_refuses_the_test_server) {
    start_worker({}, false);
    enqueue("default-deny", {{"url", web->url("/clip.bin")}, {"key", "videos/deny/clip.bin"}});
    const auto row = final_row("default-deny");
    EXPECT_EQ(row.status, "dead");
    EXPECT_EQ(row.attempts, 1);
    EXPECT_NE(row.error.value_or("").find("egress refused: 127.0.0.1 is loopback"), std::string::npos)
        << row.error.value_or("");
}

TEST_F(download_job, the_quota_is_checked_before_the_body_moves) {
    servers_->count(
        "WITH q AS (INSERT INTO api_keys (api_key, quota_bytes) VALUES ('tenant-small', 1048576) "
        "ON CONFLICT (api_key) DO UPDATE SET quota_bytes = EXCLUDED.quota_bytes RETURNING 1) SELECT count(*) FROM q");
    start_worker();
    wharf::test::spill(web->root() / "quota-known.bin", wharf::test::random_bytes(2 * MiB, 41));
    wharf::test::spill(web->root() / "quota-told.bin", wharf::test::random_bytes(2 * MiB, 42));
    enqueue("quota-known", {{"url", web->url("/quota-known.bin")}, {"key", "videos/q/a.bin"}, {"size", 2 * MiB}}, 3,
            "tenant-small");
    enqueue("quota-told", {{"url", web->url("/quota-told.bin")}, {"key", "videos/q/b.bin"}}, 3, "tenant-small");
    for (const auto* id : {"quota-known", "quota-told"}) {
        SCOPED_TRACE(id);
        const auto row = final_row(id);
        EXPECT_EQ(row.status, "dead");
        EXPECT_NE(row.error.value_or("").find("quota exceeded"), std::string::npos) << row.error.value_or("");
    }
    EXPECT_TRUE(requests_for("/quota-known.bin").empty());  // the payload's size was enough
    EXPECT_EQ(servers_->count("SELECT count(*) FROM objects WHERE key LIKE 'videos/q/%'"), 0);
}

}  // namespace
