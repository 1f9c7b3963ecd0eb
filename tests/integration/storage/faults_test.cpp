// Uploads and downloads through the fault-injecting proxy, against a real Azurite and a real moto
// (S3): 503 SlowDown, 500, "200 OK with an <Error> body", connection resets mid-body, stalls past
// the deadline and truncated bodies. Each upload either completes with the right bytes and
// SHA-256, or fails cleanly with no uncommitted blocks / no incomplete multipart upload left.
#include "wharf/storage/azure.hpp"
#include "wharf/storage/s3/provider.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/azurite_server.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/io_thread.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/process.hpp"
#include "wharf/test/storage_data.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

namespace fs = std::filesystem;
using namespace wharf::storage;
using namespace std::chrono_literals;
using wharf::test::azurite_server;
using wharf::test::fault;
using wharf::test::fault_proxy;
using wharf::test::random_bytes;
using wharf::test::request_info;
using wharf::test::slurp;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

bool is_put_block(const request_info& r) { return r.method == "PUT" && r.target.find("comp=block&") != std::string::npos; }
bool is_get_blob(const request_info& r) { return r.method == "GET" && r.target.find('?') == std::string::npos; }

struct faults_fixture : ::testing::Test {
    wharf::test::io_thread io;
    azurite_server server;
    fault_proxy proxy{server.port()};
    wharf::test::temp_dir dir{"wharf-faults"};
    std::unique_ptr<provider> p;
    std::string content = random_bytes(10 * MiB + 123, 7);
    fs::path src;

    faults_fixture() {
        azure::config c;
        c.account = azurite_server::account;
        c.key = azurite_server::key;
        c.container = "faults";
        c.endpoint = server.endpoint(proxy.port());
        c.single_put_max = 1 * MiB;
        c.timeout = 1500ms;  // short, so a stall is a timeout
        c.engine.retry = wharf::backoff_policy{10ms, 100ms, 4};
        c.retry = c.engine.retry;
        p = azure::make_provider(io.executor(), c);
        io.run(azure::create_container(*p));
        src = dir.path() / "src.bin";
        std::ofstream(src, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    }
    ~faults_fixture() override { p.reset(); }

    put_result upload(const std::string& key) {
        put_options o;
        o.part_size = 2 * MiB;  // 6 blocks
        o.parts_in_flight = 3;
        return io.run(p->put_file(key, src, o));
    }
    // late_duplicates: uncommitted blocks that may be left by a request the network delivered
    // after the client had given up on it (a stalled path that recovers). The blob is whole and
    // correct regardless; Azure drops uncommitted blocks after a week.
    void expect_stored_intact(const std::string& key, const put_result& r, std::size_t late_duplicates = 0) {
        EXPECT_EQ(r.sha256, sha256_hex(content));
        proxy.clear();
        const auto dest = dir.path() / "check.bin";
        io.run(p->get_to_file(key, dest, {}));  // verifies the stored SHA-256 too
        EXPECT_TRUE(slurp(dest) == content);
        const auto blocks = server.blocks("faults", key);
        EXPECT_LE(blocks.uncommitted, late_duplicates);
        EXPECT_EQ(blocks.committed, 6u);
    }
};

}  // namespace

TEST_F(faults_fixture, slow_down_and_internal_errors_on_blocks_are_retried) {
    proxy.fail_requests({2, 4}, fault::slow_down(), is_put_block);
    const auto r1 = upload("a.bin");
    EXPECT_EQ(proxy.faults_injected(), 2u);
    expect_stored_intact("a.bin", r1);

    proxy.fail_requests({1, 6}, fault::internal_error(), is_put_block);
    expect_stored_intact("b.bin", upload("b.bin"));
}

TEST_F(faults_fixture, a_connection_reset_mid_body_is_retried) {
    proxy.fail_requests({3}, fault::reset(), is_put_block);
    const auto r = upload("reset.bin");
    EXPECT_EQ(proxy.faults_injected(), 1u);
    expect_stored_intact("reset.bin", r);
}

TEST_F(faults_fixture, a_stall_past_the_deadline_is_a_timeout_and_retried) {
    proxy.fail_requests({2}, fault::stall_for(3s), is_put_block);
    const auto r = upload("stall.bin");
    EXPECT_EQ(proxy.faults_injected(), 1u);
    // The proxy forwards the stalled request once the stall ends, whether or not the client still
    // waits: on a slow machine its block can land after the commit.
    expect_stored_intact("stall.bin", r, 1);
}

