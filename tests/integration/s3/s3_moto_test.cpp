// The S3 provider against a real moto server: round trips, pagination, parallel multipart,
// presigned URLs fetched with curl, rejected wrong secrets (moto IAM mode), abort on failure.
#include "wharf/storage/multipart.hpp"
#include "wharf/storage/s3/provider.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <random>

using namespace wharf::storage;
namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

template <class T>
T run(net::io_context& io, net::awaitable<T> op) {
    auto f = net::co_spawn(io, std::move(op), net::use_future);
    io.restart();
    io.run();
    return f.get();
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        const auto v = rng();
        std::memcpy(s.data() + i, &v, 8);
    }
    return s;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& p, const std::string& data) { std::ofstream(p, std::ios::binary) << data; }

class s3_moto : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        moto_ = new wharf::test::moto_server();
        moto_->create_bucket("wharf");
    }
    static void TearDownTestSuite() {
        delete moto_;
        moto_ = nullptr;
    }

    s3::config config(std::string secret = "testing") const {
        s3::config c;
        c.name = "moto";
        c.profile = s3::profile::minio;
        c.endpoint = moto_->endpoint();
        c.bucket = "wharf";
        c.credentials = {"testing", std::move(secret), ""};
        c.multipart_threshold = 8ull << 20;
        c.retry.max_attempts = 2;
        return c;
    }

    net::io_context io_;
    wharf::test::temp_dir dir_{"wharf-s3"};
    static inline wharf::test::moto_server* moto_ = nullptr;
};

}  // namespace

TEST_F(s3_moto, single_put_get_head_copy_list_delete_round_trip) {
    auto s3 = s3::make_provider(io_.get_executor(), config());
    const std::string data = random_bytes(300'000, 1);
    put_options o;
    o.metadata["job"] = "42";
    auto put = run(io_, s3->put_bytes("rt/a b+ü.bin", data, o));
    EXPECT_EQ(put.size, data.size());
    EXPECT_EQ(put.sha256, sha256_hex(data));
    EXPECT_FALSE(put.etag.empty());

    auto head = run(io_, s3->head("rt/a b+ü.bin"));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->size, data.size());
    EXPECT_EQ(head->sha256, put.sha256);
    EXPECT_EQ(head->etag, put.etag);

    const auto dest = dir_.path() / "out.bin";
    auto got = run(io_, s3->get_to_file("rt/a b+ü.bin", dest));
    EXPECT_TRUE(read_file(dest) == data);
    EXPECT_EQ(got.sha256, put.sha256);
    // No temporary file is left beside the destination.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator()), 1);

    auto part = run(io_, s3->get_to_file("rt/a b+ü.bin", dir_.path() / "range.bin", byte_range{10, 19}));
    EXPECT_EQ(read_file(dir_.path() / "range.bin"), data.substr(10, 10));
    EXPECT_EQ(part.size, data.size());

    run(io_, s3->copy("rt/a b+ü.bin", "rt/copy.bin"));
    auto copied = run(io_, s3->head("rt/copy.bin"));
    ASSERT_TRUE(copied);
    EXPECT_EQ(copied->sha256, put.sha256);  // metadata travels with the copy

    auto page = run(io_, s3->list("rt/", std::nullopt, 1000));
    ASSERT_EQ(page.objects.size(), 2u);
    EXPECT_EQ(page.objects[0].key, "rt/a b+ü.bin");
    EXPECT_EQ(page.objects[0].size, data.size());

    run(io_, s3->remove("rt/a b+ü.bin"));
    EXPECT_FALSE(run(io_, s3->head("rt/a b+ü.bin")));
    run(io_, s3->remove("rt/a b+ü.bin"));  // absent is not an error
    try {
        run(io_, s3->get_to_file("rt/a b+ü.bin", dest));
        FAIL() << "expected not_found";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::not_found);
    }
}

