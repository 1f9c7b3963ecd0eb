// `wharfctl storage stats --json` prints exactly the documented shape from the catalog,
// `wharfctl presign` signs for a configured provider and refuses lifetimes beyond 7 days, and
// `wharfctl storage orphans` finds and aborts the multipart uploads crashed jobs left open at moto
// without touching those of running jobs.
#include "accounting_env.hpp"

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/multipart_journal.hpp"
#include "wharf/test/moto_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

namespace s = wharf::storage;

namespace {

std::string wharfctl() { return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string(); }

std::int64_t count(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::read_transaction tx{c};
    return tx.exec1(sql)[0].as<std::int64_t>();
}

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

TEST(wharfctl_storage, orphans_lists_and_aborts_uploads_of_final_gone_or_no_jobs_and_never_of_live_ones) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    const auto url = wharf::test::migrated_database();
    // Open at moto: recorded for a succeeded job, a running job and a job with no row, and one
    // nobody recorded; plus a row of a dead job whose upload is already gone at moto.
    const auto done = moto.begin_upload("media", "videos/a/done.bin", 1000);
    const auto running = moto.begin_upload("media", "videos/a/running.bin", 1000);
    const auto gone = moto.begin_upload("media", "videos/a/gone.bin");
    const auto stray = moto.begin_upload("media", "videos/a/stray.bin");
    {
        pqxx::connection c(url);
        s::record_open_upload(c, s::open_upload{"moto", "media", "videos/a/done.bin", done, "j-done", 1, {}});
        s::record_open_upload(c, s::open_upload{"moto", "media", "videos/a/running.bin", running, "j-running", 1, {}});
        s::record_open_upload(c, s::open_upload{"moto", "media", "videos/a/gone.bin", gone, "j-gone", 2, {}});
        s::record_open_upload(c, s::open_upload{"moto", "media", "videos/a/vanished.bin", "no-such-upload", "j-dead", 1, {}});
        pqxx::work tx(c);
        tx.exec("INSERT INTO jobs (id, queue, status) VALUES ('j-done', 'upload', 'succeeded'), "
                "('j-running', 'upload', 'running'), ('j-dead', 'upload', 'dead')");
        tx.commit();
    }
    const std::string providers =
        R"([{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
        R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing"}])";
    const auto orphans = [&](std::vector<std::string> extra) {
        std::vector<std::string> argv{wharfctl(), "storage", "orphans", "--database-url", url, "--storage-providers", providers};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return wharf::test::run(argv);
    };
    const auto upload_ids = [](const nlohmann::json& doc) {
        std::vector<std::string> ids;
        for (const auto& o : doc["orphans"]) ids.push_back(o["upload_id"]);
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    std::vector<std::string> expected{done, gone, stray, "no-such-upload"};
    std::sort(expected.begin(), expected.end());

    // Rows just written are younger than the default 24 h; moto reports every upload as begun in
    // 2010, so the one nobody recorded is old enough.
    const auto young = orphans({"--json"});
    ASSERT_EQ(young.status, 0) << young.output;
    EXPECT_EQ(upload_ids(nlohmann::json::parse(young.output)), std::vector<std::string>{stray}) << young.output;

    const auto listed = orphans({"--json", "--older-than", "0s"});
    ASSERT_EQ(listed.status, 0) << listed.output;
    const auto doc = nlohmann::json::parse(listed.output);
    EXPECT_EQ(upload_ids(doc), expected) << listed.output;
    for (const auto& o : doc["orphans"]) {
        EXPECT_EQ(o["state"], "open");
        if (o["upload_id"] == done) {
            EXPECT_EQ(o["reason"], "job succeeded");
        }
        if (o["upload_id"] == gone) {
            EXPECT_EQ(o["reason"], "job gone");
        }
        if (o["upload_id"] == stray) {
            EXPECT_EQ(o["reason"], "not recorded");
            EXPECT_TRUE(o["job_id"].is_null());
        }
    }
    EXPECT_EQ(moto.open_uploads("media").size(), 4u) << "listing aborts nothing";

    const auto text = orphans({"--older-than", "0s"});
    ASSERT_EQ(text.status, 0) << text.output;
    EXPECT_NE(text.output.find("4 orphaned uploads older than 0s (--abort aborts them)"), std::string::npos) << text.output;

    const auto aborted = orphans({"--json", "--older-than", "0s", "--abort"});
    ASSERT_EQ(aborted.status, 0) << aborted.output;
    const auto after = nlohmann::json::parse(aborted.output);
    EXPECT_EQ(after["aborted"], 4);
    EXPECT_EQ(after["failed"], 0);
    for (const auto& o : after["orphans"]) EXPECT_EQ(o["state"], "aborted") << o.dump();
    EXPECT_EQ(moto.open_uploads("media"), std::vector<std::string>{running});
    {
        pqxx::connection c(url);
        const auto left = s::list_open_uploads(c);
        ASSERT_EQ(left.size(), 1u);
        EXPECT_EQ(left[0].upload.job_id, "j-running");
    }
    const auto again = orphans({"--json", "--older-than", "0s"});
    ASSERT_EQ(again.status, 0) << again.output;
    EXPECT_TRUE(nlohmann::json::parse(again.output)["orphans"].empty()) << again.output;

    const auto bad = orphans({"--older-than", "soon"});
    EXPECT_EQ(bad.status, 2) << bad.output;
    EXPECT_NE(bad.output.find("--older-than"), std::string::npos) << bad.output;
}

TEST(wharfctl_storage, analytics_groups_what_is_stored_and_rolls_up_each_day_from_the_catalogs_history) {
    const auto url = wharf::test::migrated_database();
    {
        pqxx::connection c(url);
        pqxx::work tx{c};
        const std::string sha(64, 'b');
        // Stored 5 days ago and still live; stored 2 days ago and deleted yesterday; stored today.
        tx.exec("INSERT INTO objects (provider, bucket, key, size, sha256, api_key, tier, prefix_class, created_at) "
                "VALUES ('alpha', 'b', 'videos/v/old', 100, '" + sha + "', 'k1', 'hot', 'permanent', now() - interval '5 days')");
        tx.exec("INSERT INTO objects (provider, bucket, key, size, sha256, api_key, tier, prefix_class, created_at, deleted_at) "
                "VALUES ('alpha', 'b', 'videos/v/gone', 200, '" + sha + "', 'k1', 'warm', 'permanent', "
                "now() - interval '2 days', now() - interval '1 day')");
        tx.exec("INSERT INTO objects (provider, bucket, key, size, sha256, tier, prefix_class) "
                "VALUES ('beta', 'b', 'temp/j/new', 50, '" + sha + "', 'hot', 'temp')");
        tx.exec("INSERT INTO api_keys (api_key, quota_bytes, used_bytes, file_count) VALUES ('k1', 1000, 100, 1)");
        tx.commit();
    }
    const auto r = wharf::test::run({wharfctl(), "storage", "analytics", "--json", "--days", "3", "--database-url", url});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto doc = nlohmann::json::parse(r.output);
    EXPECT_EQ(doc["totals"], (nlohmann::json{{"objects", 2}, {"bytes", 150}}));
    const auto groups = nlohmann::json::parse(R"([
        {"provider": "alpha", "tier": "hot", "prefix_class": "permanent", "objects": 1, "bytes": 100},
        {"provider": "beta", "tier": "hot", "prefix_class": "temp", "objects": 1, "bytes": 50}])");
    EXPECT_EQ(doc["by_provider"], groups);
    const auto tenants = nlohmann::json::parse(R"([
        {"api_key": "k1", "objects": 1, "bytes": 100, "quota_bytes": 1000},
        {"api_key": null, "objects": 1, "bytes": 50, "quota_bytes": null}])");
    EXPECT_EQ(doc["by_api_key"], tenants);
    ASSERT_EQ(doc["daily"].size(), 3u);
    const auto day = [&](int i, int objects, int bytes, int added, int added_bytes, int removed, int removed_bytes) {
        const auto& d = doc["daily"][static_cast<std::size_t>(i)];
        EXPECT_EQ(d["objects"], objects) << d;
        EXPECT_EQ(d["bytes"], bytes) << d;
        EXPECT_EQ(d["added_objects"], added) << d;
        EXPECT_EQ(d["added_bytes"], added_bytes) << d;
        EXPECT_EQ(d["removed_objects"], removed) << d;
        EXPECT_EQ(d["removed_bytes"], removed_bytes) << d;
    };
    day(0, 2, 300, 1, 200, 0, 0);  // two days ago: the one since deleted was stored
    day(1, 1, 100, 0, 0, 1, 200);  // yesterday: it was deleted
    day(2, 2, 150, 1, 50, 0, 0);   // today
    EXPECT_LT(doc["daily"][0]["day"].get<std::string>(), doc["daily"][2]["day"].get<std::string>());

    const auto text = wharf::test::run({wharfctl(), "storage", "analytics", "--database-url", url});
    ASSERT_EQ(text.status, 0) << text.output;
    EXPECT_NE(text.output.find("DAY (UTC)"), std::string::npos);
    EXPECT_NE(text.output.find("(none)"), std::string::npos);
    const auto bad = wharf::test::run({wharfctl(), "storage", "analytics", "--days", "0", "--database-url", url});
    EXPECT_EQ(bad.status, 2) << bad.output;
    EXPECT_NE(bad.output.find("--days"), std::string::npos);
}