TEST_F(faults_fixture, the_block_list_commit_is_retried_after_a_503) {
    proxy.fail_requests({1}, fault::slow_down(), [](const request_info& r) { return r.target.find("comp=blocklist") != std::string::npos; });
    const auto r = upload("commit.bin");
    EXPECT_EQ(proxy.faults_injected(), 1u);
    expect_stored_intact("commit.bin", r);
}

TEST_F(faults_fixture, a_truncated_download_is_retried_and_never_lands_half_written) {
    proxy.clear();
    const auto r = io.run(p->put_bytes("dl.bin", content, {}));
    proxy.fail_requests({1}, fault::truncate(), is_get_blob);
    const auto dest = dir.path() / "dl.bin";
    const auto info = io.run(p->get_to_file("dl.bin", dest, {}));
    EXPECT_EQ(proxy.faults_injected(), 1u);
    EXPECT_EQ(info.sha256, r.sha256);
    EXPECT_TRUE(slurp(dest) == content);
}

TEST_F(faults_fixture, persistent_failures_abort_cleanly_with_no_orphaned_blocks) {
    // Block 1 gets through, then every later block fails: the upload must give up, abort, and
    // leave neither a blob nor uncommitted blocks.
    proxy.fail_requests({2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30},
                        fault::internal_error(), is_put_block);
    try {
        upload("doomed.bin");
        FAIL() << "the upload should have failed";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::transient) << e.what();
    }
    proxy.clear();
    EXPECT_FALSE(server.blocks("faults", "doomed.bin").found);
    EXPECT_TRUE(io.run(p->list_incomplete("")).empty());
    EXPECT_FALSE(io.run(p->head("doomed.bin")));
}

TEST_F(faults_fixture, random_faults_on_a_quarter_of_blocks_still_upload_the_right_bytes) {
    // Seed 15 draws faults at draws 2, 6 and 8 only among the first 24 Put Block requests, so no
    // block can exhaust its 4 attempts: deterministic, yet the faults land where chance puts them.
    proxy.fail_randomly(0.25, fault::slow_down(), 15, is_put_block);
    const auto r = upload("random.bin");
    EXPECT_EQ(proxy.faults_injected(), 3u);  // draws 2, 6 and 8 of 9 (6 blocks + 3 retries)
    expect_stored_intact("random.bin", r);
}

namespace {

bool is_upload_part(const request_info& r) {
    return r.method == "PUT" && r.target.find("partNumber=") != std::string::npos;
}
bool is_complete(const request_info& r) {
    return r.method == "POST" && r.target.find("uploadId=") != std::string::npos;
}

struct s3_faults : ::testing::Test {
    static void SetUpTestSuite() {
        moto_ = new wharf::test::moto_server();
        moto_->create_bucket("faults");
    }
    static void TearDownTestSuite() {
        delete moto_;
        moto_ = nullptr;
    }
    static inline wharf::test::moto_server* moto_ = nullptr;

    wharf::test::io_thread io;
    fault_proxy proxy{moto_->port()};
    wharf::test::temp_dir dir{"wharf-s3-faults"};
    std::unique_ptr<provider> p;
    std::string content = random_bytes(11 * MiB + 5, 11);
    fs::path src;

