// Moving objects between providers: every object exactly once at the destination after kill -9 at
// random points and a rerun, the source emptied, usage moved exactly once (the tenant's unchanged,
// every row's age kept), no multipart upload left open; a copy whose bytes differ from the
// catalog's caught before the switch; the destination's limit kept; the job type on a worker.
#include "fleet.hpp"

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/moto_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
namespace s = wharf::storage;
using nlohmann::json;
using wharf::test::fleet;
using namespace std::chrono_literals;

namespace {

std::string wharfctl() { return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string(); }

struct seeded {
    std::string key, bytes, sha256;
    std::optional<std::string> api_key;
};

class migration : public ::testing::Test {
protected:
    void SetUp() override {
        moto.create_bucket("media");
        root = dir.path() / "store";
        scratch = dir.path() / "scratch";
        fs::create_directories(root);
    }

    std::string providers(const std::string& moto_limit = "10GiB") const {
        return R"({"providers":[{"name":"disk","kind":"local","root":")" + root.string() +
               R"(","limit":"10GiB"},{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + moto.endpoint() +
               R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing",)"
               R"("multipart_threshold":"6MiB","part_size":"5MiB","limit":")" + moto_limit + R"("}]})";
    }

    // Files written under the local root and recorded in the catalog, 40 days old.
    void seed(const std::vector<seeded>& objects) {
        pqxx::connection c(f.postgres().url());
        for (const auto& o : objects) {
            fs::create_directories((root / o.key).parent_path());
            std::ofstream(root / o.key, std::ios::binary) << o.bytes;
            s::object_record r;
            r.provider = "disk";
            r.bucket = root.string();
            r.key = o.key;
            r.size = o.bytes.size();
            r.sha256 = o.sha256;
            r.etag = o.sha256;
            r.api_key = o.api_key;
            s::record_object(c, r);
        }
        pqxx::work tx(c);
        tx.exec("UPDATE objects SET created_at = now() - interval '40 days'");
        tx.commit();
    }

    static seeded make(std::string key, std::string bytes, std::optional<std::string> api_key = "t1") {
        seeded o{std::move(key), std::move(bytes), {}, std::move(api_key)};
        o.sha256 = s::sha256_hex(o.bytes);
        return o;
    }

    std::vector<std::string> migrate_argv(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{wharfctl(), "storage", "migrate", "--from", "disk", "--to", "moto",
                                      "--database-url", f.postgres().url(), "--scratch-dir", scratch.string(),
                                      "--storage-providers", providers()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    std::map<std::string, std::string> rows(const std::string& sql) {
        std::map<std::string, std::string> out;
        pqxx::connection c(f.postgres().url());
        pqxx::read_transaction tx(c);
        for (const auto& r : tx.exec(sql)) out[r[0].as<std::string>()] = r[1].is_null() ? "" : r[1].as<std::string>();
        return out;
    }

    // SHA-256 of objects as moto serves them, read by boto3 (not wharf's client): key -> hex.
    std::map<std::string, std::string> moto_sha256(const std::vector<std::string>& keys) const {
        const std::string script = R"(
import hashlib, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x",
                  aws_secret_access_key="x")
for key in sys.argv[2:]:
    print("SHA", hashlib.sha256(s3.get_object(Bucket="media", Key=key)["Body"].read()).hexdigest(), key)
)";
        std::vector<std::string> argv{"python3", "-c", script, moto.endpoint()};
        argv.insert(argv.end(), keys.begin(), keys.end());
        const auto r = wharf::test::run(argv, {}, 120s);
        std::map<std::string, std::string> out;
        std::istringstream in(r.output);
        std::string tag, sha, key;
        while (in >> tag) {
            if (tag == "SHA" && in >> sha >> key) out[key] = sha;
        }
        EXPECT_EQ(r.status, 0) << r.output;
        return out;
    }
    std::string moto_sha256(const std::string& key) const { return moto_sha256(std::vector{key})[key]; }

    std::vector<std::string> files_under(const fs::path& p) const {
        std::vector<std::string> out;
        if (!fs::exists(p)) return out;
        for (const auto& e : fs::recursive_directory_iterator(p))
            if (e.is_regular_file()) out.push_back(fs::relative(e.path(), p).string());
        return out;
    }

    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::moto_server moto;
    wharf::test::temp_dir dir{"wharf-migrate"};
    fs::path root, scratch;
};

}  // namespace

