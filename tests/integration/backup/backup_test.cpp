// Database backups against real PostgreSQL, moto and the local provider: a backup streamed into a
// multipart upload and restored into a fresh database reproduces every table (rows and checksums);
// the restore drill marks it verified; a flipped byte fails verify and restore before the target is
// touched; pg_dump killed, a part refused by the server, an implausibly small dump, a failing
// pg_dump and a killed wharfctl never record success nor run retention, and leave no upload open;
// retention keeps the newest backup and two drilled ones; the job types on a real worker.
#include "fleet.hpp"

#include "wharf/backup/census.hpp"
#include "wharf/backup/zstd_stream.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/moto_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;
using wharf::test::fleet;
using namespace std::chrono_literals;

namespace {

std::string wharfctl() { return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string(); }

// The URL of another database on the same server.
std::string with_database(const std::string& url, const std::string& db) {
    const auto slash = url.rfind('/');
    const auto query = url.find('?', slash);
    return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

class backups : public ::testing::Test {
protected:
    void SetUp() override {
        moto.create_bucket("backups");
        root = dir.path() / "store";
        scratch = dir.path() / "scratch";
        fs::create_directories(root);
    }

    std::string providers(std::uint16_t moto_port = 0) const {
        const std::string endpoint = "http://127.0.0.1:" + std::to_string(moto_port ? moto_port : moto.port());
        return R"({"providers":[{"name":"disk","kind":"local","root":")" + root.string() +
               R"("},{"name":"moto","kind":"s3","profile":"generic","endpoint":")" + endpoint +
               R"(","region":"us-east-1","bucket":"backups","access_key_id":"testing","secret_access_key":"testing"}]})";
    }

    std::vector<std::string> argv(std::vector<std::string> args, const std::string& provider = "moto",
                                  std::uint16_t moto_port = 0) {
        std::vector<std::string> out{wharfctl(), "backup"};
        out.insert(out.end(), args.begin(), args.end());
        for (std::string a : std::vector<std::string>{"--database-url", f.postgres().url(), "--scratch-dir", scratch.string(), "--storage-providers",
                              providers(moto_port), "--backup-provider", provider, "--backup-part-size", "5MiB"})
            out.push_back(std::move(a));
        return out;
    }

    // Rows enough for a dump of several 5 MiB parts once compressed (md5 text compresses ~2x).
    void seed_jobs(int n) {
        pqxx::connection c(f.postgres().url());
        pqxx::work tx(c);
        tx.exec("INSERT INTO jobs (queue, id, status, payload) SELECT 'upload', 'seed-' || g, 'succeeded', "
                "jsonb_build_object('n', g, 'a', md5(g::text), 'b', md5((g * 7)::text), 'c', md5((g * 13)::text), "
                "'d', md5((g * 31)::text)) FROM generate_series(1, " +
                std::to_string(n) + ") g");
        tx.commit();
    }

    wharf::backup::census census_of(const std::string& url) {
        pqxx::connection c(url);
        pqxx::work tx(c);
        return wharf::backup::take_census(tx);
    }

    json run_json(const std::vector<std::string>& a, int expect = 0) {
        const auto r = wharf::test::run(a, {}, 300s);
        EXPECT_EQ(r.status, expect) << r.output;
        const auto at = r.output.find_first_of("{[");
        if (at == std::string::npos) return json();
        return json::parse(r.output.substr(at), nullptr, false);
    }

    std::int64_t count(const std::string& sql) { return f.count(sql); }

    void create_database(const std::string& name) {
        pqxx::connection c(f.postgres().url());
        pqxx::nontransaction tx(c);
        tx.exec0("CREATE DATABASE " + name);
    }

    // Old succeeded backups for retention to judge: objects at the local provider, 60 days old.
    void seed_old_backups() {
        pqxx::connection c(f.postgres().url());
        pqxx::work tx(c);
        for (int i = 1; i <= 3; ++i) {
            const std::string key = "backups/db/old-" + std::to_string(i) + ".dump.zst";
            fs::create_directories((root / key).parent_path());
            std::ofstream(root / key) << "old backup " << i;
            tx.exec_params0("INSERT INTO backups (status, provider, bucket, key, format, size, sha256, started_at, "
                            "finished_at, verified_at) VALUES ('succeeded', 'disk', $1, $2, 'pg_dump-custom+zstd', 12, "
                            "'x', now() - make_interval(days => 70 - $3), now() - make_interval(days => 70 - $3), "
                            "CASE WHEN $3 > 1 THEN now() - interval '50 days' END)",
                            root.string(), key, i);
        }
        tx.commit();
    }
    std::int64_t old_backups_left() {
        return count("SELECT count(*) FROM backups WHERE key LIKE 'backups/db/old-%' AND status = 'succeeded'");
    }

    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::moto_server moto;
    wharf::test::temp_dir dir{"wharf-backup"};
    fs::path root, scratch;
};

}  // namespace

