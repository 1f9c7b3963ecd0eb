// `wharfctl storage stats --json` prints exactly the documented shape from the catalog, and
// `wharfctl presign` signs for a configured provider and refuses lifetimes beyond 7 days.
#include "accounting_env.hpp"

#include "wharf/storage/catalog.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace s = wharf::storage;

namespace {

std::string wharfctl() { return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string(); }

}  // namespace

TEST(wharfctl_storage, stats_json_has_the_documented_shape_and_numbers) {
    const auto url = wharf::test::migrated_database();
    {
        pqxx::connection c(url);
        s::ensure_provider(c, "alpha", 1ull << 30);
        s::object_record r;
        r.provider = "alpha";
        r.bucket = "b";
        r.key = "videos/v/a";
        r.size = 256ull << 20;
        r.sha256 = std::string(64, 'a');
        s::record_object(c, r);
    }
    wharf::test::temp_dir dir("wharf-ctl");
    const std::string providers =
        R"({"providers":[{"name":"alpha","kind":"local","root":")" + (dir.path() / "a").string() +
        R"(","limit":"1GiB"},{"name":"beta","kind":"local","root":")" + (dir.path() / "b").string() + R"("}]})";
    const auto r = wharf::test::run({wharfctl(), "storage", "stats", "--json", "--database-url", url,
                                     "--storage-providers", providers});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto doc = nlohmann::json::parse(r.output);
    ASSERT_EQ(doc.size(), 4u);
    EXPECT_EQ(doc["total_size_bytes"], 256ull << 20);
    EXPECT_EQ(doc["total_size_gb"], 0.25);
    EXPECT_EQ(doc["total_file_count"], 1);
    ASSERT_EQ(doc["providers"].size(), 2u);
    const auto& a = doc["providers"][0];
    EXPECT_EQ(a.size(), 9u);
    EXPECT_EQ(a["provider"], "alpha");
    EXPECT_EQ(a["total_size_bytes"], 256ull << 20);
    EXPECT_EQ(a["total_size_gb"], 0.25);
    EXPECT_EQ(a["file_count"], 1);
    EXPECT_EQ(a["available_bytes"], 768ull << 20);
    EXPECT_EQ(a["available_gb"], 0.75);
    EXPECT_EQ(a["used_percentage"], 25.0);
    EXPECT_EQ(a["is_full"], false);
    EXPECT_TRUE(a["last_updated"].is_string());
    const auto& b = doc["providers"][1];  // configured, nothing stored yet
    EXPECT_EQ(b["provider"], "beta");
    EXPECT_EQ(b["total_size_bytes"], 0);
    EXPECT_EQ(b["available_bytes"], 5ull << 30);

    const auto text = wharf::test::run({wharfctl(), "storage", "stats", "--database-url", url, "--storage-providers", providers});
    ASSERT_EQ(text.status, 0) << text.output;
    EXPECT_NE(text.output.find("alpha"), std::string::npos);
    EXPECT_NE(text.output.find("25.00%"), std::string::npos);
}

TEST(wharfctl_storage, presign_signs_for_a_configured_provider_and_refuses_beyond_seven_days) {
    wharf::test::temp_dir dir("wharf-ctl");
    const std::string providers =
        R"([{"name":"disk","kind":"local","root":")" + dir.path().string() + R"("}])";
    const auto ok = wharf::test::run({wharfctl(), "presign", "disk", "videos/v/a.mp4", "--expires", "60",
                                      "--storage-providers", providers});
    ASSERT_EQ(ok.status, 0) << ok.output;
    EXPECT_NE(ok.output.find("videos/v/a.mp4"), std::string::npos);

    const auto too_long = wharf::test::run({wharfctl(), "presign", "disk", "videos/v/a.mp4", "--expires", "604801",
                                            "--storage-providers", providers});
    EXPECT_EQ(too_long.status, 2) << too_long.output;
    EXPECT_NE(too_long.output.find("7 days"), std::string::npos) << too_long.output;

    const auto unknown = wharf::test::run({wharfctl(), "presign", "nope", "videos/v/a.mp4", "--storage-providers", providers});
    EXPECT_EQ(unknown.status, 1) << unknown.output;
    EXPECT_NE(unknown.output.find("unknown storage provider 'nope'"), std::string::npos) << unknown.output;
}
