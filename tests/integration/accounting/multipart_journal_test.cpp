// The multipart-upload journal (multipart_uploads) on a real PostgreSQL, and the `upload` job's
// use of it against moto: an upload is recorded while it is open and forgotten once it completed
// or was aborted, and a job first aborts the uploads an earlier attempt of it left open -- and
// only those.
#include "wharf/storage/multipart_journal.hpp"

#include "upload_harness.hpp"

#include "wharf/storage/sha256.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/storage_data.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <fstream>

namespace asio = boost::asio;
namespace s = wharf::storage;
namespace w = wharf::worker;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using wharf::test::migrated_database;
using wharf::test::run_coro;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

s::open_upload upload(std::string key, std::string upload_id, std::string job) {
    return s::open_upload{"s3", "media", std::move(key), std::move(upload_id), std::move(job), 1, {}};
}

// The handler on moto (optionally through a fault proxy), 5 MiB parts above 8 MiB.
struct moto_harness : wharf::test::upload_harness {
    wharf::test::moto_server moto;
    std::optional<wharf::test::fault_proxy> proxy;

    explicit moto_harness(bool through_proxy = false) {
        moto.create_bucket("media");
        if (through_proxy) proxy.emplace(moto.port());
        const auto port = through_proxy ? proxy->port() : moto.port();
        use(nlohmann::json{{"providers",
                            {{{"name", "moto"},
                              {"kind", "s3"},
                              {"profile", "generic"},
                              {"endpoint", "http://127.0.0.1:" + std::to_string(port)},
                              {"region", "us-east-1"},
                              {"bucket", "media"},
                              {"access_key_id", "testing"},
                              {"secret_access_key", "testing"},
                              {"multipart_threshold", "8MiB"},
                              {"part_size", "5MiB"}}}}});
    }

    fs::path noise(const std::string& name, std::uint64_t size) {
        const auto p = dir.path() / name;
        wharf::test::spill(p, wharf::test::random_bytes(size, size));
        return p;
    }

    nlohmann::json run_as(const std::string& id, nlohmann::json payload, int delivery = 1) {
        w::job_context c;
        c.id = id;
        c.delivery = delivery;
        c.payload = std::move(payload);
        return run_job(std::move(c));
    }

    // An upload as a crashed attempt leaves it (open at moto, one part sent), recorded for
    // `job_id` as on_upload_created did. Returns its id.
    std::string left_open(const std::string& key, const std::string& job_id) {
        const auto id = moto.begin_upload("media", key, 5 * MiB);
        pqxx::connection c(url);
        s::record_open_upload(c, s::open_upload{"moto", "media", key, id, job_id, 1, {}});
        return id;
    }

    std::vector<std::string> open_at_moto() { return moto.open_uploads("media"); }

    std::int64_t journal_rows(const std::string& where = "true") {
        pqxx::connection c(url);
        pqxx::read_transaction tx(c);
        return tx.exec1("SELECT count(*) FROM multipart_uploads WHERE " + where)[0].as<std::int64_t>();
    }
};

}  // namespace