TEST_F(s3_moto, put_file_below_threshold_is_one_signed_put) {
    auto s3 = s3::make_provider(io_.get_executor(), config());
    const std::string data = random_bytes(1 << 20, 2);
    write_file(dir_.path() / "small.bin", data);
    auto put = run(io_, s3->put_file("single/small.bin", dir_.path() / "small.bin", {}));
    EXPECT_EQ(put.parts, 1u);
    EXPECT_EQ(put.sha256, sha256_hex(data));
    run(io_, s3->get_to_file("single/small.bin", dir_.path() / "back.bin"));
    EXPECT_TRUE(read_file(dir_.path() / "back.bin") == data);
}

TEST_F(s3_moto, list_paginates_with_continuation_and_batch_delete_removes_all) {
    auto s3 = s3::make_provider(io_.get_executor(), config());
    std::vector<std::string> keys;
    for (int i = 0; i < 7; ++i) {
        keys.push_back("page/k" + std::to_string(i) + " &<x>");
        run(io_, s3->put_bytes(keys.back(), "v" + std::to_string(i), {}));
    }
    std::vector<std::string> seen;
    std::optional<std::string> token;
    int pages = 0;
    do {
        auto page = run(io_, s3->list("page/", token, 3));
        for (auto& o : page.objects) seen.push_back(o.key);
        token = page.next;
        ++pages;
    } while (token);
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, keys);
    auto failed = run(io_, s3->remove_many(keys));
    EXPECT_TRUE(failed.empty());
    EXPECT_TRUE(run(io_, s3->list("page/", std::nullopt, 1000)).objects.empty());
}

TEST_F(s3_moto, multipart_upload_with_parallel_parts_round_trips_bytes_and_sha256) {
    auto s3 = s3::make_provider(io_.get_executor(), config());
    const std::string data = random_bytes(40ull << 20, 3);
    write_file(dir_.path() / "big.bin", data);
    put_options o;
    o.part_size = 5ull << 20;
    o.parts_in_flight = 4;
    std::atomic<std::uint64_t> last_done{0};
    o.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, data.size());
        last_done = done;
    };
    auto put = run(io_, s3->put_file("mp/big.bin", dir_.path() / "big.bin", o));
    EXPECT_EQ(put.parts, 8u);
    EXPECT_EQ(put.size, data.size());
    EXPECT_EQ(put.sha256, sha256_hex(data));
    EXPECT_TRUE(put.etag.ends_with("-8")) << put.etag;
    EXPECT_EQ(last_done.load(), data.size());
    auto got = run(io_, s3->get_to_file("mp/big.bin", dir_.path() / "big.out"));
    EXPECT_EQ(got.size, data.size());
    EXPECT_EQ(got.sha256, put.sha256);
    EXPECT_EQ(sha256_file_hex(dir_.path() / "big.out"), put.sha256);
    EXPECT_TRUE(run(io_, s3->list_incomplete("mp/")).empty());
}