TEST_F(migration, killed_at_random_points_and_rerun_every_object_is_moved_exactly_once) {
    std::mt19937_64 rng(20261207);
    std::vector<seeded> objects;
    for (int i = 0; i < 300; ++i) {
        std::string bytes(std::uniform_int_distribution<std::size_t>(0, 96 << 10)(rng), '\0');
        for (auto& ch : bytes) ch = static_cast<char>(rng());
        objects.push_back(make("videos/v" + std::to_string(i % 17) + "/f" + std::to_string(i) + ".bin", std::move(bytes),
                               i % 5 == 0 ? std::optional<std::string>("t2") : std::optional<std::string>("t1")));
    }
    for (int i = 0; i < 2; ++i) {  // multipart at moto (6 MiB threshold, 5 MiB parts)
        std::string bytes(12 << 20, '\0');
        for (auto& ch : bytes) ch = static_cast<char>(rng());
        objects.push_back(make("processed/big/part" + std::to_string(i) + ".mp4", std::move(bytes)));
    }
    seed(objects);
    std::uint64_t total = 0;
    for (const auto& o : objects) total += o.bytes.size();
    const auto tenants_before = rows("SELECT api_key, used_bytes || '/' || file_count FROM api_keys");
    const auto ages_before = rows("SELECT key, created_at::text FROM objects WHERE deleted_at IS NULL");

    const auto dry = wharf::test::run(migrate_argv({"--dry-run", "--json"}));
    ASSERT_EQ(dry.status, 0) << dry.output;
    const auto plan = json::parse(dry.output);
    EXPECT_EQ(plan["objects"], objects.size());
    EXPECT_EQ(plan["bytes"], total);
    EXPECT_EQ(plan["fits"], true);
    EXPECT_TRUE(plan["resumes"].is_null());
    EXPECT_TRUE(moto.list_objects("media").empty()) << "a dry run moves nothing";

    // kill -9 at random points once a run is under way (its first switch seen; a sanitizer build
    // starts slowly), then a run that finishes.
    int killed_mid_run = 0;
    const auto switched_count = [&] { return f.count("SELECT count(*) FROM objects WHERE provider = 'moto'"); };
    for (int round = 0; round < 6; ++round) {
        const auto before = switched_count();
        wharf::test::process p(migrate_argv({"--concurrency", "4"}));
        fleet::eventually([&] { return switched_count() > before || !p.running(); }, 60s);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng)));
        if (p.running()) ++killed_mid_run;
        p.kill_hard();
    }
    const auto switched_before = f.count("SELECT count(*) FROM objects WHERE provider = 'moto'");
    EXPECT_GT(switched_before, 0) << "the killed runs made progress";
    const auto last = wharf::test::run(migrate_argv({"--json"}), {}, 300s);
    ASSERT_EQ(last.status, 0) << last.output;
    const auto report = json::parse(last.output.substr(last.output.find('{')));
    EXPECT_EQ(report["complete"], true);
    EXPECT_EQ(report["objects"], objects.size());
    EXPECT_EQ(report["failed"], 0);
    EXPECT_EQ(report["skipped"], 0);
    EXPECT_EQ(report["done_before"].get<std::uint64_t>() + report["moved"].get<std::uint64_t>() +
                  report["completed"].get<std::uint64_t>(),
              objects.size())
        << last.output;
    EXPECT_EQ(report["done_before"].get<std::int64_t>() + report["completed"].get<std::int64_t>(), switched_before)
        << "what the killed runs switched is finished, not moved again";
    std::cout << "killed " << killed_mid_run << " runs mid-way, which switched " << switched_before
              << "; the last run finished " << report["completed"] << " of those and moved " << report["moved"] << "\n";

    // Every object exactly once at the destination, with its bytes; the source empty.
    const auto listed = moto.list_objects("media");
    ASSERT_EQ(listed.size(), objects.size());
    std::map<std::string, std::uint64_t> at_moto;
    for (const auto& o : listed) at_moto[o.key] = o.size;
    for (const auto& o : objects) {
        ASSERT_TRUE(at_moto.contains(o.key)) << o.key;
        EXPECT_EQ(at_moto[o.key], o.bytes.size()) << o.key;
    }
    std::vector<std::string> keys;
    for (const auto& o : objects) keys.push_back(o.key);
    const auto hashes = moto_sha256(keys);
    for (const auto& o : objects) EXPECT_EQ(hashes.count(o.key) ? hashes.at(o.key) : "", o.sha256) << o.key;
    EXPECT_TRUE(files_under(root).empty()) << files_under(root).front();
    EXPECT_TRUE(files_under(scratch).empty()) << files_under(scratch).front();
    EXPECT_TRUE(moto.open_uploads("media").empty());
    EXPECT_EQ(f.count("SELECT count(*) FROM multipart_uploads"), 0);

    // The catalog: every row moved, usage moved exactly once, the tenants' unchanged, ages kept.
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND provider = 'moto' AND bucket = 'media'"),
              static_cast<std::int64_t>(objects.size()));
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND provider = 'disk'"), 0);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects"), static_cast<std::int64_t>(objects.size())) << "rows moved, not copied";
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"), static_cast<std::int64_t>(total));
    EXPECT_EQ(f.count("SELECT file_count FROM storage_stats WHERE provider = 'moto'"), static_cast<std::int64_t>(objects.size()));
    EXPECT_EQ(f.count("SELECT total_bytes + file_count FROM storage_stats WHERE provider = 'disk'"), 0);
    EXPECT_EQ(rows("SELECT api_key, used_bytes || '/' || file_count FROM api_keys"), tenants_before);
    EXPECT_EQ(rows("SELECT key, created_at::text FROM objects WHERE deleted_at IS NULL"), ages_before);
    EXPECT_EQ(f.count("SELECT count(*) FROM object_migrations WHERE state = 'finished' AND finished_at IS NOT NULL"), 1);
    EXPECT_EQ(f.count("SELECT count(*) FROM object_migration_items WHERE state <> 'done'"), 0);

    // Nothing left: a new run has nothing to move.
    const auto again = wharf::test::run(migrate_argv({"--json"}));
    ASSERT_EQ(again.status, 0) << again.output;
    EXPECT_EQ(json::parse(again.output)["objects"], 0);
}

