// The catalog against a real PostgreSQL: usage is always the sum of the live rows, whatever
// order of records, replaces, deletes, retries and concurrent writers.
#include "accounting_env.hpp"

#include "wharf/storage/catalog.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <thread>

namespace s = wharf::storage;
using wharf::test::migrated_database;

namespace {

std::string sha_of(int n) {
    std::string hex = std::to_string(n);
    return std::string(64 - hex.size(), 'a') + hex;
}

s::object_record object(std::string provider, std::string key, std::uint64_t size, int content,
                        std::optional<std::string> api_key = std::nullopt) {
    s::object_record r;
    r.provider = std::move(provider);
    r.bucket = "bucket";
    r.key = std::move(key);
    r.size = size;
    r.sha256 = sha_of(content);
    r.etag = "etag-" + std::to_string(content);
    r.api_key = std::move(api_key);
    r.job_id = "job-1";
    return r;
}

s::provider_stats stats_of(pqxx::connection& c, const std::string& provider) {
    for (auto& st : s::load_stats(c))
        if (st.provider == provider) return st;
    throw std::runtime_error("no stats row for " + provider);
}

// The invariant: storage_stats and api_keys equal the sums over the live rows.
void expect_usage_matches_rows(pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    const auto stats = tx.exec(
        "SELECT s.provider FROM storage_stats s LEFT JOIN (SELECT provider, sum(size) AS b, count(*) AS n FROM objects "
        "WHERE deleted_at IS NULL GROUP BY provider) o USING (provider) "
        "WHERE s.total_bytes <> coalesce(o.b, 0) OR s.file_count <> coalesce(o.n, 0)");
    EXPECT_TRUE(stats.empty()) << "storage_stats disagrees with objects for " << stats[0][0].as<std::string>();
    const auto keys = tx.exec(
        "SELECT k.api_key FROM api_keys k LEFT JOIN (SELECT api_key, sum(size) AS b, count(*) AS n FROM objects "
        "WHERE deleted_at IS NULL GROUP BY api_key) o USING (api_key) "
        "WHERE k.used_bytes <> coalesce(o.b, 0) OR k.file_count <> coalesce(o.n, 0)");
    EXPECT_TRUE(keys.empty()) << "api_keys disagrees with objects for " << keys[0][0].as<std::string>();
}

}  // namespace

