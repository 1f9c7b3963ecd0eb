// The S3 provider against a real Ceph RADOS Gateway (Debian 12's radosgw 16.2), with one byte of
// a request body flipped on its way by the fault proxy. RGW ignores x-amz-checksum-* headers (it
// neither checks nor echoes them), checks Content-MD5 and signed payload hashes, and answers
// CompleteMultipartUpload with an empty ETag. Whatever the settings, an upload either stores the
// source's bytes or fails: it never reports success for other bytes.
#include "rgw_env.hpp"

#include "wharf/storage/s3/provider.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/io_thread.hpp"
#include "wharf/test/process.hpp"
#include "wharf/test/storage_data.hpp"

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using namespace wharf::storage;
using namespace std::chrono_literals;
using wharf::test::fault;
using wharf::test::fault_proxy;
using wharf::test::random_bytes;
using wharf::test::request_info;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

// One cluster per test binary: its bring-up takes ~15-20 s.
wharf::test::rgw_server* rgw = nullptr;

class rgw_environment : public ::testing::Environment {
public:
    void SetUp() override { rgw = new wharf::test::rgw_server("wharf"); }
    void TearDown() override {
        delete rgw;
        rgw = nullptr;
    }
};
const auto* const registered = ::testing::AddGlobalTestEnvironment(new rgw_environment);

}  // namespace

wharf::test::rgw_server& wharf::test::shared_rgw() {
    return *rgw;
}

namespace {

bool is_upload_part(const request_info& r) {
    return r.method == "PUT" && r.target.find("partNumber=") != std::string::npos;
}
bool is_part(const request_info& r, int n) {
    return is_upload_part(r) && r.target.find("partNumber=" + std::to_string(n) + "&") != std::string::npos;
}
bool is_object_put(const request_info& r) {
    return r.method == "PUT" && r.target.find('?') == std::string::npos;
}

struct rgw_fixture : ::testing::Test {
    wharf::test::io_thread io;
    fault_proxy proxy{rgw->port()};
    wharf::test::temp_dir dir{"wharf-rgw-test"};
    // 3 parts of 5 MiB and a last one of 1 MiB + 7 bytes.
    std::string content = random_bytes(16 * MiB + 7, 8);
    fs::path src = dir.path() / "src.bin";

    rgw_fixture() { wharf::test::spill(src, content); }

    // The profile every S3-compatible server gets by default: generic, path-style, CRC32 parts,
    // UNSIGNED-PAYLOAD parts. Through the proxy unless `direct`.
    s3::config config(bool direct = false) const {
        s3::config c;
        c.name = "rgw";
        c.profile = s3::profile::generic;
        c.endpoint = "http://127.0.0.1:" + std::to_string(direct ? rgw->port() : proxy.port());
        c.path_style = true;
        c.bucket = rgw->bucket();
        c.credentials = {rgw->access_key(), rgw->secret_key(), ""};
        c.multipart_threshold = 8 * MiB;
        c.part_size = 5 * MiB;
        c.engine.retry = wharf::backoff_policy{10ms, 100ms, 4};
        c.retry = c.engine.retry;
        return c;
    }

    // The SHA-256 of what RGW stores under `key`, fetched straight from RGW (no proxy), or
    // "get failed: ..." when the GET refuses it (x-amz-meta-sha256 disagreeing with the bytes).
    std::string stored_sha256(const std::string& key) {
        auto direct = s3::make_provider(io.executor(), config(true));
        const auto dest = dir.path() / "back.bin";
        try {
            io.run(direct->get_to_file(key, dest, {}));
        } catch (const std::exception& e) {
            return std::string("get failed: ") + e.what();
        }
        return sha256_file_hex(dest);
    }
    std::optional<object_info> head(const std::string& key) {
        auto direct = s3::make_provider(io.executor(), config(true));
        return io.run(direct->head(key));
    }