// Parts carry x-amz-checksum-crc32 (declared at Create, listed at Complete). moto computes the
// object's composite checksum from the bytes it stored; botocore's HeadObject with
// ChecksumMode=ENABLED reads it back, and it must be the one of our parts. (Without the
// declaration moto would answer a whole-object checksum instead.) moto without the Python crc32c
// package computes CRC32C as CRC32, so CRC32C is proven by the unit tests' check values instead,
// and here only that the server takes it.
TEST_F(s3_moto, multipart_parts_carry_crc_checksums_that_the_server_agrees_with) {
    const std::string data = random_bytes(23ull << 20, 9);
    write_file(dir_.path() / "crc.bin", data);
    for (const auto kind : {checksum_kind::crc32, checksum_kind::crc32c}) {
        SCOPED_TRACE(std::string(to_string(kind)));
        const bool server_checks = kind == checksum_kind::crc32;
        auto c = config();
        c.part_checksum = kind;
        auto s3 = s3::make_provider(io_.get_executor(), c);
        const std::string key = "crc/" + std::string(to_string(kind)) + ".bin";
        put_options o;
        o.part_size = 5ull << 20;
        o.parts_in_flight = 3;
        auto put = run(io_, s3->put_file(key, dir_.path() / "crc.bin", o));
        ASSERT_EQ(put.parts, 5u);
        EXPECT_EQ(put.sha256, sha256_hex(data));

        std::vector<std::string> part_sums;
        for (std::size_t off = 0; off < data.size(); off += o.part_size) {
            const std::span<const char> part(data.data() + off, std::min<std::size_t>(o.part_size, data.size() - off));
            part_sums.push_back(crc_base64(kind == checksum_kind::crc32 ? crc32(0, part) : crc32c(0, part)));
        }
        std::string expected = composite_checksum(kind, part_sums).value();
        expected.resize(expected.find('-'));  // moto spells it without the "-<parts>"
        const std::string script =
            "import boto3,sys\n"
            "s3=boto3.client('s3',endpoint_url=sys.argv[1],aws_access_key_id='testing',aws_secret_access_key='testing',"
            "region_name='us-east-1')\n"
            "h=s3.head_object(Bucket='wharf',Key=sys.argv[2],ChecksumMode='ENABLED')\n"
            "print('CHECKSUM', h.get('Checksum' + sys.argv[3].upper(), 'none'))\n";
        auto res = wharf::test::run({"python3", "-c", script, moto_->endpoint(), key, std::string(to_string(kind))}, {},
                                    std::chrono::seconds(60));
        ASSERT_EQ(res.status, 0) << res.output;
        ASSERT_NE(res.output.find("CHECKSUM "), std::string::npos) << res.output;
        EXPECT_EQ(res.output.find("CHECKSUM none"), std::string::npos) << "the algorithm was not declared: " << res.output;
        if (server_checks) {
            EXPECT_NE(res.output.find("CHECKSUM " + expected + "\n"), std::string::npos)
                << res.output << " expected " << expected;
        }
        auto got = run(io_, s3->get_to_file(key, dir_.path() / "crc.out"));
        EXPECT_EQ(got.sha256, put.sha256);
    }
}

// Above copy_part_threshold (5 GiB in production, where CopyObject stops) copy() is a multipart
// copy: UploadPartCopy of ranges, with the source's content type and metadata (the sha256).
TEST_F(s3_moto, a_copy_above_the_threshold_is_a_multipart_copy_that_keeps_bytes_and_metadata) {
    auto c = config();
    c.copy_part_threshold = 8ull << 20;
    c.copy_part_size = 5ull << 20;
    auto s3 = s3::make_provider(io_.get_executor(), c);
    const std::string data = random_bytes(13ull << 20, 21);
    write_file(dir_.path() / "src.bin", data);
    put_options o;
    o.content_type = "video/mp4";
    o.sha256 = sha256_hex(data);  // known up front: it goes into the metadata at Create
    auto put = run(io_, s3->put_file("copy/src.mp4", dir_.path() / "src.bin", o));
    run(io_, s3->copy("copy/src.mp4", "copy/dst.mp4"));
    auto h = run(io_, s3->head("copy/dst.mp4"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, data.size());
    EXPECT_TRUE(h->etag.ends_with("-3")) << "three 5 MiB part copies: " << h->etag;
    EXPECT_EQ(h->sha256, put.sha256);
    auto got = run(io_, s3->get_to_file("copy/dst.mp4", dir_.path() / "dst.bin"));
    EXPECT_EQ(got.sha256, put.sha256);
    EXPECT_TRUE(read_file(dir_.path() / "dst.bin") == data);
    EXPECT_TRUE(run(io_, s3->list_incomplete("copy/")).empty());
    // A missing source fails cleanly and leaves nothing behind.
    EXPECT_THROW(run(io_, s3->copy("copy/none.mp4", "copy/x.mp4")), error);
    EXPECT_FALSE(run(io_, s3->head("copy/x.mp4")));
}

namespace {
// Wraps the real S3 sink and fails one part permanently (after checking the upload exists).
class failing_sink : public part_sink {
public:
    failing_sink(provider& p, std::unique_ptr<part_sink> inner) : provider_(p), inner_(std::move(inner)) {}
    net::awaitable<void> begin(const std::string& key, const put_options& o) override { return inner_->begin(key, o); }
    net::awaitable<uploaded_part> upload_part(std::uint32_t n, const part_body& b, const std::string& sum) override {
        if (n == 3) {
            uploads_seen = (co_await provider_.list_incomplete("fail/")).size();
            throw error(errc::permanent, "injected: part 3 refused");
        }
        co_return co_await inner_->upload_part(n, b, sum);
    }
    net::awaitable<std::string> complete(const std::vector<uploaded_part>& p, const std::string& sha) override {
        return inner_->complete(p, sha);
    }
    net::awaitable<void> abort() override {
        aborted = true;
        return inner_->abort();
    }
    checksum_kind checksum() const override { return inner_->checksum(); }
    bool accepts_file_parts() const override { return inner_->accepts_file_parts(); }
    std::size_t uploads_seen = 0;
    bool aborted = false;

private:
    provider& provider_;
    std::unique_ptr<part_sink> inner_;
};
}  // namespace

TEST_F(s3_moto, a_permanently_failed_part_aborts_the_upload_and_leaves_nothing) {
    auto s3 = s3::make_provider(io_.get_executor(), config());
    write_file(dir_.path() / "f.bin", random_bytes(30ull << 20, 4));
    failing_sink sink(*s3, s3::make_part_sink(*s3, "fail/f.bin"));
    put_options o;
    o.part_size = 5ull << 20;
    o.parts_in_flight = 2;
    try {
        run(io_, upload_file_in_parts(sink, "fail/f.bin", dir_.path() / "f.bin", o));
        FAIL() << "expected the upload to fail";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::permanent) << e.what();
    }
    EXPECT_EQ(sink.uploads_seen, 1u);  // the upload existed while parts were in flight
    EXPECT_TRUE(sink.aborted);
    EXPECT_TRUE(run(io_, s3->list_incomplete("fail/")).empty());
    EXPECT_FALSE(run(io_, s3->head("fail/f.bin")));
}