    s3_faults() {
        s3::config c;
        c.name = "moto";
        c.profile = s3::profile::minio;
        c.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
        c.bucket = "faults";
        c.credentials = {"testing", "testing", ""};
        c.multipart_threshold = 6 * MiB;
        c.timeout = 2000ms;  // short, so a stall is a timeout
        c.engine.retry = wharf::backoff_policy{10ms, 100ms, 4};
        c.retry = c.engine.retry;
        p = s3::make_provider(io.executor(), c);
        src = dir.path() / "src.bin";
        std::ofstream(src, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    }
    ~s3_faults() override { p.reset(); }

    put_result upload(const std::string& key) {
        put_options o;
        o.part_size = 5 * MiB;  // 3 parts
        o.parts_in_flight = 3;
        return io.run(p->put_file(key, src, o));
    }
    void expect_stored_intact(const std::string& key, const put_result& r) {
        EXPECT_EQ(r.sha256, sha256_hex(content));
        EXPECT_EQ(r.parts, 3u);
        proxy.clear();
        const auto dest = dir.path() / "check.bin";
        io.run(p->get_to_file(key, dest, {}));
        EXPECT_TRUE(slurp(dest) == content);
        const auto h = io.run(p->head(key));
        ASSERT_TRUE(h);
        EXPECT_EQ(h->size, content.size());
        // S3 metadata is fixed when the multipart upload is created, before the SHA-256 is known:
        // the object record (catalog) carries it. When the object has it, it must be right.
        if (h->sha256) {
            EXPECT_EQ(h->sha256, r.sha256);
        }
        EXPECT_TRUE(io.run(p->list_incomplete(key)).empty());
    }
};

}  // namespace

TEST_F(s3_faults, slow_down_reset_and_stall_on_parts_are_retried) {
    proxy.fail_requests({1}, fault::slow_down(), is_upload_part);
    expect_stored_intact("s3/slow.bin", upload("s3/slow.bin"));
    proxy.fail_requests({2}, fault::reset(), is_upload_part);
    expect_stored_intact("s3/reset.bin", upload("s3/reset.bin"));
    proxy.fail_requests({3}, fault::stall_for(4s), is_upload_part);
    expect_stored_intact("s3/stall.bin", upload("s3/stall.bin"));
}

// moto echoes the x-amz-checksum-crc32 of parts and single PUTs (it is named by
// x-amz-sdk-checksum-algorithm), so the provider takes the fast path: each part and PUT once, no
// Content-MD5 re-send (which a server that does not echo gets: see tests/integration/rgw).
TEST_F(s3_faults, a_server_that_echoes_the_crc_gets_each_part_and_put_once) {
    std::atomic<int> parts{0}, puts{0}, others{0};
    proxy.set_rule([&](const request_info& r) {
        if (is_upload_part(r)) ++parts;
        else if (r.method == "PUT" && r.target.find('?') == std::string::npos) ++puts;
        else ++others;
        return fault{};
    });
    for (int i = 0; i < 2; ++i) {
        parts = 0;
        others = 0;
        const auto r = upload("s3/fast-" + std::to_string(i) + ".bin");
        EXPECT_EQ(parts.load(), 3) << "a part was sent again: the echo was not seen";
        EXPECT_EQ(others.load(), 2) << "create and complete only (no HEAD: the ETag came with complete)";
        expect_stored_intact("s3/fast-" + std::to_string(i) + ".bin", r);
        proxy.set_rule([&](const request_info& r) {
            if (is_upload_part(r)) ++parts;
            else if (r.method == "PUT" && r.target.find('?') == std::string::npos) ++puts;
            else ++others;
            return fault{};
        });
    }
    const std::string small = random_bytes(MiB + 3, 12);
    const auto small_src = dir.path() / "small.bin";
    wharf::test::spill(small_src, small);
    const auto single = io.run(p->put_file("s3/fast-single.bin", small_src, {}));
    const auto bytes = io.run(p->put_bytes("s3/fast-bytes.bin", small, {}));
    EXPECT_EQ(puts.load(), 2) << "each single PUT once";
    EXPECT_EQ(single.sha256, sha256_hex(small));
    EXPECT_FALSE(bytes.etag.empty());
}

TEST_F(s3_faults, a_200_with_an_error_body_on_complete_is_retried) {
    fault f;
    f.what = fault::kind::status;
    f.status = 200;
    f.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
             "<Message>We encountered an internal error. Please try again.</Message></Error>";
    proxy.fail_requests({1}, f, is_complete);
    const auto r = upload("s3/complete.bin");
    EXPECT_EQ(proxy.faults_injected(), 1u);
    expect_stored_intact("s3/complete.bin", r);
}

TEST_F(s3_faults, persistent_failures_abort_with_no_incomplete_upload_left) {
    proxy.fail_randomly(1.0, fault::internal_error(), 1, is_upload_part);
    EXPECT_THROW(upload("s3/doomed.bin"), error);
    proxy.clear();
    EXPECT_TRUE(io.run(p->list_incomplete("s3/")).empty()) << "ListMultipartUploads must be empty after the abort";
    EXPECT_FALSE(io.run(p->head("s3/doomed.bin")));
}
