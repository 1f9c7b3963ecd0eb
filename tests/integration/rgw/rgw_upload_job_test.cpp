// The `upload` job end to end against RGW, configured from JSON as a deployment would (profile
// generic, default part checksum crc32), with one byte of a part flipped on its way: the job's
// result and the objects row carry the source's SHA-256, RGW holds exactly those bytes, and the
// recorded ETag is the object's real one (RGW's CompleteMultipartUpload answers an empty ETag).
#include "rgw_env.hpp"
#include "upload_harness.hpp"

#include "wharf/storage/sha256.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/storage_data.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

namespace s = wharf::storage;
using wharf::test::fault;
using wharf::test::request_info;

TEST(rgw_upload_job, a_flipped_byte_in_a_part_never_ends_as_a_success_with_other_bytes) {
    auto& rgw = wharf::test::shared_rgw();
    wharf::test::fault_proxy proxy(rgw.port());
    wharf::test::upload_harness h;
    h.use(nlohmann::json{{"providers",
                          {{{"name", "rgw"},
                            {"kind", "s3"},
                            {"profile", "generic"},
                            {"endpoint", "http://127.0.0.1:" + std::to_string(proxy.port())},
                            {"region", "us-east-1"},
                            {"bucket", rgw.bucket()},
                            {"path_style", true},
                            {"access_key_id", rgw.access_key()},
                            {"secret_access_key", rgw.secret_key()},
                            {"limit", "1GiB"},
                            {"multipart_threshold", "8MiB"},
                            {"part_size", "5MiB"}}}}});
    const auto src = h.dir.path() / "src.bin";
    const std::string content = wharf::test::random_bytes((16u << 20) + 11, 21);
    wharf::test::spill(src, content);
    proxy.fail_requests({1}, fault::flip_byte(99'999), [](const request_info& r) {
        return r.method == "PUT" && r.target.find("partNumber=3&") != std::string::npos;
    });

    const auto result = h.run({{"source", src.string()}, {"key", "jobs/flipped.bin"}});
    EXPECT_EQ(proxy.faults_injected(), 1u);
    EXPECT_EQ(result["sha256"], s::sha256_hex(content));
    const std::string etag = result["etag"].get<std::string>();
    EXPECT_FALSE(etag.empty());

    // What RGW holds, fetched with the job's presigned URL (through the proxy, which no longer flips).
    proxy.clear();
    const auto fetched = h.dir.path() / "fetched.bin";
    const auto curl =
        wharf::test::run({"curl", "-sSf", "-o", fetched.string(), result["presigned_url"].get<std::string>()});
    ASSERT_EQ(curl.status, 0) << curl.output;
    EXPECT_EQ(s::sha256_file_hex(fetched), s::sha256_hex(content)) << "the job succeeded with other bytes stored";

    const auto head = wharf::test::run_coro(h.ctx, h.provider("rgw").head("jobs/flipped.bin"));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->etag, etag);
    pqxx::connection c(h.url);
    pqxx::read_transaction tx(c);
    const auto row = tx.exec_params1("SELECT etag, sha256 FROM objects WHERE key = $1 AND deleted_at IS NULL",
                                     std::string("jobs/flipped.bin"));
    EXPECT_EQ(row[0].as<std::string>(), etag);
    EXPECT_EQ(row[1].as<std::string>(), s::sha256_hex(content));
}