TEST_F(s3_moto, presigned_get_and_put_work_with_curl) {
    auto s3 = s3::make_provider(io_.get_executor(), config());
    const std::string data = random_bytes(200'000, 5);
    run(io_, s3->put_bytes("presign/get me.bin", data, {}));
    const std::string get_url = s3->presign(http_method::get, "presign/get me.bin", std::chrono::seconds(600));
    EXPECT_NE(get_url.find("X-Amz-Expires=600"), std::string::npos);
    auto r = wharf::test::run({"curl", "-sS", "-f", "-o", (dir_.path() / "curl.bin").string(), get_url});
    ASSERT_EQ(r.status, 0) << r.output << " " << get_url;
    EXPECT_TRUE(read_file(dir_.path() / "curl.bin") == data) << get_url;

    const std::string up = random_bytes(100'000, 6);
    write_file(dir_.path() / "up.bin", up);
    const std::string put_url = s3->presign(http_method::put, "presign/put.bin", std::chrono::seconds(600));
    r = wharf::test::run({"curl", "-sS", "-f", "-X", "PUT", "-T", (dir_.path() / "up.bin").string(), put_url});
    ASSERT_EQ(r.status, 0) << r.output << " " << put_url;
    run(io_, s3->get_to_file("presign/put.bin", dir_.path() / "put.back"));
    EXPECT_TRUE(read_file(dir_.path() / "put.back") == up);
}

TEST(s3_moto_iam, a_wrong_secret_is_rejected_and_the_right_one_accepted) {
    wharf::test::moto_server moto;
    moto.create_bucket("iam");
    const auto key = moto.enable_iam();
    net::io_context io;
    s3::config c;
    c.profile = s3::profile::minio;
    c.endpoint = moto.endpoint();
    c.bucket = "iam";
    c.credentials = {key.id, key.secret, ""};
    c.retry.max_attempts = 1;
    auto good = s3::make_provider(io.get_executor(), c);
    auto put = run(io, good->put_bytes("ok.bin", "payload", {}));
    EXPECT_EQ(put.size, 7u);
    EXPECT_TRUE(run(io, good->head("ok.bin")));

    c.credentials.secret_key = key.secret + "x";
    auto bad = s3::make_provider(io.get_executor(), c);
    try {
        run(io, bad->put_bytes("bad.bin", "payload", {}));
        FAIL() << "a wrong secret was accepted";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::access_denied) << e.what();
        EXPECT_NE(std::string(e.what()).find("SignatureDoesNotMatch"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find(c.credentials.secret_key), std::string::npos);  // never in messages
    }
    EXPECT_FALSE(run(io, good->head("bad.bin")));
}