TEST_F(migration, a_corrupted_source_is_caught_before_the_switch_and_a_rerun_moves_it_once_repaired) {
    const auto good1 = make("videos/a/one.mp4", std::string(4000, 'a'));
    const auto good2 = make("videos/a/two.mp4", std::string(5000, 'b'), std::nullopt);
    const auto bad = make("videos/a/three.mp4", std::string(6000, 'c'));
    seed({good1, good2, bad});
    std::string flipped = bad.bytes;
    flipped[1234] = 'X';
    std::ofstream(root / bad.key, std::ios::binary | std::ios::trunc) << flipped;

    const auto r = wharf::test::run(migrate_argv({"--json"}));
    EXPECT_EQ(r.status, 1) << r.output;
    const auto report = json::parse(r.output);
    EXPECT_EQ(report["complete"], false);
    EXPECT_EQ(report["moved"], 2);
    EXPECT_EQ(report["failed"], 1);
    ASSERT_EQ(report["failures"].size(), 1u);
    EXPECT_EQ(report["failures"][0]["key"], bad.key);
    EXPECT_NE(report["failures"][0]["error"].get<std::string>().find("SHA-256"), std::string::npos) << r.output;
    // Not switched, not copied: the row and the bytes stay at the source.
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND provider = 'disk' AND key = '" + bad.key + "'"), 1);
    EXPECT_EQ(moto.list_objects("media").size(), 2u);
    EXPECT_TRUE(fs::exists(root / bad.key));
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'disk'"), 6000);
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"), 9000);
    EXPECT_EQ(f.count("SELECT count(*) FROM object_migrations WHERE state = 'running' AND owner IS NULL"), 1);

    const auto text = wharf::test::run(migrate_argv());
    EXPECT_EQ(text.status, 1) << text.output;
    EXPECT_NE(text.output.find("failed videos/a/three.mp4: "), std::string::npos) << text.output;

    const auto dry = wharf::test::run(migrate_argv({"--dry-run", "--json"}));
    ASSERT_EQ(dry.status, 0) << dry.output;
    EXPECT_EQ(json::parse(dry.output)["objects"], 1);
    EXPECT_EQ(json::parse(dry.output)["already_done"], 2);

    // Repaired: the next run resumes the same migration and moves it.
    std::ofstream(root / bad.key, std::ios::binary | std::ios::trunc) << bad.bytes;
    const auto rerun = wharf::test::run(migrate_argv({"--json"}));
    ASSERT_EQ(rerun.status, 0) << rerun.output;
    const auto after = json::parse(rerun.output);
    EXPECT_EQ(after["id"], report["id"]);
    EXPECT_EQ(after["moved"], 1);
    EXPECT_EQ(after["done_before"], 2);
    EXPECT_EQ(moto_sha256(bad.key), bad.sha256);
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"), 15000);
    EXPECT_EQ(f.count("SELECT attempts FROM object_migration_items WHERE key = '" + bad.key + "'"), 3);

    // Bad requests are usage errors.
    auto argv = migrate_argv();
    argv[6] = "disk";
    const auto same = wharf::test::run(argv);
    EXPECT_EQ(same.status, 2) << same.output;
    EXPECT_NE(same.output.find("same provider"), std::string::npos) << same.output;
    argv[6] = "nope";
    const auto unknown = wharf::test::run(argv);
    EXPECT_EQ(unknown.status, 2) << unknown.output;
    EXPECT_NE(unknown.output.find("'nope'"), std::string::npos) << unknown.output;
}

