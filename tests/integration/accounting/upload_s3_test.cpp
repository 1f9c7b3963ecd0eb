// The `upload` job on an S3 provider (moto), built through the registry from JSON settings as a
// deployment would configure it: multipart upload recorded once, a presigned GET that curl can
// fetch, duplicates and a retry after a crash between upload and record counted once.
#include "upload_harness.hpp"

#include "wharf/storage/sha256.hpp"
#include "wharf/test/moto_server.hpp"

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
// storage_providers as a deployment writes them: one s3 provider "moto", bucket media, 1 GiB.
nlohmann::json moto_providers(const wharf::test::moto_server& moto) {
    return {{"providers",
             {{{"name", "moto"}, {"kind", "s3"}, {"profile", "generic"}, {"endpoint", moto.endpoint()},
               {"region", "us-east-1"}, {"bucket", "media"}, {"access_key_id", "testing"},
               {"secret_access_key", "testing"}, {"limit", "1GiB"}}}}};
}
}  // namespace

TEST(upload_job_s3, uploads_to_moto_records_once_and_presigns_a_fetchable_url) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    wharf::test::upload_harness h;
    h.use(moto_providers(moto));
    auto run = [&](nlohmann::json payload, int attempt) { return h.run(std::move(payload), attempt); };
    auto stats = [&] { return h.stats("moto"); };
    const auto& dir = h.dir;

    // 70 MiB: above the provider's multipart threshold.
    const auto big = dir.path() / "big.bin";
    {
        std::ofstream out(big, std::ios::binary);
        std::string block(1 << 20, '\0');
        for (int i = 0; i < 70; ++i) {
            for (std::size_t j = 0; j < block.size(); j += 64) block[j] = static_cast<char>(i + j / 64);
            out << block;
        }
    }
    const auto result = run({{"source", big.string()}, {"key", "videos/v1/big.bin"}}, 1);
    EXPECT_EQ(result["provider"], "moto");
    EXPECT_EQ(result["size"], 70u << 20);
    EXPECT_EQ(result["sha256"], s::sha256_file_hex(big));
    EXPECT_EQ(stats().total_bytes, 70u << 20);

    const auto fetched = dir.path() / "fetched.bin";
    const auto curl = wharf::test::run({"curl", "-sSf", "-o", fetched.string(), result["presigned_url"].get<std::string>()});
    ASSERT_EQ(curl.status, 0) << curl.output;
    EXPECT_EQ(s::sha256_file_hex(fetched), s::sha256_file_hex(big));

    // The same bytes again: no upload, no new bytes counted.
    EXPECT_EQ(run({{"source", big.string()}, {"key", "videos/v1/big.bin"}}, 1)["duplicate"], true);

    // A job that uploaded and died before recording: its retry records the object once.
    const auto small = dir.path() / "small.bin";
    std::ofstream(small, std::ios::binary) << std::string(1000, 's');
    run_coro(h.ctx, h.provider("moto").put_file("videos/v2/small.bin", small, s::put_options{}));
    EXPECT_EQ(stats().total_bytes, 70u << 20);
    run({{"source", small.string()}, {"key", "videos/v2/small.bin"}}, 2);
    run({{"source", small.string()}, {"key", "videos/v2/small.bin"}}, 3);
    EXPECT_EQ(stats().total_bytes, (70u << 20) + 1000);
    EXPECT_EQ(stats().file_count, 2u);
}

// A worker killed after moto created a multipart upload but before its row was written left only
// the intent row: the job's next attempt lists that key, aborts the unrecorded upload and uploads
// again. An unrecorded upload of a key that another job also writes is left alone (it may be
// that job's), for `wharfctl storage orphans`. Found by the chaos soak (tests/chaos).
TEST(upload_job_s3, an_upload_created_but_never_recorded_is_aborted_by_the_next_attempt) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    wharf::test::upload_harness h;
    h.use(moto_providers(moto));
    const auto sql = [&](const std::string& q) {
        pqxx::connection c(h.url);
        pqxx::work tx(c);
        auto r = tx.exec(q);
        tx.commit();
        return r;
    };
    const auto intent = [&](const std::string& job, const std::string& key) {
        sql("INSERT INTO multipart_uploads (provider, bucket, key, upload_id, job_id, job_queue) VALUES ('moto', 'media', '" +
            key + "', '(creating)', '" + job + "', 'upload')");
    };
    const auto src = h.file("clip.bin", 3000, 'c');

    // Attempt 1 of job-k wrote its intent, moto created the upload, then the worker died.
    intent("job-k", "videos/k/clip.bin");
    const auto lost = moto.begin_upload("media", "videos/k/clip.bin", 5 << 20);
    // Another key's unrecorded upload is none of this job's business.
    const auto other_key = moto.begin_upload("media", "videos/other/clip.bin");
    wharf::worker::job_context retry;
    retry.id = "job-k";
    retry.attempt = 2;
    retry.payload = {{"source", src.string()}, {"key", "videos/k/clip.bin"}};
    const auto result = h.run_job(retry);
    EXPECT_EQ(result["size"], 3000);
    auto open = moto.open_uploads_by_key("media");
    EXPECT_EQ(open, (std::vector<std::pair<std::string, std::string>>{{"videos/other/clip.bin", other_key}}))
        << "the lost upload " << lost << " is still open";
    EXPECT_EQ(sql("SELECT count(*) FROM multipart_uploads")[0][0].as<int>(), 0);

    // Two jobs write one key and both left intents: the unrecorded upload could be either's.
    intent("job-a", "videos/shared/clip.bin");
    intent("job-b", "videos/shared/clip.bin");
    const auto ambiguous = moto.begin_upload("media", "videos/shared/clip.bin");
    wharf::worker::job_context a;
    a.id = "job-a";
    a.attempt = 2;
    a.payload = {{"source", src.string()}, {"key", "videos/shared/clip.bin"}};
    h.run_job(a);
    open = moto.open_uploads_by_key("media");
    EXPECT_NE(std::find(open.begin(), open.end(), std::pair<std::string, std::string>{"videos/shared/clip.bin", ambiguous}),
              open.end());
    // job-a's own intent is gone; job-b's stays for its own next attempt.
    EXPECT_EQ(sql("SELECT job_id FROM multipart_uploads")[0][0].as<std::string>(), "job-b");
    EXPECT_EQ(sql("SELECT count(*) FROM multipart_uploads")[0][0].as<int>(), 1);
}