TEST_F(backups, a_backup_streamed_to_moto_restores_into_a_fresh_database_with_every_table_and_passes_the_drill) {
    seed_jobs(120'000);
    const auto before = census_of(f.postgres().url());
    ASSERT_GT(before.at("jobs").rows, 100'000u);

    const auto b = run_json(argv({"run", "--json"}));
    ASSERT_EQ(b["status"], "succeeded") << b.dump();
    const auto id = b["id"].get<std::int64_t>();
    EXPECT_EQ(census_of(f.postgres().url()).at("backups").rows, 1u) << "its own row, which the dump's snapshot predates";
    EXPECT_GT(b["dump_bytes"].get<std::uint64_t>(), b["size"].get<std::uint64_t>()) << "compressed";
    EXPECT_FALSE(b["verified"].get<bool>());
    EXPECT_FALSE(b["server_version"].get<std::string>().empty());
    EXPECT_GE(b["schema_version"].get<int>(), 14);
    // Stored at moto whole: the size and SHA-256 the row records, read back by the server's listing.
    const auto listed = moto.list_objects("backups");
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].key, b["key"]);
    EXPECT_EQ(listed[0].size, b["size"].get<std::uint64_t>());
    EXPECT_GT(listed[0].size, 5u << 20) << "several parts of 5 MiB";
    EXPECT_TRUE(moto.open_uploads("backups").empty());
    EXPECT_EQ(count("SELECT count(*) FROM multipart_uploads"), 0);

    // Listed as unverified until a drill restored it.
    const auto list = wharf::test::run(argv({"list"}));
    EXPECT_NE(list.output.find("UNVERIFIED"), std::string::npos) << list.output;

    // Restore into a fresh database: every table as in the source (rows and checksums).
    create_database("restored");
    const std::string target = with_database(f.postgres().url(), "restored");
    const auto restored = run_json(argv({"restore", std::to_string(id), "--target", target, "--json"}));
    EXPECT_EQ(restored["id"], id);
    const auto after = census_of(target);
    EXPECT_EQ(after, before);
    EXPECT_TRUE(wharf::backup::census_differences(before, after).empty());

    // A target that has tables is refused without --yes, and left as it was; with --yes replaced.
    {
        pqxx::connection c(target);
        pqxx::work tx(c);
        tx.exec0("DELETE FROM jobs WHERE id LIKE 'seed-1%'");
        tx.commit();
    }
    const auto refused = wharf::test::run(argv({"restore", std::to_string(id), "--target", target}), {}, 120s);
    EXPECT_EQ(refused.status, 1) << refused.output;
    EXPECT_NE(refused.output.find("not empty"), std::string::npos) << refused.output;
    EXPECT_NE(census_of(target).at("jobs").rows, before.at("jobs").rows);
    run_json(argv({"restore", std::to_string(id), "--target", target, "--yes", "--json"}));
    EXPECT_EQ(census_of(target), before);

    // The drill: restored into a scratch database, compared with the manifest, marked verified.
    const auto drill = run_json(argv({"drill", "--json"}));
    EXPECT_EQ(drill["passed"], true) << drill.dump();
    EXPECT_EQ(drill["id"], id);
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE id = " + std::to_string(id) +
                    " AND verified_at IS NOT NULL AND restore_seconds > 0 AND drill_error IS NULL"),
              1);
    EXPECT_EQ(count("SELECT count(*) FROM pg_database WHERE datname LIKE 'wharf_drill_%'"), 0) << "scratch dropped";
    const auto listed_after = run_json(argv({"list", "--json"}));
    ASSERT_EQ(listed_after.size(), 1u);
    EXPECT_EQ(listed_after[0]["verified"], true);

    // verify: intact.
    const auto verified = run_json(argv({"verify", std::to_string(id), "--json"}));
    EXPECT_EQ(verified["ok"], true) << verified.dump();
    EXPECT_EQ(verified["dump_bytes"], b["dump_bytes"]);

    // The job types on a real worker: a backup, then its drill.
    f.start_worker({"--queues", "backup=1,restore-drill=1", "--storage-providers", providers(), "--scratch-dir",
                    scratch.string(), "--backup-provider", "moto"});
    f.enqueue("backup", json{{"v", 1}, {"id", "bk-1"}, {"payload", json::object()}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "bk-1") == "succeeded"; }, 120s))
        << wharf::test::status_of(f, "bk-1");
    const auto job_result = json::parse(f.job("bk-1")->result.value_or("{}"));
    const auto second = job_result["id"].get<std::int64_t>();
    EXPECT_EQ(job_result["status"], "succeeded");
    f.enqueue("restore-drill", json{{"v", 1}, {"id", "drill-1"}, {"payload", {{"backup_id", second}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "drill-1") == "succeeded"; }, 120s))
        << wharf::test::status_of(f, "drill-1");
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE id = " + std::to_string(second) + " AND verified_at IS NOT NULL"), 1);
    // A drill of a backup that does not exist is dead-lettered with the reason.
    f.enqueue("restore-drill", json{{"v", 1}, {"id", "drill-2"}, {"payload", {{"backup_id", 9999}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "drill-2") == "dead"; }, 60s));
    EXPECT_NE(f.job("drill-2")->error.value_or("").find("no backup 9999"), std::string::npos);
}

