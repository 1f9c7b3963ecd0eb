// Files in and out of the HTTP providers -- S3 against a real moto, Azure Blob against a real
// Azurite -- through the fault-injecting proxy: a download lands whole with the right bytes and
// SHA-256 or not at all (no partial destination, no temp file left), a retried attempt starts
// over, a single PUT from a file is read again from the start when retried, and none of that file
// work runs on the io_context's thread (file_syscall_watch.hpp records the file calls made there).
#include "file_syscall_watch.hpp"
#include "wharf/storage/azure.hpp"
#include "wharf/storage/s3/provider.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/azurite_server.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/io_thread.hpp"
#include "wharf/test/moto_server.hpp"
#include "wharf/test/process.hpp"
#include "wharf/test/storage_data.hpp"

#include "wharf/storage/checksum.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>


namespace fs = std::filesystem;
namespace net = boost::asio;
namespace file_syscalls = wharf::test::file_syscalls;
using namespace wharf::storage;
using namespace std::chrono_literals;
using wharf::test::fault;
using wharf::test::fault_proxy;
using wharf::test::code_of;
using wharf::test::random_bytes;
using wharf::test::request_info;
using wharf::test::slurp;
using wharf::test::spill;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

// Temp files of downloads (".wharf-tmp-...") left in a folder.
std::vector<std::string> leftovers(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().starts_with(".wharf-tmp-")) out.push_back(e.path().filename().string());
    return out;
}

bool is_object_get(const request_info& r) { return r.method == "GET" && r.target.find('?') == std::string::npos; }
bool is_object_put(const request_info& r) { return r.method == "PUT" && r.target.find('?') == std::string::npos; }

net::awaitable<std::thread::id> current_thread() { co_return std::this_thread::get_id(); }

// Makes a file call on whatever thread runs it.
net::awaitable<void> fsync_here(fs::path path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ::fsync(fd);
    ::close(fd);
    co_return;
}

enum class backend { azure, s3 };
void PrintTo(backend b, std::ostream* os) { *os << (b == backend::azure ? "azure" : "s3"); }

class file_io : public ::testing::TestWithParam<backend> {
public:
    static void SetUpTestSuite() {
        azurite_ = new wharf::test::azurite_server();
        moto_ = new wharf::test::moto_server();
        moto_->create_bucket("files");
    }
    static void TearDownTestSuite() {
        delete moto_;
        delete azurite_;
        moto_ = nullptr;
        azurite_ = nullptr;
    }

protected:
    file_io() : proxy(GetParam() == backend::azure ? azurite_->port() : moto_->port()) {
        p = make();
        if (GetParam() == backend::azure) io.run(azure::create_container(*p));
    }
    ~file_io() override { p.reset(); }

    std::unique_ptr<provider> make(bool sign_payload = true) {
        const wharf::backoff_policy retry{10ms, 100ms, 4};
        if (GetParam() == backend::azure) {
            azure::config c;
            c.account = wharf::test::azurite_server::account;
            c.key = wharf::test::azurite_server::key;
            c.container = "files";
            c.endpoint = azurite_->endpoint(proxy.port());
            c.single_put_max = 8 * MiB;
            c.timeout = 2000ms;
            c.retry = c.engine.retry = retry;
            return azure::make_provider(io.executor(), c);
        }
        s3::config c;
        c.name = "moto";
        c.profile = s3::profile::minio;
        c.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
        c.bucket = "files";
        c.credentials = {"testing", "testing", ""};
        c.multipart_threshold = 8 * MiB;
        c.sign_payload = sign_payload;
        c.timeout = 2000ms;
        c.retry = c.engine.retry = retry;
        return s3::make_provider(io.executor(), c);
    }

    static inline wharf::test::azurite_server* azurite_ = nullptr;
    static inline wharf::test::moto_server* moto_ = nullptr;

    wharf::test::io_thread io;
    fault_proxy proxy;
    wharf::test::temp_dir dir{"wharf-file-io"};
    std::unique_ptr<provider> p;
};

}  // namespace

