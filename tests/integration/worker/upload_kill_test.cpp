// An `upload` job whose wharf-worker is killed with kill -9 in the middle of a multipart upload,
// against moto (through the fault proxy), redis-server and PostgreSQL, with real worker
// processes: another worker takes the job over, aborts the upload the dead one left open, uploads
// again, and the object is stored and counted exactly once.
#include "fleet.hpp"

#include "wharf/storage/sha256.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/storage_data.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>


using namespace std::chrono_literals;
using nlohmann::json;
using wharf::test::fault;
using wharf::test::fleet;
using wharf::test::logs_on_failure;
using wharf::test::status_of;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

// The value of `name` in a request target's query ("" when absent).
std::string query_param(const std::string& target, const std::string& name) {
    const auto q = target.find('?');
    if (q == std::string::npos) return "";
    std::size_t at = q + 1;
    while (at < target.size()) {
        const auto end = std::min(target.find('&', at), target.size());
        const auto pair = target.substr(at, end - at);
        if (pair.starts_with(name + "=")) return pair.substr(name.size() + 1);
        at = end + 1;
    }
    return "";
}

// An object fetched from moto directly (not through the proxy, not with wharf's S3 client).
void moto_fetch(const wharf::test::moto_server& moto, const std::string& path, const std::filesystem::path& to) {
    const auto r = wharf::test::run({"curl", "-sS", "-f", "-o", to.string(), moto.endpoint() + path});
    if (r.status != 0) throw std::runtime_error("curl " + path + " failed: " + r.output);
}

}  // namespace

