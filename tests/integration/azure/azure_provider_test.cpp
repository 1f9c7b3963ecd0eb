// The Azure Blob provider against a real Azurite (which verifies SharedKey and SAS signatures):
// Put Block / Put Block List of a 20 MiB file in 4 MiB blocks, SAS read and write with curl, a
// wrong key refused, ranged get, list with markers, copy, delete, and batch delete (Blob Batch,
// which Azurite implements: 256 signed Delete Blob subrequests per request).
#include "wharf/storage/azure.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/core/config.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/azurite_server.hpp"
#include "wharf/test/fault_proxy.hpp"
#include "wharf/test/io_thread.hpp"
#include "wharf/test/process.hpp"
#include "wharf/test/storage_data.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>

namespace fs = std::filesystem;
using namespace wharf::storage;
using wharf::test::azurite_server;
using wharf::test::code_of;
using wharf::test::random_bytes;
using wharf::test::slurp;

namespace {

constexpr std::uint64_t MiB = 1ull << 20;

struct azure_fixture : ::testing::Test {
    wharf::test::io_thread io;
    azurite_server server;
    wharf::test::temp_dir dir{"wharf-azure"};
    std::unique_ptr<provider> p;

    azure::config config(std::string key = azurite_server::key) {
        azure::config c;
        c.name = "azurite";
        c.account = azurite_server::account;
        c.key = std::move(key);
        c.container = "media";
        c.endpoint = server.endpoint();
        c.single_put_max = 1 * MiB;
        c.engine.retry = wharf::backoff_policy{std::chrono::milliseconds(10), std::chrono::milliseconds(100), 4};
        c.retry = c.engine.retry;
        return c;
    }
    azure_fixture() {
        p = azure::make_provider(io.executor(), config());
        io.run(azure::create_container(*p));
    }
    ~azure_fixture() override { p.reset(); }
    fs::path file_with(const std::string& name, const std::string& content) {
        const auto path = dir.path() / name;
        std::ofstream(path, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
        return path;
    }
};

}  // namespace

TEST_F(azure_fixture, a_20_mib_file_goes_up_as_4_mib_blocks_and_a_block_list) {
    const std::string content = random_bytes(20 * MiB, 1);
    const auto src = file_with("big.bin", content);
    put_options o;
    o.part_size = 4 * MiB;
    o.parts_in_flight = 3;
    std::uint64_t progress = 0;
    o.progress = [&](std::uint64_t done, std::uint64_t) { progress = done; };
    const auto r = io.run(p->put_file("videos/big one.bin", src, o));
    EXPECT_EQ(r.parts, 5u);
    EXPECT_EQ(r.size, content.size());
    EXPECT_EQ(r.sha256, sha256_hex(content));
    EXPECT_EQ(progress, content.size());
    EXPECT_FALSE(r.etag.empty());

    const auto blocks = server.blocks("media", "videos/big one.bin");
    EXPECT_EQ(blocks.committed, 5u);
    EXPECT_EQ(blocks.uncommitted, 0u);

    const auto h = io.run(p->head("videos/big one.bin"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, content.size());
    EXPECT_EQ(h->sha256, r.sha256) << "the SHA-256 travels as x-ms-meta-sha256";

    const auto dest = dir.path() / "down.bin";
    const auto info = io.run(p->get_to_file("videos/big one.bin", dest, {}));
    EXPECT_EQ(info.sha256, r.sha256);
    EXPECT_TRUE(slurp(dest) == content);
}

TEST_F(azure_fixture, small_objects_use_put_blob_and_ranged_gets) {
    const auto r = io.run(p->put_bytes("small.txt", "0123456789", {}));
    EXPECT_EQ(r.parts, 1u);
    const auto dest = dir.path() / "part.txt";
    const auto info = io.run(p->get_to_file("small.txt", dest, byte_range{2, 5}));
    EXPECT_EQ(slurp(dest), "2345");
    EXPECT_EQ(info.size, 10u) << "the object's size, from Content-Range";
    EXPECT_EQ(code_of([&] { io.run(p->get_to_file("absent.txt", dest, {})); }), errc::not_found);

    // A small file goes up as one Put Blob streamed from the file.
    const std::string small = random_bytes(100 * 1024, 5);
    const auto up = io.run(p->put_file("small.bin", file_with("small.bin", small), {}));
    EXPECT_EQ(up.parts, 1u);
    EXPECT_EQ(up.sha256, sha256_hex(small));
    io.run(p->get_to_file("small.bin", dest, {}));
    EXPECT_TRUE(slurp(dest) == small);
    EXPECT_EQ(server.blocks("media", "small.bin").uncommitted, 0u);
    EXPECT_FALSE(io.run(p->head("absent.txt")));
}

TEST_F(azure_fixture, a_sas_url_reads_with_curl_and_a_tampered_one_is_refused) {
    const std::string content = random_bytes(300 * 1024, 2);
    io.run(p->put_bytes("shared/clip.bin", content, {}));
    const auto url = p->presign(http_method::get, "shared/clip.bin", std::chrono::seconds(600));
    const auto out = dir.path() / "curl.bin";
    auto r = wharf::test::run({"curl", "-sS", "-f", "-o", out.string(), url});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(slurp(out) == content);

    auto tampered = url;
    const auto sig = tampered.find("sig=");
    ASSERT_NE(sig, std::string::npos);
    tampered[sig + 4] = tampered[sig + 4] == 'A' ? 'B' : 'A';
    r = wharf::test::run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", tampered});
    EXPECT_EQ(r.output, "403");

    // A write SAS: curl uploads, the provider reads it back.
    const auto put_url = p->presign(http_method::put, "shared/up.txt", std::chrono::seconds(600));
    r = wharf::test::run({"curl", "-sS", "-f", "-X", "PUT", "-H", "x-ms-blob-type: BlockBlob", "--data-binary", "uploaded", put_url});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto h = io.run(p->head("shared/up.txt"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, 8u);
    // A read SAS does not allow writing.
    r = wharf::test::run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "x-ms-blob-type: BlockBlob",
                          "--data-binary", "x", url});
    EXPECT_EQ(r.output, "403");
}

TEST_F(azure_fixture, a_wrong_account_key_is_access_denied) {
    auto wrong = azure::make_provider(io.executor(), config(base64_encode(std::string(64, 'x'))));
    EXPECT_EQ(code_of([&] { io.run(wrong->put_bytes("x", "y", {})); }), errc::access_denied);
    EXPECT_EQ(code_of([&] { io.run(wrong->list("", std::nullopt, 10)); }), errc::access_denied);
    EXPECT_THROW(azure::make_provider(io.executor(), config("not base64!")), error);
}

TEST_F(azure_fixture, list_pages_with_markers_copy_and_delete) {
    for (const char* key : {"l/a", "l/b", "l/c", "other"}) io.run(p->put_bytes(key, key, {}));
    std::vector<std::string> keys;
    std::optional<std::string> marker;
    int pages = 0;
    do {
        auto page = io.run(p->list("l/", marker, 2));
        for (const auto& o : page.objects) {
            keys.push_back(o.key);
            EXPECT_EQ(o.size, 3u);
            EXPECT_EQ(o.sha256, sha256_hex(o.key));
        }
        marker = page.next;
        ++pages;
    } while (marker && pages < 10);
    EXPECT_EQ(keys, (std::vector<std::string>{"l/a", "l/b", "l/c"}));
    EXPECT_EQ(pages, 2);

    io.run(p->copy("l/a", "copied/a"));
    const auto h = io.run(p->head("copied/a"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->sha256, sha256_hex(std::string_view("l/a")));

    io.run(p->remove("l/a"));
    io.run(p->remove("l/a"));  // absent: not an error
    EXPECT_FALSE(io.run(p->head("l/a")));
    EXPECT_TRUE(io.run(p->remove_many({"l/b", "l/c", "../bad"})) == std::vector<std::string>{"../bad"});
    EXPECT_TRUE(io.run(p->list("l/", std::nullopt, 10)).objects.empty());
}

TEST_F(azure_fixture, an_aborted_upload_leaves_no_uncommitted_blocks) {
    const std::string content = random_bytes(6 * MiB, 3);
    auto sink = azure::make_part_sink(*p, "orphan.bin");
    // Named arguments, no temporaries in the co_await expressions: GCC 12 can destroy those twice.
    const std::string key = "orphan.bin";
    const put_options none;
    const std::span<const char> block(content.data(), 3 * MiB);
    const std::string md5 = md5_base64(block);
    const part_body body{.bytes = block, .size = block.size()};
    io.run(sink->begin(key, none));
    io.run(sink->upload_part(1, body, md5));
    EXPECT_EQ(server.blocks("media", "orphan.bin").uncommitted, 1u);
    EXPECT_EQ(io.run(p->list_incomplete("")).size(), 1u);
    io.run(sink->abort());
    EXPECT_FALSE(server.blocks("media", "orphan.bin").found);
    EXPECT_TRUE(io.run(p->list_incomplete("")).empty());
}

namespace {

std::vector<std::string> all_keys(wharf::test::io_thread& io, provider& p, const std::string& prefix) {
    std::vector<std::string> keys;
    std::optional<std::string> marker;
    do {
        auto page = io.run(p.list(prefix, marker, 1000));
        for (const auto& o : page.objects) keys.push_back(o.key);
        marker = page.next;
    } while (marker);
    return keys;
}

}  // namespace

TEST_F(azure_fixture, remove_many_deletes_300_blobs_in_two_blob_batches_and_missing_ones_count_as_deleted) {
    // 300 keys, every tenth never stored, some with spaces (percent-encoded in the subrequests).
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i) {
        char name[40];
        std::snprintf(name, sizeof name, "batch/%03d%s", i, i % 25 == 0 ? " with space.bin" : ".bin");
        keys.emplace_back(name);
        if (i % 10 != 3) io.run(p->put_bytes(keys.back(), keys.back(), {}));
    }
    io.run(p->put_bytes("kept/one.bin", "stays", {}));
    ASSERT_EQ(all_keys(io, *p, "batch/").size(), 270u);
    keys.push_back("../bad");

    // Counted through the proxy: one request per 256 deletes.
    wharf::test::fault_proxy proxy(server.port());
    auto c = config();
    c.endpoint = server.endpoint(proxy.port());
    const auto via = azure::make_provider(io.executor(), c);
    EXPECT_TRUE(io.run(via->remove_many({})).empty());
    EXPECT_EQ(proxy.requests(), 0u);
    const auto failed = io.run(via->remove_many(keys));
    EXPECT_EQ(failed, std::vector<std::string>{"../bad"}) << "an invalid key is reported, not sent";
    EXPECT_EQ(proxy.requests(), 2u) << "256 + 44 deletes: two Blob Batch requests";

    EXPECT_TRUE(all_keys(io, *p, "batch/").empty());
    EXPECT_EQ(all_keys(io, *p, "kept/"), std::vector<std::string>{"kept/one.bin"});
    // Again: every blob is already gone, which is what delete wants.
    EXPECT_TRUE(io.run(via->remove_many(std::vector<std::string>(keys.begin(), keys.end() - 1))).empty());
}

TEST_F(azure_fixture, a_blob_the_batch_cannot_delete_is_reported_by_key_and_the_others_are_deleted) {
    for (const char* key : {"lease/free.bin", "lease/held.bin"}) io.run(p->put_bytes(key, key, {}));
    server.acquire_lease("media", "lease/held.bin");  // Delete Blob without the lease id: 412
    const auto failed = io.run(p->remove_many({"lease/free.bin", "lease/held.bin", "lease/absent.bin"}));
    EXPECT_EQ(failed, std::vector<std::string>{"lease/held.bin"});
    EXPECT_EQ(all_keys(io, *p, "lease/"), std::vector<std::string>{"lease/held.bin"});
}

// An azure provider configured the seeds' way, from AZURE_STORAGE_CONNECTION_STRING (through
// connection_string_env), against Azurite; the provider the registry builds is measured.
TEST_F(azure_fixture, a_provider_configured_by_a_connection_string_stores_and_reads) {
    const std::string cs = std::string("DefaultEndpointsProtocol=http;AccountName=") + azurite_server::account +
                           ";AccountKey=" + azurite_server::key + ";BlobEndpoint=" + server.endpoint() + ";";
    ::setenv("WHARF_TEST_AZURE_CONNECTION_STRING", cs.c_str(), 1);
    const auto configs = parse_provider_configs(
        nlohmann::json::parse(R"({"providers": [{"name": "az", "kind": "azure", "container": "media",
                                  "connection_string_env": "WHARF_TEST_AZURE_CONNECTION_STRING"}]})"),
        "test");
    registry providers{configs, io.executor()};
    auto& az = providers.at("az");
    const auto put = io.run(az.put_bytes("cs/hello.txt", "hello", {}));
    EXPECT_EQ(put.size, 5u);
    const auto head = io.run(az.head("cs/hello.txt"));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->size, 5u);
    ::unsetenv("WHARF_TEST_AZURE_CONNECTION_STRING");

    // A bad string is a configuration error that does not quote the key.
    ::setenv("WHARF_TEST_AZURE_CONNECTION_STRING", "AccountName=x;AccountKey=s3cr3tkey;BlobEndpoint=ftp://x", 1);
    try {
        registry bad{configs, io.executor()};
        ADD_FAILURE() << "a bad connection string was accepted";
    } catch (const wharf::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("BlobEndpoint"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("s3cr3tkey"), std::string::npos) << e.what();
    }
    ::unsetenv("WHARF_TEST_AZURE_CONNECTION_STRING");
}