TEST(wharfctl_storage, promote_makes_a_temp_object_permanent_with_usage_unchanged_and_again_is_a_no_op) {
    const auto url = wharf::test::migrated_database();
    wharf::test::temp_dir dir("wharf-promote");
    const auto root = std::filesystem::canonical(dir.path()) / "disk";
    std::filesystem::create_directories(root / "temp" / "j1");
    const std::string bytes(1234, 'p');
    std::ofstream(root / "temp" / "j1" / "clip.mp4", std::ios::binary) << bytes;
    {
        pqxx::connection c(url);
        s::object_record r;
        r.provider = "disk";
        r.bucket = root.string();
        r.key = "temp/j1/clip.mp4";
        r.size = bytes.size();
        r.sha256 = std::string(64, 'c');
        r.api_key = "k1";
        r.job_id = "j1";
        r.job_queue = "pipeline";
        r.prefix_class = s::prefix_class::temp;
        s::record_object(c, r);
    }
    const std::string providers = R"([{"name":"disk","kind":"local","root":")" + root.string() + R"("}])";
    auto r = wharf::test::run({wharfctl(), "storage", "promote", "disk", "temp/j1/clip.mp4", "--json", "--database-url",
                               url, "--storage-providers", providers});
    ASSERT_EQ(r.status, 0) << r.output;
    auto doc = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    EXPECT_EQ(doc["to"], "videos/j1/clip.mp4");
    EXPECT_EQ(doc["already"], false);
    EXPECT_FALSE(std::filesystem::exists(root / "temp" / "j1" / "clip.mp4"));
    ASSERT_TRUE(std::filesystem::exists(root / "videos" / "j1" / "clip.mp4"));
    EXPECT_EQ(std::filesystem::file_size(root / "videos" / "j1" / "clip.mp4"), bytes.size());
    {
        pqxx::connection c(url);
        const auto moved = s::find_object(c, "disk", root.string(), "videos/j1/clip.mp4");
        ASSERT_TRUE(moved);
        EXPECT_EQ(moved->record.prefix_class, s::prefix_class::permanent);
        EXPECT_EQ(moved->record.job_id, "j1");  // still the job that stored it
        EXPECT_FALSE(s::find_object(c, "disk", root.string(), "temp/j1/clip.mp4"));
        const auto usage = s::load_api_key(c, "k1");
        ASSERT_TRUE(usage);
        EXPECT_EQ(usage->used_bytes, bytes.size());
        EXPECT_EQ(usage->file_count, 1u);
    }
    r = wharf::test::run({wharfctl(), "storage", "promote", "disk", "temp/j1/clip.mp4", "--database-url", url,
                          "--storage-providers", providers});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("already promoted"), std::string::npos) << r.output;
    r = wharf::test::run({wharfctl(), "storage", "promote", "disk", "temp/j9/none.mp4", "--database-url", url,
                          "--storage-providers", providers});
    EXPECT_EQ(r.status, 1) << r.output;
    r = wharf::test::run({wharfctl(), "storage", "promote", "disk", "videos/j1/clip.mp4", "--database-url", url,
                          "--storage-providers", providers});
    EXPECT_EQ(r.status, 2) << r.output;
}