    // Uploads `src` as `key` through `p`: the result, or the error's text.
    std::variant<put_result, std::string> upload(provider& p, const std::string& key, std::size_t in_flight = 2) {
        put_options o;
        o.parts_in_flight = in_flight;
        try {
            return io.run(p.put_file(key, src, o));
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
    }
};

// (a) The default settings: the CRC32 RGW ignores must not stand for a check. The flipped part is
// re-sent with a Content-MD5 RGW does check (or caught by it), and the object is the source.
TEST_F(rgw_fixture, a_flipped_byte_in_a_crc32_part_ends_with_the_right_bytes_or_a_failure) {
    auto p = s3::make_provider(io.executor(), config());
    proxy.fail_requests({1}, fault::flip_byte(12345), [](const request_info& r) { return is_part(r, 2); });
    const auto r = upload(*p, "flip/crc32.bin");
    EXPECT_EQ(proxy.faults_injected(), 1u);
    ASSERT_TRUE(std::holds_alternative<put_result>(r)) << "an honest failure is allowed, but here the fallback should "
                                                          "have saved the upload: "
                                                       << std::get<std::string>(r);
    const auto& put = std::get<put_result>(r);
    EXPECT_EQ(put.sha256, sha256_hex(content));
    EXPECT_EQ(put.parts, 4u);
    EXPECT_EQ(stored_sha256("flip/crc32.bin"), sha256_hex(content)) << "success was reported for other bytes";
    // (d) RGW's CompleteMultipartUpload has an empty <ETag>: the recorded one is HEAD's.
    EXPECT_FALSE(put.etag.empty());
    const auto h = head("flip/crc32.bin");
    ASSERT_TRUE(h);
    EXPECT_EQ(put.etag, h->etag);
    EXPECT_TRUE(put.etag.ends_with("-4")) << put.etag;
}

// Once the provider has seen RGW not echo a CRC, later uploads send Content-MD5 straight away: one
// request per part, none re-sent, and a flip is caught by RGW (BadDigest) and the part re-sent.
TEST_F(rgw_fixture, the_provider_remembers_that_the_server_ignores_crc_headers) {
    auto p = s3::make_provider(io.executor(), config());
    const auto first = upload(*p, "learn/first.bin", 1);
    ASSERT_TRUE(std::holds_alternative<put_result>(first)) << std::get<std::string>(first);
    std::atomic<int> part_requests{0};
    proxy.set_rule([&](const request_info& r) {
        if (is_upload_part(r)) ++part_requests;
        return fault{};
    });
    const auto second = upload(*p, "learn/second.bin");
    ASSERT_TRUE(std::holds_alternative<put_result>(second)) << std::get<std::string>(second);
    EXPECT_EQ(part_requests.load(), 4) << "each part once, with Content-MD5";
    EXPECT_EQ(stored_sha256("learn/second.bin"), sha256_hex(content));

    part_requests = 0;
    proxy.set_rule([&, flipped = false](const request_info& r) mutable {
        if (!is_upload_part(r)) return fault{};
        ++part_requests;
        if (flipped || !is_part(r, 3)) return fault{};
        flipped = true;
        return fault::flip_byte(777);
    });
    const auto third = upload(*p, "learn/third.bin");
    ASSERT_TRUE(std::holds_alternative<put_result>(third)) << std::get<std::string>(third);
    EXPECT_EQ(part_requests.load(), 5) << "part 3 refused once (BadDigest) and sent again";
    EXPECT_EQ(stored_sha256("learn/third.bin"), sha256_hex(content));
}

// (b) part_checksum md5: RGW catches the flip (400 BadDigest); the part still reads the same, so it
// is sent again within the part retry bound and the upload succeeds with the right bytes.
TEST_F(rgw_fixture, a_part_refused_with_bad_digest_is_resent_and_the_upload_succeeds) {
    auto c = config();
    c.part_checksum = checksum_kind::md5;
    auto p = s3::make_provider(io.executor(), c);
    std::atomic<int> part2{0};
    std::atomic<bool> md5_signed{false};
    proxy.set_rule([&](const request_info& r) {
        if (!is_part(r, 2)) return fault{};
        // Content-MD5 must be among the signed headers, or a man in the middle could change it too.
        const auto signed_at = r.head.find("SignedHeaders=");
        if (r.head.find("\r\nContent-MD5: ") != std::string::npos && signed_at != std::string::npos &&
            r.head.substr(signed_at, r.head.find(',', signed_at) - signed_at).find("content-md5") != std::string::npos)
            md5_signed = true;
        return ++part2 == 1 ? fault::flip_byte(4 * MiB) : fault{};
    });
    const auto r = upload(*p, "flip/md5.bin");
    ASSERT_TRUE(std::holds_alternative<put_result>(r)) << std::get<std::string>(r);
    EXPECT_EQ(part2.load(), 2) << "part 2 refused once, then sent again";
    EXPECT_TRUE(md5_signed.load()) << "no signed Content-MD5 on part 2";
    EXPECT_EQ(stored_sha256("flip/md5.bin"), sha256_hex(content));
    const auto h = head("flip/md5.bin");
    ASSERT_TRUE(h);
    EXPECT_EQ(std::get<put_result>(r).etag, h->etag);
}

// A part damaged on every attempt is not retried for ever: the part retry bound ends it, as an
// integrity failure, and the upload is aborted.
TEST_F(rgw_fixture, a_part_refused_on_every_attempt_fails_the_upload_within_the_bound) {
    auto c = config();
    c.part_checksum = checksum_kind::md5;
    auto p = s3::make_provider(io.executor(), c);
    std::atomic<int> part2{0};
    proxy.set_rule([&](const request_info& r) {
        if (!is_part(r, 2)) return fault{};
        ++part2;
        return fault::flip_byte(10);
    });
    const auto r = upload(*p, "flip/always.bin");
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << "an upload whose part never arrived intact succeeded";
    EXPECT_NE(std::get<std::string>(r).find("BadDigest"), std::string::npos) << std::get<std::string>(r);
    EXPECT_EQ(part2.load(), 4) << "max_attempts of the engine's retry policy";
    proxy.clear();
    EXPECT_FALSE(head("flip/always.bin"));
    auto direct = s3::make_provider(io.executor(), config(true));
    EXPECT_TRUE(io.run(direct->list_incomplete("flip/always.bin")).empty());
}

// (c) Single PUTs, with the payload signed (the default: RGW checks the SHA-256) and unsigned (only
// the ETag or a Content-MD5 can tell): never a success for other bytes.
TEST_F(rgw_fixture, a_flipped_byte_in_a_single_put_is_never_a_silent_success) {
    const std::string small = random_bytes(3 * MiB + 1, 9);
    const auto small_src = dir.path() / "small.bin";
    wharf::test::spill(small_src, small);
    for (const bool sign : {true, false}) {
        for (const bool from_file : {true, false}) {
            SCOPED_TRACE(std::string(sign ? "signed" : "unsigned") + (from_file ? " put_file" : " put_bytes"));
            auto c = config();
            c.sign_payload = sign;
            auto p = s3::make_provider(io.executor(), c);
            const std::string key = std::string("single/") + (sign ? "s" : "u") + (from_file ? "f" : "b") + ".bin";
            std::atomic<int> puts{0};
            proxy.set_rule([&](const request_info& r) {
                if (!is_object_put(r)) return fault{};
                return ++puts == 1 ? fault::flip_byte(1000) : fault{};
            });
            std::string failure;
            put_result put;
            try {
                put = from_file ? io.run(p->put_file(key, small_src, {})) : io.run(p->put_bytes(key, small, {}));
            } catch (const std::exception& e) {
                failure = e.what();
            }
            proxy.clear();
            ASSERT_TRUE(failure.empty()) << "an honest failure is allowed, but the re-send should have saved it: "
                                         << failure;
            EXPECT_EQ(puts.load(), 2) << "the damaged PUT, then the one RGW verified";
            EXPECT_EQ(stored_sha256(key), sha256_hex(small)) << "success was reported for other bytes";
            EXPECT_EQ(put.etag, head(key)->etag);
        }
    }
}

}  // namespace