TEST(multipart_journal, records_forgets_and_lists_uploads_by_job) {
    const auto url = migrated_database();
    pqxx::connection c(url);
    s::record_open_upload(c, upload("videos/a/1", "u1", "job-a"));
    s::record_open_upload(c, upload("videos/a/1", "u1", "job-a"));  // again: a no-op
    s::record_open_upload(c, upload("videos/a/2", "u2", "job-a"));
    s::record_open_upload(c, upload("videos/b/1", "u3", "job-b"));

    const auto of_a = s::open_uploads_of_job(c, "upload", "job-a");
    ASSERT_EQ(of_a.size(), 2u);
    EXPECT_EQ(of_a[0].upload_id, "u1");
    EXPECT_EQ(of_a[1].upload_id, "u2");
    EXPECT_LT(std::chrono::system_clock::now() - of_a[0].created_at, 5min);
    EXPECT_TRUE(s::open_uploads_of_job(c, "upload", "job-c").empty());

    // Azure-style: the same upload id for one key, by two jobs.
    s::record_open_upload(c, upload("videos/z/1", "uncommitted", "job-a"));
    EXPECT_FALSE(s::upload_shared_with_other_jobs(c, upload("videos/z/1", "uncommitted", "job-a")));
    s::record_open_upload(c, upload("videos/z/1", "uncommitted", "job-b"));
    EXPECT_TRUE(s::upload_shared_with_other_jobs(c, upload("videos/z/1", "uncommitted", "job-a")));

    {
        pqxx::work tx(c);
        tx.exec("INSERT INTO jobs (id, queue, status) VALUES ('job-a', 'upload', 'succeeded')");
        tx.commit();
    }
    const auto all = s::list_open_uploads(c);
    ASSERT_EQ(all.size(), 5u);
    for (const auto& e : all) {
        if (e.upload.job_id == "job-a")
            EXPECT_EQ(e.job_status, "succeeded");
        else
            EXPECT_FALSE(e.job_status.has_value()) << "job-b has no row";
    }

    EXPECT_TRUE(s::forget_open_upload(c, upload("videos/a/1", "u1", "job-a")));
    EXPECT_FALSE(s::forget_open_upload(c, upload("videos/a/1", "u1", "job-a")));
    EXPECT_FALSE(s::forget_open_upload(c, upload("videos/b/1", "u3", "job-a"))) << "another job's row";
    EXPECT_EQ(s::open_uploads_of_job(c, "upload", "job-a").size(), 2u);
}

TEST(multipart_journal, a_job_aborts_what_its_earlier_attempt_left_open_and_nothing_of_other_jobs) {
    moto_harness h;
    const auto mine = h.left_open("videos/k/clip.bin", "clip-1");
    const auto theirs = h.left_open("videos/other/clip.bin", "other-job");
    ASSERT_EQ(h.open_at_moto().size(), 2u);

    const auto src = h.noise("clip.bin", 12 * MiB + 5);
    const auto result = h.run_as("clip-1", {{"source", src.string()}, {"key", "videos/k/clip.bin"}}, 2);
    EXPECT_EQ(result["size"], 12 * MiB + 5);
    EXPECT_EQ(result["sha256"], s::sha256_file_hex(src));

    // The earlier attempt's upload is gone, the new one completed, the other job's is untouched.
    EXPECT_EQ(h.open_at_moto(), std::vector<std::string>{theirs});
    EXPECT_EQ(h.journal_rows(), 1);
    EXPECT_EQ(h.journal_rows("job_id = 'other-job' AND upload_id = '" + theirs + "'"), 1);
    const auto head = run_coro(h.ctx, h.provider("moto").head("videos/k/clip.bin"));
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->size, 12 * MiB + 5);
    EXPECT_TRUE(head->etag.ends_with("-3")) << head->etag << ": three parts of 5 MiB";
    EXPECT_EQ(h.journal_rows("upload_id = '" + mine + "'"), 0);
}

TEST(multipart_journal, a_failed_multipart_upload_is_aborted_and_forgotten) {
    moto_harness h(true);
    // Every part 2 is refused for good: the engine aborts the upload once part 1 and 3 drained.
    h.proxy->set_rule([](const wharf::test::request_info& r) {
        if (r.method == "PUT" && r.target.find("partNumber=2&") != std::string::npos)
            return wharf::test::fault{wharf::test::fault::kind::status,
                                      403,
                                      "<Error><Code>AccessDenied</Code><Message>no</Message></Error>",
                                      {}};
        return wharf::test::fault{};
    });
    const auto src = h.noise("clip.bin", 12 * MiB);
    EXPECT_THROW(h.run_as("clip-2", {{"source", src.string()}, {"key", "videos/k/clip.bin"}}), w::permanent_error);
    EXPECT_TRUE(h.open_at_moto().empty());
    EXPECT_EQ(h.journal_rows(), 0);
}