TEST(catalog, recording_the_same_object_twice_counts_it_once) {
    pqxx::connection c(migrated_database());
    s::ensure_provider(c, "p", 10'000);
    const auto first = s::record_object(c, object("p", "videos/v/a.mp4", 100, 1, "k1"));
    EXPECT_EQ(first.outcome, s::record_outcome::inserted);
    EXPECT_EQ(first.delta_bytes, 100);
    // A retried job, or one that crashed after its commit, records the same bytes again.
    const auto again = s::record_object(c, object("p", "videos/v/a.mp4", 100, 1, "k1"));
    EXPECT_EQ(again.outcome, s::record_outcome::unchanged);
    EXPECT_EQ(again.delta_bytes, 0);
    const auto st = stats_of(c, "p");
    EXPECT_EQ(st.total_bytes, 100u);
    EXPECT_EQ(st.file_count, 1u);
    EXPECT_EQ(s::load_api_key(c, "k1")->used_bytes, 100u);
    EXPECT_EQ(s::load_api_key(c, "k1")->file_count, 1u);
    expect_usage_matches_rows(c);
}

TEST(catalog, replacing_adjusts_by_the_difference_and_deleting_gives_bytes_back) {
    pqxx::connection c(migrated_database());
    s::record_object(c, object("p", "processed/v/a.mp4", 100, 1, "k1"));
    const auto bigger = s::record_object(c, object("p", "processed/v/a.mp4", 250, 2, "k1"));
    EXPECT_EQ(bigger.outcome, s::record_outcome::replaced);
    EXPECT_EQ(bigger.delta_bytes, 150);
    EXPECT_EQ(stats_of(c, "p").total_bytes, 250u);
    EXPECT_EQ(stats_of(c, "p").file_count, 1u);
    // A replace that moves the object to another tenant moves the charge.
    s::record_object(c, object("p", "processed/v/a.mp4", 50, 3, "k2"));
    EXPECT_EQ(s::load_api_key(c, "k1")->used_bytes, 0u);
    EXPECT_EQ(s::load_api_key(c, "k1")->file_count, 0u);
    EXPECT_EQ(s::load_api_key(c, "k2")->used_bytes, 50u);
    expect_usage_matches_rows(c);

    const auto gone = s::delete_object(c, "p", "bucket", "processed/v/a.mp4");
    EXPECT_TRUE(gone.removed);
    EXPECT_EQ(gone.delta_bytes, -50);
    EXPECT_FALSE(s::delete_object(c, "p", "bucket", "processed/v/a.mp4").removed);  // twice is a no-op
    EXPECT_EQ(stats_of(c, "p").total_bytes, 0u);
    EXPECT_EQ(stats_of(c, "p").file_count, 0u);
    EXPECT_FALSE(s::find_object(c, "p", "bucket", "processed/v/a.mp4").has_value());
    expect_usage_matches_rows(c);
}

TEST(catalog, the_quota_is_rechecked_when_recording_and_a_refusal_changes_nothing) {
    pqxx::connection c(migrated_database());
    s::set_quota(c, "tenant", 1000);
    s::record_object(c, object("p", "videos/v/1", 900, 1, "tenant"));
    try {
        s::record_object(c, object("p", "videos/v/2", 101, 2, "tenant"));
        FAIL() << "recorded past the quota";
    } catch (const s::error& e) {
        EXPECT_EQ(e.code(), s::errc::quota_exceeded);
        EXPECT_EQ(std::string(e.what()), "quota exceeded: used 900 of 1000 (900 B of 1000 B)");
    }
    EXPECT_FALSE(s::find_object(c, "p", "bucket", "videos/v/2").has_value());
    EXPECT_EQ(stats_of(c, "p").total_bytes, 900u);
    EXPECT_EQ(s::load_api_key(c, "tenant")->used_bytes, 900u);
    // Exactly up to the quota is fine; so is shrinking an object.
    s::record_object(c, object("p", "videos/v/2", 100, 2, "tenant"));
    s::record_object(c, object("p", "videos/v/1", 10, 3, "tenant"));
    EXPECT_EQ(s::load_api_key(c, "tenant")->used_bytes, 110u);
    // NULL quota: unlimited.
    s::set_quota(c, "tenant", std::nullopt);
    s::record_object(c, object("p", "videos/v/3", 1'000'000, 4, "tenant"));
    expect_usage_matches_rows(c);
}

TEST(catalog, is_full_flips_once_per_crossing_and_resets_below_the_limit) {
    pqxx::connection c(migrated_database());
    EXPECT_FALSE(s::ensure_provider(c, "p", 1000).has_value());
    EXPECT_FALSE(s::record_object(c, object("p", "a", 999, 1)).crossing);
    const auto full = s::record_object(c, object("p", "b", 1, 2));  // reaches the limit exactly
    ASSERT_TRUE(full.crossing);
    EXPECT_EQ(full.crossing->used_bytes, 1000u);
    EXPECT_EQ(full.crossing->limit_bytes, 1000u);
    EXPECT_TRUE(stats_of(c, "p").is_full);
    EXPECT_FALSE(s::record_object(c, object("p", "c", 5, 3)).crossing);  // already full
    s::delete_object(c, "p", "bucket", "c");
    EXPECT_TRUE(stats_of(c, "p").is_full);  // 1000 of 1000: still full
    s::delete_object(c, "p", "bucket", "b");
    EXPECT_FALSE(stats_of(c, "p").is_full);
    EXPECT_FALSE(stats_of(c, "p").alert_sent);
    const auto again = s::record_object(c, object("p", "b", 1, 2));
    ASSERT_TRUE(again.crossing);
    EXPECT_EQ(again.crossing->generation, full.crossing->generation + 1);
    // Raising the limit above usage resets the flags; lowering it below usage is a crossing.
    EXPECT_FALSE(s::ensure_provider(c, "p", 5000).has_value());
    EXPECT_FALSE(stats_of(c, "p").is_full);
    EXPECT_TRUE(s::ensure_provider(c, "p", 500).has_value());
    EXPECT_TRUE(stats_of(c, "p").is_full);
}

TEST(catalog, concurrent_recorders_keep_exact_usage_and_decide_one_crossing) {
    const auto url = migrated_database();
    {
        pqxx::connection c(url);
        s::ensure_provider(c, "p", 1000);
        s::set_quota(c, "shared", 1'000'000);
    }
    constexpr int threads = 8, per_thread = 25, size = 10;
    std::atomic<int> crossings{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            pqxx::connection c(url);
            for (int i = 0; i < per_thread; ++i) {
                const int n = t * per_thread + i;
                auto r = s::record_object(c, object("p", "temp/t/" + std::to_string(n), size, n, "shared"));
                if (r.crossing) ++crossings;
                // Every other object is recorded twice, as a retry would.
                if (i % 2 == 0) {
                    const auto again = s::record_object(c, object("p", "temp/t/" + std::to_string(n), size, n, "shared"));
                    EXPECT_EQ(again.outcome, s::record_outcome::unchanged);
                }
            }
        });
    }
    for (auto& th : pool) th.join();
    pqxx::connection c(url);
    EXPECT_EQ(crossings.load(), 1);
    const auto st = stats_of(c, "p");
    EXPECT_EQ(st.total_bytes, std::uint64_t(threads * per_thread * size));
    EXPECT_EQ(st.file_count, std::uint64_t(threads * per_thread));
    EXPECT_TRUE(st.is_full);
    EXPECT_EQ(s::load_api_key(c, "shared")->used_bytes, std::uint64_t(threads * per_thread * size));
    expect_usage_matches_rows(c);
}
