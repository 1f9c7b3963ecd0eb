// Compression of old jobs at real providers (moto, Azurite; the local provider left alone): text
// artifacts of jobs finished long ago stored gzip-encoded and read back byte-identical through
// `wharfctl storage get` and through a presigned URL with curl; media, unknown and incompressible
// objects left and remembered; young jobs' objects left; the catalog keeps the original's SHA-256
// while size and usage drop exactly by the bytes saved; a rerun changes nothing; a run killed with
// -9 at random points and rerun leaves every object readable and usage equal to the live rows; the
// `compress` job type on a real worker.
#include "fleet.hpp"

#include "wharf/storage/azure.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/gzip.hpp"
#include "wharf/storage/provider_metrics.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/azurite_server.hpp"
#include "wharf/test/moto_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
namespace s = wharf::storage;
using nlohmann::json;
using wharf::test::fleet;
using namespace std::chrono_literals;

namespace {

std::string wharfctl() {
    return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string();
}

template <class T>
T sync(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
    auto fut = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
    while (fut.wait_for(0s) != std::future_status::ready) {
        if (io.stopped()) io.restart();
        io.run_one_for(100ms);
    }
    return fut.get();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class compress : public ::testing::Test {
protected:
    void SetUp() override {
        moto.create_bucket("media");
        root = dir.path() / "store";
        configs = s::parse_provider_configs(json::parse(providers()), "test");
        registry = std::make_unique<s::registry>(configs, io.get_executor());
        sync(io, s::azure::create_container(s::unwrapped(registry->at("azure"))));
    }

    std::string providers() const {
        return R"({"providers":[{"name":"disk","kind":"local","root":")" + root.string() +
               R"(","limit":"10GiB"},{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
               R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing",)"
               R"("limit":"10GiB"},{"name":"azure","kind":"azure","account":"devstoreaccount1","account_key":")" +
               std::string(wharf::test::azurite_server::key) + R"(","container":"media","endpoint":")" +
               azurite.endpoint() + R"(","limit":"10GiB"}]})";
    }

    // Text that compresses as a playlist or a metadata file does.
    std::string text(std::size_t n) {
        std::string out;
        while (out.size() < n)
            out += "{\"segment\": " + std::to_string(rng() % 100000) + ", \"duration\": 6.006, \"uri\": \"seg_" +
                   std::to_string(rng() % 1000) + ".ts\"}\n";
        out.resize(n);
        return out;
    }
    std::string noise(std::size_t n) {
        std::string out(n, '\0');
        for (auto& c : out) c = static_cast<char>(rng());
        return out;
    }

    // Stored as the job `job_id` did, recorded for tenant t1; the job finished `job_age_days` ago.
    void store(const std::string& provider, const std::string& key, const std::string& data, const std::string& type,
               const std::string& job_id, int job_age_days) {
        s::put_options o;
        o.content_type = type;
        o.sha256 = s::sha256_hex(data);
        auto& p = registry->at(provider);
        const auto put = sync(io, p.put_bytes(key, data, std::move(o)));
        pqxx::connection c(f.postgres().url());
        s::object_record r;
        r.provider = provider;
        r.bucket = p.bucket();
        r.key = key;
        r.size = data.size();
        r.sha256 = s::sha256_hex(data);
        r.etag = put.etag;
        r.api_key = "t1";
        r.job_id = job_id;
        r.job_queue = "transcode";
        s::record_object(c, r);
        pqxx::work tx(c);
        tx.exec_params(
            "INSERT INTO jobs (id, queue, status, finished_at) VALUES ($1, 'transcode', 'succeeded', "
            "now() - make_interval(days => $2)) ON CONFLICT DO NOTHING",
            job_id, job_age_days);
        tx.commit();
        originals[provider + ":" + key] = data;
    }

    json run_compress(std::vector<std::string> extra = {}, int expect_status = 0) {
        std::vector<std::string> argv{wharfctl(), "storage", "compress", "--database-url", f.postgres().url(),
                                      "--storage-providers", providers(), "--json"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        const auto r = wharf::test::run(argv, {}, 300s);
        EXPECT_EQ(r.status, expect_status) << r.output;
        return json::parse(r.output.substr(r.output.find('{')));
    }

    // `wharfctl storage get`'s bytes.
    std::string get(const std::string& provider, const std::string& key) {
        const auto out = dir.path() / ("got-" + std::to_string(rng()));
        const auto r = wharf::test::run({wharfctl(), "storage", "get", key, "--provider", provider, "--out",
                                         out.string(), "--database-url", f.postgres().url(), "--storage-providers",
                                         providers()},
                                        {}, 120s);
        EXPECT_EQ(r.status, 0) << r.output;
        return read_file(out);
    }

    // A presigned URL's bytes as curl gets them (--compressed: curl asks for and decodes gzip).
    std::string presigned(const std::string& provider, const std::string& key, bool compressed = true) {
        const auto url = wharf::test::run(
            {wharfctl(), "presign", provider, key, "--expires", "300", "--storage-providers", providers()});
        EXPECT_EQ(url.status, 0) << url.output;
        std::string u = url.output;
        while (!u.empty() && (u.back() == '\n' || u.back() == '\r')) u.pop_back();
        u = u.substr(u.rfind('\n') == std::string::npos ? 0 : u.rfind('\n') + 1);
        const auto out = dir.path() / ("curl-" + std::to_string(rng()));
        std::vector<std::string> argv{"curl", "-sf", "-o", out.string()};
        if (compressed) argv.push_back("--compressed");
        argv.push_back(u);
        const auto r = wharf::test::run(argv, {}, 60s);
        EXPECT_EQ(r.status, 0) << r.output << " " << u;
        return read_file(out);
    }

    std::int64_t count(const std::string& sql) { return f.count(sql); }

    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::moto_server moto;
    wharf::test::azurite_server azurite;
    wharf::test::temp_dir dir{"wharf-compress"};
    fs::path root;
    boost::asio::io_context io;
    std::vector<s::provider_config> configs;
    std::unique_ptr<s::registry> registry;
    std::mt19937_64 rng{20261208};
    std::map<std::string, std::string> originals;
};

