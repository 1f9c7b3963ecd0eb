// The `upload` job handler end to end on the local provider and a real PostgreSQL: result and
// catalog row, duplicate detection, quotas that upload nothing, placement when providers fill
// up, and exact accounting when a job dies between upload and record and is retried.
#include "upload_harness.hpp"

#include "wharf/storage/local.hpp"
#include "wharf/storage/sha256.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <fstream>

namespace asio = boost::asio;
namespace s = wharf::storage;
namespace w = wharf::worker;
namespace fs = std::filesystem;
using wharf::test::migrated_database;
using wharf::test::run_coro;

namespace {

// The handler on local providers (name -> limit) under the harness's folder.
struct harness : wharf::test::upload_harness {
    explicit harness(std::vector<std::pair<std::string, std::uint64_t>> providers = {{"local", 5ull << 30}}) {
        std::vector<s::provider_config> configs;
        std::vector<std::unique_ptr<s::provider>> built;
        for (const auto& [name, limit] : providers) {
            s::provider_config pc{name, "local", limit, {}};
            configs.push_back(pc);
            built.push_back(std::make_unique<s::local_provider>(name, dir.path() / ("store-" + name),
                                                                s::local_options{.fsync = false}));
        }
        use(std::make_unique<s::registry>(std::move(configs), std::move(built)));
    }
};

}  // namespace