TEST(wharfctl_jobs, delete_removes_finished_jobs_with_their_objects_and_usage_after_confirmation_and_skips_the_rest) {
    const auto url = wharf::test::migrated_database();
    wharf::test::temp_dir dir("wharf-jobs-delete");
    const auto root = std::filesystem::canonical(dir.path()) / "disk";
    const std::string providers = R"([{"name":"disk","kind":"local","root":")" + root.string() + R"("}])";
    // An object of a job: its file at the local provider and its catalog row (usage counted).
    const auto object = [&](const std::string& key, const std::string& job, const std::string& queue, std::size_t size) {
        std::filesystem::create_directories((root / key).parent_path());
        std::ofstream(root / key, std::ios::binary) << std::string(size, 'o');
        pqxx::connection c(url);
        s::object_record r;
        r.provider = "disk";
        r.bucket = root.string();
        r.key = key;
        r.size = size;
        r.sha256 = std::string(64, 'd');
        r.api_key = "k1";
        r.job_id = job;
        r.job_queue = queue;
        s::record_object(c, r);
    };
    {
        pqxx::connection c(url);
        pqxx::work tx{c};
        tx.exec("INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, api_key, finished_at) VALUES "
                "('j-done', 'upload', 'succeeded', 1, 1, 1, 'k1', now() - interval '2 days'), "
                "('j-run', 'upload', 'running', 1, 3, 1, 'k1', NULL), "
                "('p1', 'pipeline', 'succeeded', 1, 1, 1, 'k1', now() - interval '1 day')");
        tx.exec("INSERT INTO jobs (id, queue, status, attempts, max_attempts, epoch, api_key, parent_id, finished_at) VALUES "
                "('p1-transcode', 'transcode', 'succeeded', 1, 1, 1, 'k1', 'p1', now() - interval '1 day')");
        tx.exec("INSERT INTO pipelines (id, api_key, video_id, status, spec, finished_at) "
                "VALUES ('p1', 'k1', 'v1', 'succeeded', '{}', now() - interval '1 day')");
        tx.commit();
    }
    object("videos/j-done/a.bin", "j-done", "upload", 100);
    object("videos/j-run/b.bin", "j-run", "upload", 200);
    object("processed/v1/720p.mp4", "p1-transcode", "transcode", 300);
    const auto used = [&] {
        pqxx::connection c(url);
        return s::load_api_key(c, "k1")->used_bytes;
    };
    ASSERT_EQ(used(), 600u);
    const std::vector<std::string> base{wharfctl(), "jobs", "delete", "--database-url", url, "--storage-providers", providers};
    const auto run = [&](std::vector<std::string> extra) {
        auto argv = base;
        argv.insert(argv.end(), extra.begin(), extra.end());
        return wharf::test::run(argv);
    };

    // Without --yes and without a terminal: refused, nothing deleted; a dry run deletes nothing either.
    auto r = run({"j-done", "j-run"});
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--yes"), std::string::npos) << r.output;
    r = run({"j-done", "--dry-run", "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output.substr(r.output.find('{')))["deleted_objects"], 1);
    EXPECT_EQ(used(), 600u);
    EXPECT_TRUE(std::filesystem::exists(root / "videos/j-done/a.bin"));

    // By id: the finished job and its object go, the running one is skipped (exit 1).
    r = run({"j-done", "j-run", "--yes", "--json"});
    EXPECT_EQ(r.status, 1) << r.output;
    auto doc = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    EXPECT_EQ(doc["deleted_jobs"], 1);
    EXPECT_EQ(doc["freed_bytes"], 100);
    ASSERT_EQ(doc["skipped"].size(), 1u);
    EXPECT_EQ(doc["skipped"][0]["id"], "j-run");
    EXPECT_FALSE(std::filesystem::exists(root / "videos/j-done/a.bin"));
    EXPECT_TRUE(std::filesystem::exists(root / "videos/j-run/b.bin"));
    EXPECT_EQ(used(), 500u);
    EXPECT_EQ(count(url, "SELECT count(*) FROM jobs WHERE id = 'j-done'"), 0);
    EXPECT_EQ(count(url, "SELECT count(*) FROM jobs WHERE id = 'j-run'"), 1);

    // A pipeline step cannot go alone; by filter, the whole pipeline goes with its step's object.
    r = run({"p1-transcode", "--yes", "--json"});
    EXPECT_EQ(r.status, 1) << r.output;
    r = run({"--status", "succeeded", "--queue", "pipeline", "--yes", "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    doc = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    EXPECT_EQ(doc["deleted_jobs"], 2);
    EXPECT_EQ(doc["deleted_pipelines"], 1);
    EXPECT_EQ(doc["freed_bytes"], 300);
    EXPECT_FALSE(std::filesystem::exists(root / "processed/v1/720p.mp4"));
    EXPECT_EQ(count(url, "SELECT count(*) FROM jobs WHERE id LIKE 'p1%'"), 0);
    EXPECT_EQ(count(url, "SELECT count(*) FROM pipelines"), 0);
    EXPECT_EQ(used(), 200u);
    // Again: nothing left to do.
    r = run({"--status", "succeeded", "--yes"});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(run({"--status", "running", "--yes"}).status, 2);
    EXPECT_EQ(run({}).status, 2);
}

TEST(wharfctl_storage, lifecycle_plan_counts_what_the_rules_would_tier_or_expire_per_provider) {
    const auto url = wharf::test::migrated_database();
    {
        pqxx::connection c(url);
        pqxx::work tx{c};
        const std::string sha(64, 'c');
        const auto row = [&](const std::string& provider, const std::string& key, std::uint64_t size, const std::string& tier,
                             int age_days, bool deleted = false) {
            tx.exec("INSERT INTO objects (provider, bucket, key, size, sha256, tier, created_at, deleted_at) VALUES ('" +
                    provider + "', 'b', '" + key + "', " + std::to_string(size) + ", '" + sha + "', '" + tier +
                    "', now() - interval '" + std::to_string(age_days) + " days', " + (deleted ? "now()" : "NULL") + ")");
        };
        row("alpha", "processed/v/young.mp4", 1 << 20, "hot", 10);    // keep
        row("alpha", "processed/v/month.mp4", 2 << 20, "hot", 40);    // to warm
        row("alpha", "processed/v/old.mp4", 3 << 20, "warm", 100);    // to cold
        row("alpha", "processed/v/small.json", 1000, "hot", 100);     // under min_size: keep
        row("alpha", "processed/v/cold.mp4", 4 << 20, "cold", 500);   // keep
        row("beta", "temp/p/scratch.bin", 500, "hot", 2);             // expire
        row("beta", "videos/v/raw.mp4", 5 << 20, "hot", 1000);        // no rule: keep
        row("beta", "processed/v/gone.mp4", 6 << 20, "hot", 100, true);  // deleted: not examined
        tx.commit();
    }
    const auto r = wharf::test::run({wharfctl(), "storage", "lifecycle", "plan", "--json", "--database-url", url});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto doc = nlohmann::json::parse(r.output);
    EXPECT_EQ(doc["examined"], 7);
    EXPECT_EQ(doc["below_min_size"], 1);
    EXPECT_EQ(doc["min_size"], 128 * 1024);
    ASSERT_EQ(doc["providers"].size(), 2u);
    const auto& alpha = doc["providers"][0];
    EXPECT_EQ(alpha["provider"], "alpha");
    EXPECT_EQ(alpha["keep"], (nlohmann::json{{"objects", 3}, {"bytes", (1 << 20) + 1000 + (4 << 20)}}));
    EXPECT_EQ(alpha["to_warm"], (nlohmann::json{{"objects", 1}, {"bytes", 2 << 20}}));
    EXPECT_EQ(alpha["to_cold"], (nlohmann::json{{"objects", 1}, {"bytes", 3 << 20}}));
    EXPECT_EQ(alpha["expire"]["objects"], 0);
    const auto& beta = doc["providers"][1];
    EXPECT_EQ(beta["expire"], (nlohmann::json{{"objects", 1}, {"bytes", 500}}));
    EXPECT_EQ(beta["keep"]["objects"], 1);
    EXPECT_EQ(doc["totals"]["keep"]["objects"], 4);

    // Rules of one's own: videos/ cold after 30 days, small ones included.
    const auto own = wharf::test::run({wharfctl(), "storage", "lifecycle", "plan", "--json", "--database-url", url,
                                       "--lifecycle-rules", R"({"min_size": 0, "rules": [{"prefix": "videos/", "cold_after": "30d"}]})"});
    ASSERT_EQ(own.status, 0) << own.output;
    EXPECT_EQ(nlohmann::json::parse(own.output)["totals"]["to_cold"]["objects"], 1) << own.output;

    const auto text = wharf::test::run({wharfctl(), "storage", "lifecycle", "plan", "--database-url", url});
    ASSERT_EQ(text.status, 0) << text.output;
    EXPECT_NE(text.output.find("7 objects examined; 1 old enough to tier but under min_size"), std::string::npos) << text.output;

    const auto bad = wharf::test::run({wharfctl(), "storage", "lifecycle", "plan", "--database-url", url, "--lifecycle-rules",
                                       R"({"rules": [{"prefix": "a/"}]})"});
    EXPECT_EQ(bad.status, 2) << bad.output;
    EXPECT_NE(bad.output.find("rule #1 (a/): needs warm_after"), std::string::npos) << bad.output;
    const auto unknown = wharf::test::run({wharfctl(), "storage", "lifecycle", "enforce", "--database-url", url});
    EXPECT_EQ(unknown.status, 2) << unknown.output;
    EXPECT_NE(unknown.output.find("(plan, apply, backstop)"), std::string::npos) << unknown.output;
}

TEST(wharfctl_storage, presign_jobs_is_a_manifest_of_every_live_artifact_of_the_jobs_and_their_pipeline_steps) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    const auto url = wharf::test::migrated_database();
    moto.put_object("media", "videos/v1/video_original.mp4", 1000);
    moto.put_object("media", "processed/v1/360p/video_360p.mp4", 2000);
    moto.put_object("media", "processed/v1/old.mp4", 10);
    {
        pqxx::connection c(url);
        pqxx::work tx(c);
        tx.exec("INSERT INTO jobs (id, queue, status, parent_id) VALUES ('pipe-1', 'pipeline', 'succeeded', NULL), "
                "('step-1', 'transcode', 'succeeded', 'pipe-1'), ('lonely', 'upload', 'succeeded', NULL)");
        const std::string sha(64, 'a');
        tx.exec("INSERT INTO objects (provider, bucket, key, size, sha256, etag, job_id, deleted_at) VALUES "
                "('moto', 'media', 'videos/v1/video_original.mp4', 1000, '" + sha + "', 'e', 'pipe-1', NULL), "
                "('moto', 'media', 'processed/v1/360p/video_360p.mp4', 2000, '" + sha + "', 'e', 'step-1', NULL), "
                "('moto', 'media', 'processed/v1/old.mp4', 10, '" + sha + "', 'e', 'step-1', now()), "
                "('elsewhere', 'b', 'videos/x.mp4', 5, '" + sha + "', 'e', 'lonely', NULL)");
        tx.commit();
    }
    const std::string providers =
        R"([{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
        R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing"}])";
    const auto r = wharf::test::run({wharfctl(), "presign", "--jobs", "pipe-1,nope,lonely", "--expires", "120", "--json",
                                     "--database-url", url, "--storage-providers", providers});
    EXPECT_EQ(r.status, 1) << "an unknown job and an artifact on an unconfigured provider: " << r.output;
    const auto doc = nlohmann::json::parse(r.output);
    EXPECT_EQ(doc["expires_in"], 120);
    EXPECT_EQ(doc["unknown_jobs"], nlohmann::json::array({"nope"}));
    EXPECT_EQ(doc["not_presigned"], nlohmann::json::array({"elsewhere:videos/x.mp4"}));
    const auto& pipe = doc["jobs"]["pipe-1"];
    ASSERT_EQ(pipe.size(), 2u) << "its own object and its step's live one, not the deleted one";
    std::map<std::string, std::uint64_t> sizes;
    for (const auto& a : pipe) {
        // Each URL works with an ordinary HTTP client and gives the object's bytes.
        const auto got = wharf::test::run({"curl", "-sf", "-o", "/dev/null", "-w", "%{size_download}", a["url"]});
        ASSERT_EQ(got.status, 0) << a.dump();
        sizes[a["key"]] = std::stoull(got.output);
        EXPECT_EQ(a["size"].get<std::uint64_t>(), sizes[a["key"]]);
    }
    EXPECT_EQ(sizes.at("videos/v1/video_original.mp4"), 1000u);
    EXPECT_EQ(sizes.at("processed/v1/360p/video_360p.mp4"), 2000u);
    EXPECT_TRUE(doc["jobs"]["lonely"].empty());

    const auto bad = wharf::test::run({wharfctl(), "presign", "--jobs", ",", "--database-url", url, "--storage-providers", providers});
    EXPECT_EQ(bad.status, 2) << bad.output;
}
