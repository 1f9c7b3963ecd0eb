// Applying the lifecycle rules at real providers: the class seen by a HEAD at moto (boto3) and
// Azurite, the local provider's cold folder with every read path finding the object there, the
// catalog's tier following, ages (created_at) kept, small objects kept, expiry removing object,
// row and usage exactly once, a rerun changing nothing, runs killed with -9 finished by a rerun,
// the `lifecycle` job type on a worker, and the rules written as moto's bucket lifecycle.
#include "fleet.hpp"

#include "wharf/storage/azure.hpp"
#include "wharf/storage/catalog.hpp"
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

std::string wharfctl() {
    return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string();
}

// Runs a coroutine to its end on `io` (the test's own thread).
template <class T>
T sync(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
    auto fut = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
    while (fut.wait_for(0s) != std::future_status::ready) {
        if (io.stopped()) io.restart();
        io.run_one_for(100ms);
    }
    return fut.get();
}

const char* rules_json =
    R"({"min_size": "128KiB", "rules": [{"prefix": "media/", "warm_after": "30d", "cold_after": "90d"},)"
    R"({"prefix": "temp/", "expire_after": "1d"}]})";

class lifecycle : public ::testing::Test {
protected:
    void SetUp() override {
        moto.create_bucket("media");
        root = dir.path() / "store";
        cold = dir.path() / "cold";
        configs = s::parse_provider_configs(json::parse(providers()), "test");
        registry = std::make_unique<s::registry>(configs, io.get_executor());
        sync(io, s::azure::create_container(s::unwrapped(registry->at("azure"))));
    }

    std::string providers() const {
        return R"({"providers":[{"name":"disk","kind":"local","root":")" + root.string() + R"(","cold_root":")" +
               cold.string() + R"(","limit":"10GiB"},{"name":"moto","kind":"s3","profile":"generic","endpoint":")" +
               moto.endpoint() +
               R"(","region":"us-east-1","bucket":"media","access_key_id":"testing","secret_access_key":"testing",)"
               R"("limit":"10GiB"},{"name":"azure","kind":"azure","account":"devstoreaccount1","account_key":")" +
               std::string(wharf::test::azurite_server::key) + R"(","container":"media","endpoint":")" +
               azurite.endpoint() + R"(","limit":"10GiB"}]})";
    }

    // Stored at the provider as a job would (content type, SHA-256), recorded for tenant t1,
    // `age_days` old.
    void store(const std::string& provider, const std::string& key, std::size_t bytes, int age_days) {
        std::string data(bytes, '\0');
        for (auto& ch : data) ch = static_cast<char>(rng());
        const std::string sha = s::sha256_hex(data);
        s::put_options o;
        o.content_type = "video/mp4";
        o.sha256 = sha;
        auto& p = registry->at(provider);
        const auto put = sync(io, p.put_bytes(key, std::move(data), std::move(o)));
        pqxx::connection c(f.postgres().url());
        s::object_record r;
        r.provider = provider;
        r.bucket = p.bucket();
        r.key = key;
        r.size = bytes;
        r.sha256 = sha;
        r.etag = put.etag;
        r.api_key = "t1";
        s::record_object(c, r);
        pqxx::work tx(c);
        tx.exec_params(
            "UPDATE objects SET created_at = now() - make_interval(days => $1) WHERE key = $2 AND "
            "provider = $3 AND deleted_at IS NULL",
            age_days, key, provider);
        tx.commit();
        shas[provider + ":" + key] = sha;
    }

    std::vector<std::string> apply_argv(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{wharfctl(),          "storage",          "lifecycle",           "apply",
                                      "--database-url",    f.postgres().url(), "--storage-providers", providers(),
                                      "--lifecycle-rules", rules_json};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    json apply(std::vector<std::string> extra = {}, int expect_status = 0) {
        extra.push_back("--json");
        const auto r = wharf::test::run(apply_argv(extra), {}, 300s);
        EXPECT_EQ(r.status, expect_status) << r.output;
        return json::parse(r.output.substr(r.output.find('{')));
    }

    std::map<std::string, std::string> rows(const std::string& sql) {
        std::map<std::string, std::string> out;
        pqxx::connection c(f.postgres().url());
        pqxx::read_transaction tx(c);
        for (const auto& r : tx.exec(sql)) out[r[0].as<std::string>()] = r[1].is_null() ? "" : r[1].as<std::string>();
        return out;
    }

    // What moto says of objects, read by boto3 (not wharf's client): key -> {class, sha256, type}.
    std::map<std::string, json> moto_heads(const std::vector<std::string>& keys) const {
        const std::string script = R"(
import json, sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x",
                  aws_secret_access_key="x")
out = {}
for key in sys.argv[2:]:
    try:
        h = s3.head_object(Bucket="media", Key=key)
        out[key] = {"class": h.get("StorageClass", "STANDARD"), "sha256": h["Metadata"].get("sha256"),
                    "type": h["ContentType"], "size": h["ContentLength"]}
    except botocore.exceptions.ClientError:
        out[key] = None
print(json.dumps(out))
)";
        std::vector<std::string> argv{"python3", "-c", script, moto.endpoint()};
        argv.insert(argv.end(), keys.begin(), keys.end());
        const auto r = wharf::test::run(argv, {}, 120s);
        EXPECT_EQ(r.status, 0) << r.output;
        std::map<std::string, json> out;
        const json doc = json::parse(r.output);
        for (const auto& [k, v] : doc.items()) out[k] = v;
        return out;
    }

    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::moto_server moto;
    wharf::test::azurite_server azurite;
    wharf::test::temp_dir dir{"wharf-lifecycle"};
    fs::path root, cold;
    boost::asio::io_context io;
    std::vector<s::provider_config> configs;
    std::unique_ptr<s::registry> registry;
    std::mt19937_64 rng{20261212};
    std::map<std::string, std::string> shas;
};