const char* usage_matches_rows =
    "SELECT count(*) FROM storage_stats s WHERE total_bytes <> (SELECT COALESCE(sum(size), 0) FROM objects o "
    "WHERE o.provider = s.provider AND deleted_at IS NULL)";

}  // namespace

TEST_F(compress, old_text_artifacts_are_stored_gzip_and_read_back_identical_everywhere) {
    for (const std::string p : {"moto", "azure"}) {
        store(p, "processed/" + p + "/metadata.json", text(300'000), "application/json", "old-" + p, 120);
        store(p, "processed/" + p + "/hls/playlist.m3u8", text(20'000), "application/vnd.apple.mpegurl", "old-" + p, 120);
        store(p, "processed/" + p + "/720p/video_720p.mp4", noise(50'000), "video/mp4", "old-" + p, 120);
        store(p, "processed/" + p + "/noise.txt", noise(40'000), "text/plain", "old-" + p, 120);
        store(p, "processed/" + p + "/blob", text(40'000), "application/octet-stream", "old-" + p, 120);
        store(p, "processed/" + p + "/tiny.json", text(500), "application/json", "old-" + p, 120);
        store(p, "processed/" + p + "/young.json", text(30'000), "application/json", "young-" + p, 10);
    }
    store("disk", "processed/disk/metadata.json", text(30'000), "application/json", "old-disk", 120);
    const auto stats_before = count("SELECT sum(total_bytes) FROM storage_stats");
    const auto used_before = count("SELECT used_bytes FROM api_keys WHERE api_key = 't1'");

    // A dry run counts what it would try (by key) and changes nothing.
    const auto dry = run_compress({"--dry-run"});
    EXPECT_EQ(dry["compressed"], 6) << dry.dump();  // 2 x (json, m3u8, noise.txt); the local one not
    EXPECT_EQ(count("SELECT count(*) FROM objects WHERE content_encoding IS NOT NULL OR compress_checked_at IS NOT NULL"), 0);

    const auto report = run_compress();
    EXPECT_EQ(report["compressed"], 4) << report.dump();
    EXPECT_EQ(report["skipped_type"], 4) << report.dump();   // video, blob (unknown type) per provider
    EXPECT_EQ(report["skipped_ratio"], 2) << report.dump();  // noise.txt per provider
    EXPECT_EQ(report["skipped_provider"], 0) << report.dump();  // the local provider's: not candidates
    EXPECT_EQ(report["failed"], 0) << report.dump();
    const std::uint64_t saved = report["bytes_before"].get<std::uint64_t>() - report["bytes_after"].get<std::uint64_t>();
    EXPECT_GT(saved, 200'000u);

    // The catalog: the original's SHA-256 and size kept, the stored size and digest beside them;
    // usage dropped by exactly the bytes saved, at the providers and for the tenant.
    for (const std::string p : {"moto", "azure"}) {
        for (const std::string leaf : {"metadata.json", "hls/playlist.m3u8"}) {
            const std::string key = "processed/" + p + "/" + leaf;
            const std::string& original = originals[p + ":" + key];
            pqxx::connection c(f.postgres().url());
            const auto row = s::find_object(c, p, "media", key);
            ASSERT_TRUE(row) << key;
            EXPECT_EQ(row->record.content_encoding, "gzip");
            EXPECT_EQ(row->record.sha256, s::sha256_hex(original));
            EXPECT_EQ(row->record.content_size, original.size());
            EXPECT_LT(row->record.size, original.size() / 2);
            // The stored bytes are gzip of the original, as the provider holds them.
            const auto raw = dir.path() / "raw";
            const auto info = sync(io, registry->at(p).get_to_file(key, raw));
            EXPECT_EQ(info.content_encoding, "gzip") << key;
            EXPECT_EQ(info.size, row->record.size);
            EXPECT_EQ(s::sha256_hex(read_file(raw)), row->record.stored_sha256.value_or(""));
            EXPECT_EQ(s::gunzip(read_file(raw), 1 << 30), original);
            // Every reader gets the original: wharf, and a presigned URL with an ordinary client.
            EXPECT_EQ(get(p, key), original) << key;
            EXPECT_EQ(presigned(p, key), original) << key;
        }
        EXPECT_EQ(presigned(p, "processed/" + p + "/720p/video_720p.mp4", false),
                  originals[p + ":processed/" + p + "/720p/video_720p.mp4"]);
    }
    EXPECT_EQ(count("SELECT sum(total_bytes) FROM storage_stats"), stats_before - static_cast<std::int64_t>(saved));
    EXPECT_EQ(count("SELECT used_bytes FROM api_keys WHERE api_key = 't1'"), used_before - static_cast<std::int64_t>(saved));
    EXPECT_EQ(count(usage_matches_rows), 0);
    EXPECT_EQ(count("SELECT count(*) FROM objects WHERE compress_checked_at IS NOT NULL"), 6);
    EXPECT_EQ(count("SELECT count(*) FROM objects WHERE key LIKE '%young%' AND content_encoding IS NOT NULL"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM objects WHERE provider = 'disk' AND content_encoding IS NULL"), 1);

    // A rerun finds nothing left to do: compressed and remembered objects are not candidates.
    const auto again = run_compress();
    EXPECT_EQ(again["examined"], 0) << again.dump();
    EXPECT_EQ(count("SELECT sum(total_bytes) FROM storage_stats"), stats_before - static_cast<std::int64_t>(saved));

    // Replaced by a new upload, the object reads as the new bytes and its row is unencoded again.
    const std::string fresh = text(10'000);
    store("moto", "processed/moto/metadata.json", fresh, "application/json", "old-moto", 120);
    EXPECT_EQ(count("SELECT count(*) FROM objects WHERE key = 'processed/moto/metadata.json' AND deleted_at IS NULL "
                    "AND content_encoding IS NULL AND size = 10000"),
              1);
    EXPECT_EQ(get("moto", "processed/moto/metadata.json"), fresh);
    EXPECT_EQ(count(usage_matches_rows), 0);
}

TEST_F(compress, a_run_killed_anywhere_is_finished_by_the_next_and_counts_once) {
    // The state a kill between the provider's write and the catalog's leaves: gzip bytes stored,
    // the row still unencoded. The next run switches the row without writing again.
    const std::string original = text(100'000);
    store("moto", "processed/k/metadata.json", original, "application/json", "old-k", 100);
    const std::string packed = s::gzip_compress(original);
    s::put_options o;
    o.content_type = "application/json";
    o.content_encoding = "gzip";
    o.sha256 = s::sha256_hex(packed);
    sync(io, registry->at("moto").put_bytes("processed/k/metadata.json", packed, std::move(o)));
    const auto before = count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'");
    const auto finished = run_compress();
    EXPECT_EQ(finished["compressed"], 1) << finished.dump();
    EXPECT_EQ(finished["finished"], 1) << finished.dump();
    EXPECT_EQ(count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"),
              before - static_cast<std::int64_t>(original.size() - packed.size()));
    EXPECT_EQ(get("moto", "processed/k/metadata.json"), original);

    // Real kills: many objects, wharfctl killed with -9 at random moments, then a full run.
    for (int i = 0; i < 40; ++i)
        store(i % 2 ? "moto" : "azure", "processed/kill/" + std::to_string(i) + "/metadata.json", text(60'000 + i),
              "application/json", "old-kill-" + std::to_string(i), 100);
    std::mt19937 pick(4);
    for (int round = 0; round < 4; ++round) {
        const pid_t child = ::fork();
        if (child == 0) {
            const std::string url = f.postgres().url(), prov = providers(), ctl = wharfctl();
            ::execl(ctl.c_str(), ctl.c_str(), "storage", "compress", "--database-url", url.c_str(),
                    "--storage-providers", prov.c_str(), "--json", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + pick() % 1200));
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        EXPECT_EQ(count(usage_matches_rows), 0) << "usage follows the rows in every transaction";
    }
    const auto last = run_compress();
    EXPECT_EQ(last["failed"], 0) << last.dump();
    EXPECT_EQ(count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND key LIKE 'processed/kill/%' "
                    "AND content_encoding = 'gzip'"),
              40);
    EXPECT_EQ(count(usage_matches_rows), 0);
    EXPECT_EQ(count("SELECT used_bytes FROM api_keys WHERE api_key = 't1'"),
              count("SELECT sum(size) FROM objects WHERE deleted_at IS NULL AND api_key = 't1'"));
    for (int i = 0; i < 40; i += 7) {
        const std::string p = i % 2 ? "moto" : "azure", key = "processed/kill/" + std::to_string(i) + "/metadata.json";
        EXPECT_EQ(get(p, key), originals[p + ":" + key]) << key;
    }
}

TEST_F(compress, the_job_type_runs_on_a_worker) {
    store("azure", "processed/j/metadata.json", text(50'000), "application/json", "old-j", 95);
    store("azure", "processed/j2/metadata.json", text(50'000), "application/json", "old-j2", 40);
    f.start_worker({"--queues", "compress=1", "--storage-providers", providers(), "--scratch-dir",
                    (dir.path() / "scratch").string()});
    f.enqueue("compress", json{{"v", 1}, {"id", "cz-1"}, {"payload", json::object()}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "cz-1") == "succeeded"; }, 60s))
        << wharf::test::status_of(f, "cz-1");
    auto result = json::parse(f.job("cz-1")->result.value_or("{}"));
    EXPECT_EQ(result["compressed"], 1) << result.dump();  // 95 days: yes; 40: not yet
    f.enqueue("compress", json{{"v", 1}, {"id", "cz-2"}, {"payload", {{"older_than_days", 30}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "cz-2") == "succeeded"; }, 60s));
    result = json::parse(f.job("cz-2")->result.value_or("{}"));
    EXPECT_EQ(result["compressed"], 1) << result.dump();
    EXPECT_EQ(get("azure", "processed/j2/metadata.json"), originals["azure:processed/j2/metadata.json"]);
    // A bad payload dead-letters the job at once, with the reason.
    f.enqueue("compress", json{{"v", 1}, {"id", "cz-3"}, {"payload", {{"older_than_days", "soon"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "cz-3") == "dead"; }, 30s));
    EXPECT_NE(f.job("cz-3")->error.value_or("").find("older_than_days"), std::string::npos);
}