TEST(upload_job, uploads_records_and_returns_where_it_went) {
    harness h;
    const auto src = h.file("raw.mp4", 300'000);
    const auto result = h.run({{"source", src.string()}, {"key", "videos/v1/raw.mp4"}, {"api_key", "tenant"}});
    EXPECT_EQ(result["provider"], "local");
    EXPECT_EQ(result["key"], "videos/v1/raw.mp4");
    EXPECT_EQ(result["size"], 300'000);
    EXPECT_EQ(result["sha256"], s::sha256_file_hex(src));
    EXPECT_FALSE(result["etag"].get<std::string>().empty());
    EXPECT_FALSE(result["presigned_url"].get<std::string>().empty());
    EXPECT_EQ(result["duplicate"], false);
    EXPECT_EQ(h.stats("local").total_bytes, 300'000u);
    EXPECT_EQ(h.stats("local").file_count, 1u);
    pqxx::connection c(h.url);
    const auto row = s::find_object(c, "local", h.provider("local").bucket(), "videos/v1/raw.mp4");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->record.api_key, "tenant");
    EXPECT_EQ(row->record.prefix_class, s::prefix_class::permanent);
    EXPECT_EQ(s::load_api_key(c, "tenant")->used_bytes, 300'000u);
    ASSERT_FALSE(h.progress.empty());
    EXPECT_EQ(h.progress.back()["done"], 300'000);
    const auto head = run_coro(h.ctx, h.provider("local").head("videos/v1/raw.mp4"));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->size, 300'000u);
}

TEST(upload_job, the_same_bytes_under_the_same_key_are_not_uploaded_again) {
    harness h;
    const auto src = h.file("a.bin", 1000);
    h.run({{"source", src.string()}, {"key", "processed/v1/a.bin"}});
    const auto again = h.run({{"source", src.string()}, {"key", "processed/v1/a.bin"}});
    EXPECT_EQ(again["duplicate"], true);
    EXPECT_EQ(h.stats("local").total_bytes, 1000u);
    EXPECT_EQ(h.live_rows(), 1u);
    // Different bytes replace the object, adjusting usage by the difference.
    h.run({{"source", h.file("b.bin", 400, 'y').string()}, {"key", "processed/v1/a.bin"}});
    EXPECT_EQ(h.stats("local").total_bytes, 400u);
    EXPECT_EQ(h.stats("local").file_count, 1u);
}

TEST(upload_job, quota_exceeded_fails_permanently_and_uploads_nothing) {
    harness h;
    {
        pqxx::connection c(h.url);
        s::set_quota(c, "small", 1000);
    }
    h.run({{"source", h.file("a", 600).string()}, {"key", "videos/v/a"}}, 1, "small");
    try {
        h.run({{"source", h.file("b", 401).string()}, {"key", "videos/v/b"}}, 1, "small");
        FAIL() << "uploaded past the quota";
    } catch (const w::permanent_error& e) {
        EXPECT_EQ(std::string(e.what()), "quota exceeded: used 600 of 1000 (600 B of 1000 B)");
    }
    EXPECT_FALSE(run_coro(h.ctx, h.provider("local").head("videos/v/b")).has_value());
    EXPECT_EQ(h.live_rows(), 1u);
    EXPECT_EQ(h.stats("local").total_bytes, 600u);
}

// The quota is checked before the upload and again when it is recorded. Another upload of the
// same tenant may take the last bytes in between: the refused upload then stores nothing, and when
// it had already overwritten the tenant's object at that key, that object's row goes too, so usage
// counts exactly what is stored.
TEST(upload_job, a_quota_lost_to_a_racing_upload_leaves_usage_equal_to_what_is_stored) {
    harness h;
    {
        pqxx::connection c(h.url);
        s::set_quota(c, "racy", 1000);
    }
    const auto bucket = h.provider("local").bucket();
    h.run({{"source", h.file("old", 300).string()}, {"key", "videos/r/a"}}, 1, "racy");
    h.run({{"source", h.file("new-key", 200).string()}, {"key", "videos/r/n"}}, 1, "racy");
    // Two more uploads, one to a new key and one replacing videos/r/a with 600 bytes. Each passes
    // the first check (500 used); when it has sent its last byte, a racing upload of 450 bytes is
    // recorded for the tenant first.
    int racer = 0;
    bool armed = true;  // once per run: the last byte may be reported more than once
    h.on_progress = [&](const nlohmann::json& p) {
        if (!armed || p["phase"] != "upload" || p["done"] != p["total"]) return;
        armed = false;
        pqxx::connection c(h.url);
        s::object_record r;
        r.provider = "local";
        r.bucket = bucket;
        r.key = "videos/r/racer-" + std::to_string(++racer);
        r.size = 450;
        r.sha256 = std::string(64, 'a' + racer);
        r.api_key = "racy";
        s::record_object(c, r);
    };
    try {
        h.run({{"source", h.file("b", 400).string()}, {"key", "videos/r/b"}}, 1, "racy");
        FAIL() << "recorded past the quota";
    } catch (const w::permanent_error& e) {
        EXPECT_EQ(std::string(e.what()), "quota exceeded: used 950 of 1000 (950 B of 1000 B)");
    }
    EXPECT_FALSE(run_coro(h.ctx, h.provider("local").head("videos/r/b")).has_value());
    {
        pqxx::connection c(h.url);
        s::delete_object(c, "local", bucket, "videos/r/racer-1");  // back to 500 used
    }
    armed = true;
    try {
        h.run({{"source", h.file("replacement", 600, 'z').string()}, {"key", "videos/r/a"}}, 1, "racy");
        FAIL() << "recorded past the quota";
    } catch (const w::permanent_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "quota exceeded: used 950 of 1000 (950 B of 1000 B); the object it was replacing at videos/r/a had "
                  "already been overwritten and is removed");
    }
    h.on_progress = nullptr;
    EXPECT_FALSE(run_coro(h.ctx, h.provider("local").head("videos/r/a")).has_value());
    pqxx::connection c(h.url);
    EXPECT_FALSE(s::find_object(c, "local", bucket, "videos/r/a"));
    // What is left: videos/r/n (200) and the last racer (450), nothing else counted.
    EXPECT_EQ(s::load_api_key(c, "racy")->used_bytes, 650u);
    EXPECT_EQ(h.stats("local").total_bytes, 650u);
    EXPECT_EQ(h.stats("local").file_count, 2u);
    EXPECT_EQ(h.live_rows(), 2u);
}

TEST(upload_job, a_job_killed_between_upload_and_record_is_counted_once_on_retry) {
    harness h;
    const auto src = h.file("v.mp4", 50'000);
    // Attempt 1 uploaded the object and died before recording it.
    s::put_options put;
    run_coro(h.ctx, h.provider("local").put_file("videos/v9/v.mp4", src, put));
    EXPECT_EQ(h.live_rows(), 0u);
    // Attempt 2 finds it (same size and SHA-256) and records it once.
    const auto retried = h.run({{"source", src.string()}, {"key", "videos/v9/v.mp4"}}, 2);
    EXPECT_EQ(retried["duplicate"], false);
    EXPECT_EQ(h.stats("local").total_bytes, 50'000u);
    EXPECT_EQ(h.stats("local").file_count, 1u);
    // Attempt 3 (attempt 2 died after its commit): nothing is counted twice.
    const auto again = h.run({{"source", src.string()}, {"key", "videos/v9/v.mp4"}}, 3);
    EXPECT_EQ(again["duplicate"], true);
    EXPECT_EQ(h.stats("local").total_bytes, 50'000u);
    EXPECT_EQ(h.stats("local").file_count, 1u);
    EXPECT_EQ(h.live_rows(), 1u);
}

TEST(upload_job, placement_skips_full_providers_and_fails_clearly_when_all_are_full) {
    harness h({{"small", 1000}, {"big", 3000}});
    h.run({{"source", h.file("a", 1000).string()}, {"key", "temp/j/a"}, {"provider", "small"}});
    EXPECT_TRUE(h.stats("small").is_full);
    for (int i = 0; i < 3; ++i) {
        const auto r = h.run({{"source", h.file("f" + std::to_string(i), 900, char('a' + i)).string()},
                              {"key", "temp/j/f" + std::to_string(i)}});
        EXPECT_EQ(r["provider"], "big");
    }
    try {
        h.run({{"source", h.file("g", 500).string()}, {"key", "temp/j/g"}});
        FAIL() << "placed on a full provider";
    } catch (const w::permanent_error& e) {
        EXPECT_NE(std::string(e.what()).find("all storage providers are full"), std::string::npos) << e.what();
    }
    try {
        h.run({{"source", h.file("h", 10).string()}, {"key", "temp/j/h"}, {"provider", "nope"}});
        FAIL() << "placed on an unknown provider";
    } catch (const w::permanent_error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown storage provider \"nope\""), std::string::npos) << e.what();
    }
    EXPECT_EQ(h.live_rows(), 4u);
}

TEST(upload_job, a_stored_object_can_be_the_source) {
    harness h({{"one", 1ull << 30}, {"two", 1ull << 30}});
    const auto src = h.file("x", 12'345);
    h.run({{"source", src.string()}, {"key", "videos/v/x"}, {"provider", "one"}});
    const auto copy = h.run({{"source", {{"provider", "one"}, {"key", "videos/v/x"}}},
                             {"key", "processed/v/x"},
                             {"provider", "two"}});
    EXPECT_EQ(copy["provider"], "two");
    EXPECT_EQ(copy["sha256"], s::sha256_file_hex(src));
    EXPECT_EQ(h.stats("two").total_bytes, 12'345u);
    EXPECT_TRUE(fs::is_empty(h.dir.path() / "scratch"));  // the download was cleaned up
}

TEST(upload_job, bad_payloads_fail_permanently_with_a_reason) {
    harness h;
    auto refuse = [&](nlohmann::json payload, const std::string& expected) {
        try {
            h.run(std::move(payload));
            ADD_FAILURE() << "accepted";
        } catch (const w::permanent_error& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
        }
    };
    const auto ok = h.file("ok", 10).string();
    refuse({{"key", "videos/v/a"}}, "payload.source is required");
    refuse({{"source", "/nonexistent/file"}, {"key", "videos/v/a"}}, "cannot read it");
    // Only files under local_source_roots (the harness's folder) may be read.
    refuse({{"source", "/etc/passwd"}, {"key", "videos/v/a"}}, "payload.source /etc/passwd: outside local_source_roots");
    refuse({{"source", ok}, {"key", "../etc/passwd"}}, "payload.key");
    refuse({{"source", ok}, {"key", "videos/only-one-level"}}, "videos/<id>/<name>");
    refuse({{"source", ok}, {"key", "videos/v/a"}, {"class", "temp"}}, "class temp keys live under temp/");
    refuse({{"source", ok}, {"key", "videos/v/a"}, {"presign_expires", 999999999}}, "7 days");
    EXPECT_EQ(h.live_rows(), 0u);
}