TEST_F(backups, the_metadata_files_of_processed_jobs_go_into_one_archive_beside_the_dump) {
    // Three processed jobs' metadata.json at the local provider (one under a long key), and a file
    // that is not a job's metadata, all in the catalog.
    const std::vector<std::pair<std::string, std::string>> files = {
        {"processed/v1/metadata.json", R"({"video": "v1", "duration": 12.5})"},
        {"processed/v2/metadata.json", std::string(200'000, 'm')},
        {"processed/" + std::string(150, 'x') + "/metadata.json", R"({"video": "long"})"},
        {"processed/v1/hls/master.m3u8", "#EXTM3U\n"}};
    {
        pqxx::connection c(f.postgres().url());
        pqxx::work tx(c);
        for (const auto& [key, body] : files) {
            fs::create_directories((root / key).parent_path());
            std::ofstream(root / key, std::ios::binary) << body;
            tx.exec_params0("INSERT INTO objects (provider, bucket, key, size, sha256) VALUES ('disk', $1, $2, $3, "
                            "encode(sha256(convert_to($4, 'UTF8')), 'hex'))",
                            root.string(), key, static_cast<std::int64_t>(body.size()), body);
        }
        tx.commit();
    }
    const auto b = run_json(argv({"run", "--json"}, "disk"));
    ASSERT_EQ(b["status"], "succeeded") << b.dump();
    ASSERT_EQ(b["metadata"]["files"], 3) << b.dump();
    ASSERT_TRUE(b["metadata"]["key"].is_string()) << b.dump();
    const fs::path archive = root / b["metadata"]["key"].get<std::string>();
    ASSERT_TRUE(fs::exists(archive));
    EXPECT_EQ(fs::file_size(archive), b["metadata"]["size"].get<std::uint64_t>());
    // Unpacked by the ordinary tools: zstd frames (decoded here with the library's own codec) of a
    // tar archive GNU tar lists and extracts, each file with its bytes.
    std::ifstream in(archive, std::ios::binary);
    const std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    wharf::backup::zstd_decompressor d(27);
    std::string tar;
    std::span<const char> rest(packed.data(), packed.size());
    while (!rest.empty() || d.pending()) rest = rest.subspan(d.decompress(rest, tar, 1u << 30));
    const fs::path tar_file = dir.path() / "metadata.tar";
    std::ofstream(tar_file, std::ios::binary) << tar;
    const auto listing = wharf::test::run({"tar", "-tf", tar_file.string()});
    ASSERT_EQ(listing.status, 0) << listing.output;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_NE(listing.output.find("disk/" + files[i].first), std::string::npos) << listing.output;
        const auto extracted = wharf::test::run({"tar", "-xOf", tar_file.string(), "disk/" + files[i].first});
        EXPECT_EQ(extracted.status, 0);
        EXPECT_EQ(extracted.output, files[i].second) << files[i].first;
    }
    EXPECT_EQ(listing.output.find("master.m3u8"), std::string::npos);

    // A file whose bytes are not the catalog's: the archive fails and says why, the backup stands.
    std::ofstream(root / files[0].first, std::ios::binary) << "tampered";
    const auto second = run_json(argv({"run", "--json"}, "disk"));
    EXPECT_EQ(second["status"], "succeeded") << second.dump();
    EXPECT_TRUE(second["metadata"]["key"].is_null()) << second.dump();
    EXPECT_NE(second["metadata"]["error"].get<std::string>().find("processed/v1/metadata.json"), std::string::npos)
        << second.dump();
}

TEST_F(backups, an_encrypted_backup_is_sealed_at_rest_and_opens_only_with_its_key) {
    seed_jobs(20'000);
    const std::string metadata_key = "processed/enc/metadata.json", metadata = R"({"video": "enc"})";
    {
        fs::create_directories((root / metadata_key).parent_path());
        std::ofstream(root / metadata_key, std::ios::binary) << metadata;
        pqxx::connection c(f.postgres().url());
        pqxx::work tx(c);
        tx.exec_params0("INSERT INTO objects (provider, bucket, key, size, sha256) VALUES ('disk', $1, $2, $3, "
                        "encode(sha256(convert_to($4, 'UTF8')), 'hex'))",
                        root.string(), metadata_key, static_cast<std::int64_t>(metadata.size()), metadata);
        tx.commit();
    }
    const auto before = census_of(f.postgres().url());
    const std::string key = "5f2b0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c";
    const auto with = [&](const std::string& k) {
        wharf::test::process_options o;
        o.env["WHARF_BACKUP_KEY"] = k;
        return o;
    };
    const auto json_of = [](const wharf::test::run_result& r) {
        const auto at = r.output.find_first_of("{[");
        return at == std::string::npos ? json() : json::parse(r.output.substr(at), nullptr, false);
    };

    const auto made = wharf::test::run(argv({"run", "--json"}, "disk"), with(key), 300s);
    ASSERT_EQ(made.status, 0) << made.output;
    const auto b = json_of(made);
    ASSERT_EQ(b["status"], "succeeded") << b.dump();
    EXPECT_EQ(b["format"], "pg_dump-custom+zstd+aes256gcm");
    const std::string id = std::to_string(b["id"].get<std::int64_t>());
    const auto read = [](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    // At rest: the chunked AES-256-GCM format, neither zstd nor the dump.
    const std::string stored = read(root / b["key"].get<std::string>());
    EXPECT_TRUE(b["key"].get<std::string>().ends_with(".dump.zst.enc"));
    EXPECT_EQ(stored.substr(0, 8), "WHARFGCM");
    EXPECT_EQ(stored.find("PGDMP"), std::string::npos);
    const std::string archive = read(root / b["metadata"]["key"].get<std::string>());
    EXPECT_EQ(archive.substr(0, 8), "WHARFGCM") << "the metadata archive is sealed too";
    EXPECT_EQ(archive.find("enc/metadata.json"), std::string::npos);

    // Without the key, or with another one: refused, saying why (and never printing a key).
    const auto no_key = wharf::test::run(argv({"verify", id, "--json"}, "disk"), {}, 120s);
    EXPECT_EQ(no_key.status, 1) << no_key.output;
    EXPECT_NE(no_key.output.find("WHARF_BACKUP_KEY"), std::string::npos) << no_key.output;
    const std::string other(64, 'c');
    const auto wrong = wharf::test::run(argv({"verify", id, "--json"}, "disk"), with(other), 120s);
    EXPECT_EQ(wrong.status, 1) << wrong.output;
    EXPECT_NE(wrong.output.find("another key"), std::string::npos) << wrong.output;
    EXPECT_EQ(wrong.output.find(other), std::string::npos);
    const auto bad = wharf::test::run(argv({"list"}, "disk"), with("not-a-key"), 60s);
    EXPECT_EQ(bad.status, 2) << bad.output;
    EXPECT_NE(bad.output.find("WHARF_BACKUP_KEY"), std::string::npos) << bad.output;
    EXPECT_EQ(bad.output.find("not-a-key"), std::string::npos) << bad.output;

    // With it: verify, restore into a fresh database (every table as in the source), the drill.
    const auto verified = wharf::test::run(argv({"verify", id, "--json"}, "disk"), with(key), 120s);
    EXPECT_EQ(verified.status, 0) << verified.output;
    EXPECT_EQ(json_of(verified)["ok"], true) << verified.output;
    create_database("decrypted");
    const std::string target = with_database(f.postgres().url(), "decrypted");
    const auto restored = wharf::test::run(argv({"restore", id, "--target", target, "--json"}, "disk"), with(key), 300s);
    ASSERT_EQ(restored.status, 0) << restored.output;
    EXPECT_EQ(census_of(target), before);
    const auto drill = wharf::test::run(argv({"drill", id, "--json"}, "disk"), with(key), 300s);
    EXPECT_EQ(drill.status, 0) << drill.output;
    EXPECT_EQ(json_of(drill)["passed"], true) << drill.output;

    // A byte flipped inside a sealed chunk (past the SHA-256 check: the row is made to agree) is
    // refused by the chunk's tag before pg_restore could apply it.
    std::string flipped = stored;
    flipped[stored.size() / 2] ^= 0x20;
    fs::remove(root / b["key"].get<std::string>());  // a new file: no stored SHA-256 (xattr) to catch it first
    std::ofstream(root / b["key"].get<std::string>(), std::ios::binary | std::ios::trunc) << flipped;
    {
        pqxx::connection c(f.postgres().url());
        pqxx::work tx(c);
        tx.exec_params0("UPDATE backups SET sha256 = encode(sha256($2::bytea), 'hex') WHERE id = $1",
                        std::stoll(id), pqxx::binarystring(flipped.data(), flipped.size()));
        tx.commit();
    }
    const auto damaged = wharf::test::run(argv({"verify", id, "--json"}, "disk"), with(key), 120s);
    EXPECT_EQ(damaged.status, 1) << damaged.output;
    EXPECT_NE(damaged.output.find("authentication"), std::string::npos) << damaged.output;
}

TEST_F(backups, a_flipped_byte_in_the_stored_dump_fails_verify_and_restore_before_the_target_is_touched) {
    seed_jobs(2'000);
    for (const std::string provider : {"disk", "moto"}) {
        const auto b = run_json(argv({"run", "--json"}, provider));
        ASSERT_EQ(b["status"], "succeeded") << b.dump();
        const auto id = std::to_string(b["id"].get<std::int64_t>());
        const std::string key = b["key"];
        if (provider == "disk") {
            std::fstream file(root / key, std::ios::in | std::ios::out | std::ios::binary);
            file.seekg(1000);
            char c = 0;
            file.get(c);
            file.seekp(1000);
            file.put(static_cast<char>(c ^ 0x20));
        } else {
            // Replaced at moto by boto3 with one byte flipped (and without wharf's metadata).
            const std::string script = R"(
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
body = bytearray(s3.get_object(Bucket="backups", Key=sys.argv[2])["Body"].read())
body[1000] ^= 0x20
s3.put_object(Bucket="backups", Key=sys.argv[2], Body=bytes(body))
)";
            const auto r = wharf::test::run({"python3", "-c", script, moto.endpoint(), key});
            ASSERT_EQ(r.status, 0) << r.output;
        }
        const auto verify = wharf::test::run(argv({"verify", id}, provider));
        EXPECT_EQ(verify.status, 1) << verify.output;
        EXPECT_NE(verify.output.find("DAMAGED"), std::string::npos) << verify.output;

        const std::string db = "target_" + provider;
        create_database(db);
        const auto restore = wharf::test::run(argv({"restore", id, "--target", with_database(f.postgres().url(), db)}, provider));
        EXPECT_EQ(restore.status, 1) << restore.output;
        EXPECT_NE(restore.output.find("damaged"), std::string::npos) << restore.output;
        EXPECT_TRUE(census_of(with_database(f.postgres().url(), db)).empty()) << "the target was not touched";
        const auto drill = wharf::test::run(argv({"drill", id}, provider));
        EXPECT_EQ(drill.status, 1) << drill.output;
        EXPECT_EQ(count("SELECT count(*) FROM backups WHERE id = " + id + " AND drill_error IS NOT NULL AND verified_at IS NULL"), 1);
    }
    EXPECT_TRUE(fs::is_empty(scratch)) << "the downloads were removed";
}

TEST_F(backups, a_failed_or_killed_backup_never_records_success_never_runs_retention_and_leaves_no_upload) {
    seed_jobs(150'000);
    seed_old_backups();
    ASSERT_EQ(old_backups_left(), 3);

    const fs::path bin = dir.path() / "fake-bin";
    fs::create_directories(bin);
    const std::string path = bin.string() + ":" + std::getenv("PATH");
    const auto real_pg_dump = wharf::test::run({"sh", "-c", "command -v pg_dump"}).output;
    // pg_dump killed mid-run (as soon as it runs: a dump of these rows takes about a second).
    {
        wharf::test::process p(argv({"run"}));
        std::string dump_pid;
        ASSERT_TRUE(fleet::eventually(
            [&] {
                const auto r = wharf::test::run({"pgrep", "-P", std::to_string(p.pid()), "pg_dump"});
                dump_pid = r.output.substr(0, r.output.find('\n'));
                return !dump_pid.empty();
            },
            60s));
        ::kill(std::stoi(dump_pid), SIGKILL);
        EXPECT_EQ(p.wait(120s), 1);
        EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'failed' AND error LIKE '%pg_dump killed by SIGKILL%'"), 1);
    }
    // A part the server refuses, every time (through the fault proxy).
    {
        wharf::test::fault_proxy proxy(moto.port());
        proxy.set_rule([](const wharf::test::request_info& r) {
            if (r.method == "PUT" && r.target.find("partNumber=2&") != std::string::npos)
                return wharf::test::fault{wharf::test::fault::kind::status, 500,
                                          "<Error><Code>InternalError</Code><Message>no</Message></Error>", {}};
            return wharf::test::fault{};
        });
        const auto r = wharf::test::run(argv({"run"}, "moto", proxy.port()), {}, 300s);
        EXPECT_EQ(r.status, 1) << r.output;
        EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'failed' AND error LIKE '%InternalError%'"), 1)
            << r.output;
    }
    // A pg_dump that writes almost nothing, and one that fails after writing a little.
    {
        std::ofstream(bin / "pg_dump") << "#!/bin/sh\nprintf PGDMP12345\n";
        fs::permissions(bin / "pg_dump", fs::perms::owner_all);
        auto r = wharf::test::run(argv({"run"}), {.env = {{"PATH", path}}});
        EXPECT_EQ(r.status, 1) << r.output;
        EXPECT_NE(r.output.find("only 10 bytes"), std::string::npos) << r.output;
        std::ofstream(bin / "pg_dump", std::ios::trunc)
            << "#!/bin/sh\nprintf PGDMP\nhead -c 200000 /dev/urandom\necho 'pg_dump: error: lost the server' >&2\nexit 1\n";
        r = wharf::test::run(argv({"run"}), {.env = {{"PATH", path}}});
        EXPECT_EQ(r.status, 1) << r.output;
        EXPECT_NE(r.output.find("pg_dump exit code 1: pg_dump: error: lost the server"), std::string::npos) << r.output;
    }
    // wharfctl itself killed mid-upload: the row stays running until the next run finds its owner
    // dead, aborts its upload and marks it failed. (pg_dump's output stays open 60 s after the
    // dump, so the upload is surely under way when the kill comes.)
    {
        std::ofstream(bin / "pg_dump", std::ios::trunc)
            << "#!/bin/sh\n" << real_pg_dump.substr(0, real_pg_dump.find('\n')) << " \"$@\" && exec sleep 60\n";
        wharf::test::process p(argv({"run"}), {.env = {{"PATH", path}}});
        ASSERT_TRUE(fleet::eventually(
            [&] { return count("SELECT count(*) FROM multipart_uploads WHERE upload_id <> '(creating)'") > 0; }, 60s));
        p.kill_hard();
        EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'running'"), 1);
    }
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'succeeded' AND key NOT LIKE 'backups/db/old-%'"), 0);
    EXPECT_EQ(old_backups_left(), 3) << "no retention after a failed backup";

    // The dry run lists what retention would delete: the unverified old backup only (the two
    // drilled ones are kept, however old).
    const auto dry = run_json(argv({"prune", "--dry-run", "--json"}));
    ASSERT_EQ(dry["would_delete"].size(), 1u) << dry.dump();
    EXPECT_EQ(old_backups_left(), 3);

    // A backup another host began two days ago and never ended (a lost pod).
    {
        pqxx::connection c(f.postgres().url());
        pqxx::work tx(c);
        tx.exec0("INSERT INTO backups (status, provider, bucket, key, format, owner, started_at) VALUES ('running', "
                 "'moto', 'backups', 'backups/db/lost.dump.zst', 'pg_dump-custom+zstd', 'another-host:1', "
                 "now() - interval '2 days')");
        tx.commit();
    }
    const auto ok = run_json(argv({"run", "--json"}));
    ASSERT_EQ(ok["status"], "succeeded") << ok.dump();
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'running'"), 0);
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'failed' AND error LIKE 'abandoned: the process%'"), 1);
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'failed' AND key = 'backups/db/lost.dump.zst' "
                    "AND error = 'abandoned: no end after 24 hours'"),
              1);
    EXPECT_TRUE(moto.open_uploads("backups").empty()) << "every failed or killed run's upload was aborted";
    EXPECT_EQ(count("SELECT count(*) FROM multipart_uploads"), 0);
    const auto objects = moto.list_objects("backups");
    ASSERT_EQ(objects.size(), 1u) << "only the backup that succeeded is stored";
    EXPECT_EQ(objects[0].key, ok["key"]);
    // Retention ran after it: the unverified old backup went, object and row; the drilled ones stay.
    ASSERT_EQ(ok["retention"]["deleted"].size(), 1u) << ok.dump();
    EXPECT_EQ(old_backups_left(), 2);
    EXPECT_FALSE(fs::exists(root / "backups/db/old-1.dump.zst"));
    EXPECT_TRUE(fs::exists(root / "backups/db/old-2.dump.zst"));
    EXPECT_EQ(count("SELECT count(*) FROM backups WHERE status = 'deleted' AND deleted_at IS NOT NULL"), 1);
}