TEST_P(file_io, a_large_download_arrives_whole_with_its_sha256_and_leaves_no_temp_file) {
    const std::string content = random_bytes(24 * MiB + 7, 21);
    put_options o;
    o.sha256 = sha256_hex(content);  // stored with the object, so the download verifies it
    io.run(p->put_bytes("big/clip.bin", content, o));

    const auto dest = dir.path() / "clip.bin";
    const auto info = io.run(p->get_to_file("big/clip.bin", dest, {}));
    EXPECT_EQ(info.size, content.size());
    EXPECT_EQ(info.sha256, o.sha256);
    EXPECT_TRUE(slurp(dest) == content);
    EXPECT_TRUE(leftovers(dir.path()).empty());

    // A range across chunk boundaries.
    const auto part = dir.path() / "part.bin";
    const auto ranged = io.run(p->get_to_file("big/clip.bin", part, byte_range{MiB - 3, 3 * MiB + 4}));
    EXPECT_EQ(ranged.size, content.size()) << "the object's size, not the range's";
    EXPECT_TRUE(slurp(part) == content.substr(MiB - 3, 2 * MiB + 8));
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST_P(file_io, a_download_cut_short_on_every_attempt_leaves_no_partial_destination) {
    const std::string content = random_bytes(6 * MiB + 1, 22);
    io.run(p->put_bytes("cut.bin", content, {}));
    const auto existing = dir.path() / "existing.bin";
    spill(existing, "the previous version");
    const auto fresh = dir.path() / "fresh.bin";

    proxy.fail_randomly(1.0, fault::truncate(), 1, is_object_get);
    EXPECT_EQ(code_of([&] { io.run(p->get_to_file("cut.bin", existing, {})); }), errc::transient);
    EXPECT_GE(proxy.faults_injected(), 2u) << "retried before giving up";
    EXPECT_EQ(slurp(existing), "the previous version") << "a failed download never replaces the destination";
    EXPECT_EQ(code_of([&] { io.run(p->get_to_file("cut.bin", fresh, {})); }), errc::transient);
    EXPECT_FALSE(fs::exists(fresh));
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST_P(file_io, a_download_cut_short_once_is_retried_from_the_start) {
    const std::string content = random_bytes(6 * MiB + 1, 23);
    const auto put = io.run(p->put_bytes("once.bin", content, {}));
    proxy.fail_requests({1}, fault::truncate(), is_object_get);
    const auto dest = dir.path() / "once.bin";
    const auto info = io.run(p->get_to_file("once.bin", dest, {}));
    EXPECT_EQ(proxy.faults_injected(), 1u);
    EXPECT_EQ(fs::file_size(dest), content.size()) << "the second attempt overwrote the first one's half";
    EXPECT_TRUE(slurp(dest) == content);
    EXPECT_EQ(info.sha256, put.sha256);
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST_P(file_io, a_download_that_does_not_match_its_stored_sha256_is_refused_and_leaves_nothing) {
    // Stored with the digest of other bytes (payload signing off, or S3 would refuse the PUT).
    const auto writer = make(false);
    put_options o;
    o.sha256 = sha256_hex(std::string_view("other bytes"));
    io.run(writer->put_bytes("corrupt.bin", random_bytes(2 * MiB + 9, 24), o));
    const auto dest = dir.path() / "corrupt.bin";
    EXPECT_EQ(code_of([&] { io.run(p->get_to_file("corrupt.bin", dest, {})); }), errc::integrity);
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

// GCS states every object's CRC32C in x-goog-hash (composite objects too, which have no MD5):
// the download is checked against it. moto does not send the header; the proxy adds it.
TEST_P(file_io, a_download_is_checked_against_the_crc32c_a_provider_states) {
    if (GetParam() != backend::s3) GTEST_SKIP() << "x-goog-hash is GCS's, through the S3 provider";
    const std::string content = random_bytes(3 * MiB + 5, 25);
    io.run(p->put_bytes("goog.bin", content, {}));
    const std::string right = crc_base64(crc32c(0, std::span<const char>(content.data(), content.size())));
    const auto dest = dir.path() / "goog.bin";

    proxy.fail_randomly(1.0, fault::add_response_header("x-goog-hash", "crc32c=" + right + ",md5=AAAAAAAAAAAAAAAAAAAAAA=="),
                        1, is_object_get);
    io.run(p->get_to_file("goog.bin", dest, {}));
    EXPECT_TRUE(slurp(dest) == content);

    proxy.fail_randomly(1.0, fault::add_response_header("x-goog-hash", "md5=AAAAAAAAAAAAAAAAAAAAAA==, crc32c=AAAAAA=="), 1,
                        is_object_get);
    const auto other = dir.path() / "goog2.bin";
    EXPECT_EQ(code_of([&] { io.run(p->get_to_file("goog.bin", other, {})); }), errc::integrity);
    EXPECT_FALSE(fs::exists(other));
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST_P(file_io, a_single_put_from_a_file_is_sent_again_from_the_start_after_a_reset) {
    const std::string content = random_bytes(5 * MiB + 3, 25);
    const auto src = dir.path() / "src.bin";
    spill(src, content);
    proxy.fail_requests({1}, fault::reset(), is_object_put);
    const auto r = io.run(p->put_file("single.bin", src, {}));
    EXPECT_EQ(proxy.faults_injected(), 1u);
    EXPECT_EQ(r.parts, 1u) << "below the threshold: one PUT";
    EXPECT_EQ(r.size, content.size());
    EXPECT_EQ(r.sha256, sha256_hex(content));
    const auto dest = dir.path() / "back.bin";
    io.run(p->get_to_file("single.bin", dest, {}));
    EXPECT_TRUE(slurp(dest) == content);
    EXPECT_EQ(code_of([&] { io.run(p->put_file("absent.bin", dir.path() / "no such file", {})); }), errc::not_found);
}

TEST_P(file_io, no_file_work_runs_on_the_io_thread) {
    const std::string content = random_bytes(3 * MiB + 11, 26);
    const auto src = dir.path() / "src.bin";
    spill(src, content);
    file_syscalls::watch(io.run(current_thread()), dir.path());

    // The watch sees a file call made on the io thread (so an empty report below means something).
    io.run(fsync_here(src));
    const auto self_check = file_syscalls::take();
    ASSERT_EQ(self_check.on_io_thread.size(), 2u) << "open + fsync";

    io.run(p->put_file("watched.bin", src, {}));  // open, stat, hash, single PUT from the file
    io.run(p->get_to_file("watched.bin", dir.path() / "whole.bin", {}));
    io.run(p->get_to_file("watched.bin", dir.path() / "range.bin", byte_range{100, 2 * MiB}));
    proxy.fail_randomly(1.0, fault::truncate(), 2, is_object_get);  // and a failed one, cleaned up
    EXPECT_THROW(io.run(p->get_to_file("watched.bin", dir.path() / "failed.bin", {})), error);
    proxy.clear();
    const auto seen = file_syscalls::take();

    std::string calls;
    for (const auto& c : seen.on_io_thread) calls += "\n  " + c;
    EXPECT_TRUE(seen.on_io_thread.empty()) << "file calls on the io thread:" << calls;
    EXPECT_GT(seen.elsewhere, 10u) << "the file work happened, on the blocking pool";
    EXPECT_TRUE(slurp(dir.path() / "whole.bin") == content);
    EXPECT_TRUE(slurp(dir.path() / "range.bin") == content.substr(100, 2 * MiB - 100 + 1));
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

INSTANTIATE_TEST_SUITE_P(providers, file_io, ::testing::Values(backend::azure, backend::s3),
                         [](const auto& info) { return info.param == backend::azure ? "azure" : "s3"; });