constexpr std::size_t big = 200 << 10;  // above min_size
const std::vector<std::string> all_providers{"disk", "moto", "azure"};

}  // namespace

TEST_F(lifecycle, tiers_change_at_every_provider_and_in_the_catalog_and_a_rerun_changes_nothing) {
    for (const auto& p : all_providers) {
        store(p, "media/" + p + "/old.mp4", big, 100);     // -> cold
        store(p, "media/" + p + "/mid.mp4", big, 40);      // -> warm
        store(p, "media/" + p + "/young.mp4", big, 5);     // kept
        store(p, "media/" + p + "/small.mp4", 1000, 100);  // under min_size: kept
        store(p, "temp/" + p + "/x.bin", 10'000, 2);       // expires
    }
    const auto ages_before =
        rows("SELECT provider || ':' || key, created_at::text FROM objects WHERE deleted_at IS NULL");
    const auto usage_before = rows("SELECT provider, total_bytes || '/' || file_count FROM storage_stats");
    EXPECT_EQ(rows("SELECT api_key, used_bytes || '/' || file_count FROM api_keys")["t1"],
              std::to_string(3 * (3 * big + 1000 + 10'000)) + "/15");

    // A dry run counts and changes nothing.
    const auto dry = apply({"--dry-run"});
    EXPECT_EQ(dry["dry_run"], true);
    EXPECT_EQ(dry["examined"], 15);
    EXPECT_EQ(dry["to_cold"]["objects"], 3) << dry.dump();
    EXPECT_EQ(dry["to_warm"]["objects"], 3) << dry.dump();
    EXPECT_EQ(dry["expired"]["objects"], 3) << dry.dump();
    EXPECT_EQ(dry["below_min_size"], 3) << dry.dump();
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE tier <> 'hot' OR deleted_at IS NOT NULL"), 0);
    EXPECT_EQ(moto_heads({"media/moto/old.mp4"})["media/moto/old.mp4"]["class"], "STANDARD");

    const auto run = apply();
    EXPECT_EQ(run["complete"], true) << run.dump();
    EXPECT_EQ(run["to_cold"]["objects"], 3) << run.dump();
    EXPECT_EQ(run["to_cold"]["bytes"], 3 * big);
    EXPECT_EQ(run["to_warm"]["objects"], 3) << run.dump();
    EXPECT_EQ(run["expired"]["objects"], 3) << run.dump();
    EXPECT_EQ(run["expired"]["bytes"], 30'000);
    EXPECT_EQ(run["below_min_size"], 3);
    EXPECT_EQ(run["skipped_untiered"], 0);

    // moto: the class by copy in place, the metadata (the stored SHA-256) and the type kept.
    const auto heads = moto_heads({"media/moto/old.mp4", "media/moto/mid.mp4", "media/moto/young.mp4",
                                   "media/moto/small.mp4", "temp/moto/x.bin"});
    EXPECT_EQ(heads.at("media/moto/old.mp4")["class"], "GLACIER_IR");
    EXPECT_EQ(heads.at("media/moto/mid.mp4")["class"], "STANDARD_IA");
    EXPECT_EQ(heads.at("media/moto/young.mp4")["class"], "STANDARD");
    EXPECT_EQ(heads.at("media/moto/small.mp4")["class"], "STANDARD") << "under min_size";
    EXPECT_TRUE(heads.at("temp/moto/x.bin").is_null()) << "expired";
    for (const auto* key : {"media/moto/old.mp4", "media/moto/mid.mp4"}) {
        EXPECT_EQ(heads.at(key)["sha256"], shas.at(std::string("moto:") + key)) << key;
        EXPECT_EQ(heads.at(key)["type"], "video/mp4") << key;
        EXPECT_EQ(heads.at(key)["size"], big) << key;
    }
    // Azurite: the access tiers.
    EXPECT_EQ(azurite.access_tier("media", "media/azure/old.mp4"), "Cold");
    EXPECT_EQ(azurite.access_tier("media", "media/azure/mid.mp4"), "Cool");
    EXPECT_EQ(azurite.access_tier("media", "media/azure/young.mp4"), "Hot");
    EXPECT_EQ(azurite.access_tier("media", "media/azure/small.mp4"), "Hot");
    EXPECT_FALSE(azurite.access_tier("media", "temp/azure/x.bin"));
    // Local: the cold object's file is in the cold folder, the warm one stays in the root.
    EXPECT_TRUE(fs::exists(cold / "media/disk/old.mp4"));
    EXPECT_FALSE(fs::exists(root / "media/disk/old.mp4"));
    EXPECT_TRUE(fs::exists(root / "media/disk/mid.mp4"));
    EXPECT_FALSE(fs::exists(root / "temp/disk/x.bin"));
    // ... and every read path finds it there.
    auto& disk = registry->at("disk");
    const auto head = sync(io, disk.head("media/disk/old.mp4"));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->storage_class, "cold_root");
    EXPECT_EQ(head->sha256, shas.at("disk:media/disk/old.mp4"));
    const auto got = sync(io, disk.get_to_file("media/disk/old.mp4", dir.path() / "read-back"));
    EXPECT_EQ(got.sha256, shas.at("disk:media/disk/old.mp4")) << "read back whole, SHA-256 checked";
    const auto page = sync(io, disk.list("media/disk/", std::nullopt, 1000));
    std::vector<std::string> listed;
    for (const auto& o : page.objects) listed.push_back(o.key);
    EXPECT_EQ(listed, (std::vector<std::string>{"media/disk/mid.mp4", "media/disk/old.mp4", "media/disk/small.mp4",
                                                "media/disk/young.mp4"}));
    EXPECT_NE(disk.presign(s::http_method::get, "media/disk/old.mp4", 60s)
                  .find(cold.filename().string() + "/media/disk/old.mp4"),
              std::string::npos);

    // The catalog: tiers, ages kept, usage down by exactly the expired objects.
    const auto tiers = rows("SELECT provider || ':' || key, tier FROM objects WHERE deleted_at IS NULL");
    for (const auto& p : all_providers) {
        EXPECT_EQ(tiers.at(p + ":media/" + p + "/old.mp4"), "cold") << p;
        EXPECT_EQ(tiers.at(p + ":media/" + p + "/mid.mp4"), "warm") << p;
        EXPECT_EQ(tiers.at(p + ":media/" + p + "/young.mp4"), "hot") << p;
        EXPECT_EQ(tiers.at(p + ":media/" + p + "/small.mp4"), "hot") << p;
        EXPECT_FALSE(tiers.contains(p + ":temp/" + p + "/x.bin")) << p;
        const auto before = usage_before.at(p);
        const auto total = std::stoll(before.substr(0, before.find('/')));
        const auto files = std::stoll(before.substr(before.find('/') + 1));
        EXPECT_EQ(rows("SELECT provider, total_bytes || '/' || file_count FROM storage_stats")[p],
                  std::to_string(total - 10'000) + "/" + std::to_string(files - 1))
            << p;
    }
    EXPECT_EQ(rows("SELECT api_key, used_bytes || '/' || file_count FROM api_keys")["t1"],
              std::to_string(3 * (3 * big + 1000)) + "/12");
    const auto ages_after =
        rows("SELECT provider || ':' || key, created_at::text FROM objects WHERE deleted_at IS NULL");
    for (const auto& [key, age] : ages_after) EXPECT_EQ(age, ages_before.at(key)) << key << ": the age is kept";

    // A rerun finds nothing to do; the plan agrees.
    const auto again = apply();
    EXPECT_EQ(again["examined"], 12);
    EXPECT_EQ(again["to_cold"]["objects"], 0);
    EXPECT_EQ(again["to_warm"]["objects"], 0);
    EXPECT_EQ(again["expired"]["objects"], 0);
    const auto plan = wharf::test::run({wharfctl(), "storage", "lifecycle", "plan", "--json", "--database-url",
                                        f.postgres().url(), "--lifecycle-rules", rules_json});
    ASSERT_EQ(plan.status, 0) << plan.output;
    EXPECT_EQ(json::parse(plan.output)["totals"]["keep"]["objects"], 12) << plan.output;

    // --provider narrows a run; an unknown one is a usage error.
    const auto narrowed = apply({"--provider", "moto", "--dry-run"});
    EXPECT_EQ(narrowed["examined"], 4);
    const auto unknown = wharf::test::run(apply_argv({"--provider", "nope"}));
    EXPECT_EQ(unknown.status, 2) << unknown.output;
    EXPECT_NE(unknown.output.find("'nope'"), std::string::npos) << unknown.output;
}

TEST_F(lifecycle, runs_killed_with_minus_9_are_finished_by_a_rerun_counting_nothing_twice) {
    for (int i = 0; i < 40; ++i) {
        store("moto", "media/k/" + std::to_string(i) + ".mp4", big, 100 + i);
        store("disk", "media/k/" + std::to_string(i) + ".mp4", big, 100 + i);
        store(i % 2 ? "moto" : "disk", "temp/k/" + std::to_string(i) + ".bin", 5'000, 3);
    }
    // Half-done states a kill leaves, made by hand: a class changed at the provider whose row was
    // not, and an expired object deleted at its provider whose row was not.
    sync(io, registry->at("moto").set_tier("media/k/0.mp4", s::tier::cold));
    sync(io, registry->at("disk").set_tier("media/k/0.mp4", s::tier::cold));
    sync(io, registry->at("moto").remove("temp/k/1.bin"));
    sync(io, registry->at("disk").remove("temp/k/0.bin"));
    const auto usage_before = rows("SELECT provider, total_bytes::text FROM storage_stats");
    const auto ages_before =
        rows("SELECT provider || ':' || key, created_at::text FROM objects WHERE deleted_at IS NULL");

    int killed_mid_run = 0;
    for (int round = 0; round < 4; ++round) {
        const auto before = f.count("SELECT count(*) FROM objects WHERE tier = 'cold' OR deleted_at IS NOT NULL");
        wharf::test::process p(apply_argv({"--concurrency", "2"}));
        fleet::eventually(
            [&] {
                return f.count("SELECT count(*) FROM objects WHERE tier = 'cold' OR deleted_at IS NOT NULL") > before ||
                       !p.running();
            },
            60s);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
        if (p.running()) ++killed_mid_run;
        p.kill_hard();
    }
    const auto last = apply();
    EXPECT_EQ(last["complete"], true) << last.dump();
    std::cout << "killed " << killed_mid_run << " runs mid-way; the last run moved " << last["to_cold"]["objects"]
              << " and expired " << last["expired"]["objects"] << "\n";

    // Every object once in the cold tier, at the provider and in the catalog.
    EXPECT_EQ(
        f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND key LIKE 'media/k/%' AND tier = 'cold'"),
        80);
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) keys.push_back("media/k/" + std::to_string(i) + ".mp4");
    for (const auto& [key, head] : moto_heads(keys)) {
        EXPECT_EQ(head["class"], "GLACIER_IR") << key;
        EXPECT_EQ(head["sha256"], shas.at("moto:" + key)) << key;
    }
    for (const auto& key : keys) {
        EXPECT_TRUE(fs::exists(cold / key)) << key;
        EXPECT_FALSE(fs::exists(root / key)) << key;
    }
    for (const auto& e : fs::recursive_directory_iterator(cold))
        EXPECT_FALSE(e.path().filename().string().starts_with(".wharf-tmp-"))
            << e.path() << ": a killed move's temp file";
    // Expired once: no temp object or row left, usage down by exactly their bytes (20 each).
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND key LIKE 'temp/%'"), 0);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NOT NULL"), 40) << "each row deleted once";
    const auto usage_after = rows("SELECT provider, total_bytes::text FROM storage_stats");
    for (const auto* p : {"moto", "disk"})
        EXPECT_EQ(std::stoll(usage_after.at(p)), std::stoll(usage_before.at(p)) - 20 * 5'000) << p;
    EXPECT_EQ(rows("SELECT api_key, used_bytes || '/' || file_count FROM api_keys")["t1"],
              std::to_string(80 * big) + "/80");
    EXPECT_TRUE(moto.list_objects("media").size() == 40u) << "only the media objects are left at moto";
    for (const auto& [key, age] :
         rows("SELECT provider || ':' || key, created_at::text FROM objects WHERE deleted_at IS NULL"))
        EXPECT_EQ(age, ages_before.at(key)) << key;

    const auto again = apply();
    EXPECT_EQ(again["to_cold"]["objects"], 0);
    EXPECT_EQ(again["expired"]["objects"], 0);
}

TEST_F(lifecycle, the_job_type_runs_on_a_worker_and_the_backstop_is_written_to_the_bucket) {
    store("moto", "media/j/old.mp4", big, 95);
    store("azure", "media/j/old.mp4", big, 35);
    store("disk", "temp/j/x.bin", 100, 2);
    f.start_worker({"--queues", "lifecycle=1", "--storage-providers", providers(), "--lifecycle-rules", rules_json,
                    "--scratch-dir", (dir.path() / "scratch").string()});
    f.enqueue("lifecycle", json{{"v", 1}, {"id", "lc-1"}, {"payload", json::object()}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "lc-1") == "succeeded"; }, 60s))
        << wharf::test::status_of(f, "lc-1");
    const auto result = json::parse(f.job("lc-1")->result.value_or("{}"));
    EXPECT_EQ(result["to_cold"]["objects"], 1) << result.dump();
    EXPECT_EQ(result["to_warm"]["objects"], 1) << result.dump();
    EXPECT_EQ(result["expired"]["objects"], 1) << result.dump();
    EXPECT_EQ(moto_heads({"media/j/old.mp4"})["media/j/old.mp4"]["class"], "GLACIER_IR");
    EXPECT_EQ(azurite.access_tier("media", "media/j/old.mp4"), "Cool");
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND tier = 'hot'"), 0);

    // A bad payload dead-letters the job at once, with the reason.
    f.enqueue("lifecycle", json{{"v", 1}, {"id", "lc-2"}, {"payload", {{"provider", "nope"}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "lc-2") == "dead"; }, 30s))
        << wharf::test::status_of(f, "lc-2");
    EXPECT_NE(f.job("lc-2")->error.value_or("").find("'nope'"), std::string::npos) << f.job("lc-2")->error.value_or("");

    // The backstop: the XML on --dry-run, then written to moto's bucket.
    std::vector<std::string> backstop{wharfctl(),          "storage", "lifecycle",           "backstop",
                                      "--provider",        "moto",    "--storage-providers", providers(),
                                      "--lifecycle-rules", rules_json};
    auto dry = backstop;
    dry.push_back("--dry-run");
    const auto xml = wharf::test::run(dry);
    ASSERT_EQ(xml.status, 0) << xml.output;
    EXPECT_NE(xml.output.find("<StorageClass>GLACIER_IR</StorageClass>"), std::string::npos) << xml.output;
    const auto none = wharf::test::run({"python3", "-c", R"(
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
try:
    s3.get_bucket_lifecycle_configuration(Bucket="media"); print("HAS")
except Exception:
    print("NONE")
)",
                                        moto.endpoint()});
    EXPECT_NE(none.output.find("NONE"), std::string::npos) << "a dry run sends nothing: " << none.output;
    const auto sent = wharf::test::run(backstop);
    ASSERT_EQ(sent.status, 0) << sent.output;
    const auto read = wharf::test::run({"python3", "-c", R"(
import json, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
print(json.dumps(s3.get_bucket_lifecycle_configuration(Bucket="media")["Rules"], default=str))
)",
                                        moto.endpoint()});
    ASSERT_EQ(read.status, 0) << read.output;
    const auto rules = json::parse(read.output);
    ASSERT_EQ(rules.size(), 3u) << read.output;  // media/ tiers, temp/ expiry, abort incomplete uploads
    std::map<std::string, json> by_id;
    for (const auto& r : rules) by_id[r["ID"].get<std::string>()] = r;
    const auto& tiers = by_id.at("wharf-1-tiers");
    ASSERT_EQ(tiers["Transitions"].size(), 2u) << read.output;
    EXPECT_EQ(tiers["Transitions"][0]["Days"], 30);
    EXPECT_EQ(tiers["Transitions"][0]["StorageClass"], "STANDARD_IA");
    EXPECT_EQ(tiers["Transitions"][1]["Days"], 90);
    EXPECT_EQ(tiers["Transitions"][1]["StorageClass"], "GLACIER_IR");
    EXPECT_EQ(by_id.at("wharf-2-expire")["Expiration"]["Days"], 1) << read.output;
    EXPECT_EQ(by_id.at("wharf-abort-incomplete-multipart")["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"], 7)
        << read.output;
    // Azure's lifecycle policy is the account's, not a container's: a usage error.
    auto azure = backstop;
    azure[5] = "azure";
    const auto refused = wharf::test::run(azure);
    EXPECT_EQ(refused.status, 2) << refused.output;
}