TEST_F(migration, the_destinations_limit_is_kept_and_the_job_type_runs_on_a_worker) {
    seed({make("videos/l/a.bin", std::string(40000, 'a')), make("videos/l/b.bin", std::string(40000, 'b')),
          make("videos/l/c.bin", std::string(40000, 'c')), make("transcripts/l/c.vtt", std::string(100, 'v'))});
    // Room for two of the three videos at moto: the third fails, nothing passes the limit.
    std::vector<std::string> limited{wharfctl(), "storage", "migrate", "--from", "disk", "--to", "moto", "--prefix", "videos/",
                                     "--concurrency", "1", "--json", "--database-url", f.postgres().url(),
                                     "--scratch-dir", scratch.string(), "--storage-providers", providers("100000")};
    const auto r = wharf::test::run(limited);
    EXPECT_EQ(r.status, 1) << r.output;
    const auto report = json::parse(r.output);
    EXPECT_EQ(report["objects"], 3) << "only the prefix";
    EXPECT_EQ(report["moved"], 2);
    EXPECT_EQ(report["failed"], 1);
    EXPECT_NE(report["failures"][0]["error"].get<std::string>().find("no room"), std::string::npos) << r.output;
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"), 80000);
    EXPECT_EQ(moto.list_objects("media").size(), 2u);

    // The job type, with the room made: the worker resumes the same migration.
    f.start_worker({"--queues", "migrate-objects=1", "--storage-providers", providers(), "--scratch-dir", scratch.string()});
    f.enqueue("migrate-objects",
              json{{"v", 1}, {"id", "mig-1"}, {"payload", {{"from", "disk"}, {"to", "moto"}, {"prefix", "videos/"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "mig-1") == "succeeded"; }, 60s))
        << wharf::test::status_of(f, "mig-1");
    const auto result = json::parse(f.job("mig-1")->result.value_or("{}"));
    EXPECT_EQ(result["id"], report["id"]) << result.dump();
    EXPECT_EQ(result["moved"], 1) << result.dump();
    EXPECT_EQ(result["done_before"], 2) << result.dump();
    EXPECT_EQ(moto.list_objects("media").size(), 3u);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND provider = 'disk'"), 1) << "outside the prefix";

    // A bad payload dead-letters the job at once with the reason.
    f.enqueue("migrate-objects", json{{"v", 1}, {"id", "mig-2"}, {"payload", {{"from", "disk"}, {"to", "disk"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "mig-2") == "dead"; }, 30s))
        << wharf::test::status_of(f, "mig-2");
    EXPECT_NE(f.job("mig-2")->error.value_or("").find("same provider"), std::string::npos);
}