TEST(worker_upload, kill_9_mid_upload_leaves_no_orphan_and_counts_every_byte_once) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    wharf::test::fault_proxy proxy(moto.port());
    // The first multipart upload is the victim: its part 1 goes through at once and part 2 after
    // 1.5 s (so a progress report lands in the job row whatever the reporter's 250 ms throttle
    // dropped), and its other parts are held until the test ends, so the worker is reliably
    // killed mid-upload. Every other request (the take-over's upload, the abort) passes.
    proxy.set_rule([victim = std::string()](const wharf::test::request_info& r) mutable -> fault {
        const auto upload_id = query_param(r.target, "uploadId");
        const auto part = query_param(r.target, "partNumber");
        if (r.method != "PUT" || upload_id.empty() || part.empty()) return {};
        if (victim.empty()) victim = upload_id;
        if (upload_id != victim || part == "1") return {};
        return fault::stall_for(part == "2" ? 1'500ms : 1h);
    });

    fleet f;
    logs_on_failure logs{f};
    wharf::test::temp_dir dir("wharf-upload-kill");

    // 36 MiB + 123 bytes of noise: eight parts of 5 MiB (the last one short).
    const auto source = dir.path() / "clip.bin";
    const std::uint64_t size = 36 * MiB + 123;
    wharf::test::spill(source, wharf::test::random_bytes(size, 9));
    const auto sha256 = wharf::storage::sha256_file_hex(source);

    const json providers = {{"providers",
                             {{{"name", "moto"},
                               {"kind", "s3"},
                               {"profile", "generic"},
                               {"endpoint", "http://127.0.0.1:" + std::to_string(proxy.port())},
                               {"region", "us-east-1"},
                               {"bucket", "media"},
                               {"access_key_id", "testing"},
                               {"secret_access_key", "testing"},
                               {"limit", "1GiB"},
                               {"multipart_threshold", "8MiB"},
                               {"part_size", "5MiB"},
                               {"timeout", "120s"}}}}};
    const std::vector<std::string> flags{"--queues",
                                         "upload=1",
                                         "--lease",
                                         "3s",
                                         "--sweep",
                                         "200ms",
                                         "--storage-providers",
                                         providers.dump(),
                                         "--scratch-dir",
                                         (dir.path() / "scratch").string(),
                                         "--local-source-roots",
                                         dir.path().string()};
    const std::string key = "videos/k9/clip.bin";
    const std::string id = "clip-k9";

    auto& first = f.start_worker(flags);
    f.enqueue("upload", {{"id", id},
                         {"api_key", "tenant-k9"},
                         {"payload", {{"source", source.string()}, {"key", key}, {"content_type", "video/mp4"}}}});

    // Mid-upload: some bytes done, not all.
    const std::string done_sql = "SELECT COALESCE(max((progress->>'done')::bigint), 0) FROM jobs WHERE id = '" + id +
                                 "' AND progress->>'phase' = 'upload'";
    ASSERT_TRUE(fleet::eventually([&] { return f.count(done_sql) > 0; }, 120s)) << "no upload progress";
    const auto done = f.count(done_sql);
    EXPECT_LT(done, static_cast<std::int64_t>(size));
    // The upload was recorded before its first part, and its intent before it was created.
    ASSERT_EQ(f.count("SELECT count(*) FROM multipart_uploads WHERE job_id = '" + id + "' AND upload_id <> '(creating)'"),
              1);
    ASSERT_EQ(f.count("SELECT count(*) FROM multipart_uploads WHERE job_id = '" + id + "' AND upload_id = '(creating)'"),
              1);
    const auto victim = [&] {
        pqxx::connection c{f.postgres().url()};
        pqxx::nontransaction tx{c};
        return tx.exec1("SELECT upload_id FROM multipart_uploads WHERE upload_id <> '(creating)'")[0].as<std::string>();
    }();

    first.kill_hard();
    // The dead worker's upload is open at moto: this is the orphan the take-over must abort.
    ASSERT_EQ(moto.open_uploads("media"), std::vector<std::string>{victim});

    f.start_worker(flags);
    ASSERT_TRUE(fleet::eventually([&] { return status_of(f, id) == "succeeded"; }, 240s)) << status_of(f, id);

    const auto row = f.job(id);
    EXPECT_EQ(row->attempts, 1);  // a take-over is not a new attempt...
    EXPECT_EQ(row->epoch, 2);     // ...but a second holder of the job
    const auto result = json::parse(row->result.value_or("{}"));
    EXPECT_EQ(result["size"], size);
    EXPECT_EQ(result["sha256"], sha256);
    EXPECT_EQ(result["duplicate"], false);

    // Stored and counted exactly once.
    EXPECT_EQ(f.count("SELECT count(*) FROM objects"), 1);
    EXPECT_EQ(f.count("SELECT count(*) FROM objects WHERE deleted_at IS NULL AND provider = 'moto' AND key = '" + key +
                      "' AND size = " + std::to_string(size) + " AND sha256 = '" + sha256 + "'"),
              1);
    EXPECT_EQ(f.count("SELECT total_bytes FROM storage_stats WHERE provider = 'moto'"),
              static_cast<std::int64_t>(size));
    EXPECT_EQ(f.count("SELECT file_count FROM storage_stats WHERE provider = 'moto'"), 1);
    EXPECT_EQ(f.count("SELECT used_bytes FROM api_keys WHERE api_key = 'tenant-k9'"), static_cast<std::int64_t>(size));
    EXPECT_EQ(f.count("SELECT file_count FROM api_keys WHERE api_key = 'tenant-k9'"), 1);

    // The object at moto is the file.
    const auto fetched = dir.path() / "fetched.bin";
    moto_fetch(moto, "/media/" + key, fetched);
    EXPECT_EQ(std::filesystem::file_size(fetched), size);
    EXPECT_EQ(wharf::storage::sha256_file_hex(fetched), sha256);

    // No upload left open at moto, and nothing left in the journal.
    EXPECT_EQ(moto.open_uploads("media"), std::vector<std::string>{});
    EXPECT_EQ(f.count("SELECT count(*) FROM multipart_uploads"), 0);
    EXPECT_NE(f.worker_log(1).find("aborted upload " + victim), std::string::npos);
}
