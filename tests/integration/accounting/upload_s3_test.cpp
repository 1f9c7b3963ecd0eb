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

TEST(upload_job_s3, uploads_to_moto_records_once_and_presigns_a_fetchable_url) {
    wharf::test::moto_server moto;
    moto.create_bucket("media");
    wharf::test::upload_harness h;
    h.use(nlohmann::json{{"providers",
                          {{{"name", "moto"}, {"kind", "s3"}, {"profile", "generic"}, {"endpoint", moto.endpoint()},
                            {"region", "us-east-1"}, {"bucket", "media"}, {"access_key_id", "testing"},
                            {"secret_access_key", "testing"}, {"limit", "1GiB"}}}}});
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
