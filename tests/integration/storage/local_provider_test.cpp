// The local filesystem provider on a real filesystem: atomic writes, traversal and symlink
// escapes refused, SHA-256 verified on get, list/copy/delete, incomplete uploads.
#include "wharf/storage/local.hpp"
#include "wharf/storage/sha256.hpp"
#include "wharf/test/process.hpp"
#include "wharf/test/storage_data.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/time.h>

#include <fstream>
#include <future>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace wharf::storage;
using wharf::test::code_of;
using wharf::test::slurp;

namespace {

template <typename T>
T run(asio::awaitable<T> op) {
    asio::io_context io;
    auto fut = asio::co_spawn(io, std::move(op), asio::use_future);
    io.run();
    return fut.get();
}

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::vector<std::string> temp_files(const fs::path& root) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().filename().string().starts_with(".wharf-tmp-")) out.push_back(e.path().string());
    return out;
}

struct local_fixture : ::testing::Test {
    wharf::test::temp_dir dir{"wharf-local"};
    fs::path root = dir.path() / "root";
    fs::path outside = dir.path() / "outside";
    local_provider p{"local", root, local_options{std::chrono::seconds(60), true}};
    local_fixture() { fs::create_directories(outside); }
};

}  // namespace

TEST_F(local_fixture, put_bytes_writes_the_object_and_its_sha256_atomically) {
    const auto r = run(p.put_bytes("videos/2026/a.bin", "hello", {}));
    EXPECT_EQ(r.size, 5u);
    EXPECT_EQ(r.sha256, sha256_hex(std::string_view("hello")));
    EXPECT_EQ(slurp(root / "videos/2026/a.bin"), "hello");
    const auto h = run(p.head("videos/2026/a.bin"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->size, 5u);
    EXPECT_EQ(h->sha256, r.sha256);
    EXPECT_TRUE(temp_files(root).empty());
    EXPECT_FALSE(run(p.head("videos/2026/none.bin")));
}

TEST_F(local_fixture, an_overwrite_replaces_the_whole_file_and_a_failed_one_leaves_the_old) {
    run(p.put_bytes("k", std::string(1 << 20, 'a'), {}));
    run(p.put_bytes("k", "short", {}));
    EXPECT_EQ(slurp(root / "k"), "short");
    // A failing put (its source vanished) leaves the previous object intact and no temp file.
    EXPECT_EQ(code_of([&] { run(p.put_file("k", dir.path() / "missing", {})); }), errc::not_found);
    EXPECT_EQ(slurp(root / "k"), "short");
    // A key whose path is a folder cannot be overwritten; nothing is left behind.
    run(p.put_bytes("d/x", "x", {}));
    EXPECT_EQ(code_of([&] { run(p.put_bytes("d", "y", {})); }), errc::permanent);
    EXPECT_TRUE(temp_files(root).empty());
}

TEST_F(local_fixture, put_file_streams_and_hashes_or_carries_the_given_sha256) {
    const auto src = dir.path() / "src.bin";
    std::string content(3 << 20, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31);
    write(src, content);
    std::uint64_t progress = 0;
    put_options o;
    o.progress = [&](std::uint64_t done, std::uint64_t) { progress = done; };
    const auto r = run(p.put_file("a/src.bin", src, o));
    EXPECT_EQ(r.sha256, sha256_hex(content));
    EXPECT_EQ(progress, content.size());
    EXPECT_TRUE(slurp(root / "a/src.bin") == content);

    put_options carried;
    carried.sha256 = r.sha256;
    EXPECT_EQ(run(p.put_file("a/copy.bin", src, carried)).sha256, r.sha256);
    carried.sha256 = "not-a-sha";
    EXPECT_EQ(code_of([&] { run(p.put_file("a/bad.bin", src, carried)); }), errc::permanent);
}

TEST_F(local_fixture, traversal_keys_are_refused_before_any_io) {
    for (const std::string& key : std::vector<std::string>{"../escape", "a/../../escape", "/etc/passwd", "a\\..\\b", "a//b", std::string("a\0b", 3),
                                  "x/.wharf-tmp-000000000000-y"}) {
        SCOPED_TRACE(key);
        EXPECT_EQ(code_of([&] { run(p.put_bytes(key, "x", {})); }), errc::invalid_key);
        EXPECT_EQ(code_of([&] { run(p.head(key)); }), errc::invalid_key);
    }
    EXPECT_FALSE(fs::exists(dir.path() / "escape"));
    EXPECT_TRUE(fs::is_empty(outside));
}

TEST_F(local_fixture, symlinks_under_the_root_are_never_followed) {
    write(outside / "secret", "top secret");
    fs::create_directory_symlink(outside, root / "link");        // a folder symlink pointing out
    fs::create_symlink(outside / "secret", root / "leaf");       // a file symlink pointing out
    EXPECT_EQ(code_of([&] { run(p.put_bytes("link/planted", "x", {})); }), errc::invalid_key);
    EXPECT_FALSE(fs::exists(outside / "planted"));
    EXPECT_EQ(code_of([&] { run(p.get_to_file("link/secret", dir.path() / "got", {})); }), errc::invalid_key);
    EXPECT_EQ(code_of([&] { run(p.get_to_file("leaf", dir.path() / "got", {})); }), errc::invalid_key);
    EXPECT_FALSE(fs::exists(dir.path() / "got"));
    EXPECT_EQ(code_of([&] { run(p.copy("leaf", "stolen")); }), errc::invalid_key);
    // Listing does not descend into or report symlinks.
    const auto page = run(p.list("", std::nullopt, 100));
    EXPECT_TRUE(page.objects.empty());
    // Removing "leaf" removes the link itself, never its target.
    run(p.remove("leaf"));
    EXPECT_EQ(slurp(outside / "secret"), "top secret");
}

TEST_F(local_fixture, get_to_file_verifies_the_sha256_and_supports_ranges) {
    const std::string content = "0123456789abcdefghij";
    run(p.put_bytes("obj", content, {}));
    const auto dest = dir.path() / "dest.bin";
    const auto info = run(p.get_to_file("obj", dest, {}));
    EXPECT_EQ(slurp(dest), content);
    EXPECT_EQ(info.sha256, sha256_hex(content));

    run(p.get_to_file("obj", dest, byte_range{10, 14}));
    EXPECT_EQ(slurp(dest), "abcde");
    run(p.get_to_file("obj", dest, byte_range{15, std::nullopt}));
    EXPECT_EQ(slurp(dest), "fghij");
    EXPECT_EQ(code_of([&] { run(p.get_to_file("obj", dest, byte_range{20, std::nullopt})); }), errc::permanent);

    // Corrupt the stored bytes behind the provider's back (same size, xattr kept).
    {
        std::fstream f(root / "obj", std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(3);
        f.put('X');
    }
    fs::remove(dest);
    EXPECT_EQ(code_of([&] { run(p.get_to_file("obj", dest, {})); }), errc::integrity);
    EXPECT_FALSE(fs::exists(dest)) << "a corrupt object never lands at the destination";
    EXPECT_TRUE(temp_files(dir.path()).empty());
    EXPECT_EQ(code_of([&] { run(p.get_to_file("absent", dest, {})); }), errc::not_found);
}

TEST_F(local_fixture, list_is_recursive_sorted_by_key_and_paginated) {
    for (const char* key : {"a/b", "a-c", "a/d/e", "b", "ab/x"}) run(p.put_bytes(key, key, {}));
    auto all = run(p.list("a", std::nullopt, 100));
    std::vector<std::string> keys;
    for (const auto& o : all.objects) keys.push_back(o.key);
    EXPECT_EQ(keys, (std::vector<std::string>{"a-c", "a/b", "a/d/e", "ab/x"}));
    EXPECT_FALSE(all.next);

    auto first = run(p.list("a/", std::nullopt, 1));
    ASSERT_EQ(first.objects.size(), 1u);
    EXPECT_EQ(first.objects[0].key, "a/b");
    ASSERT_TRUE(first.next);
    auto second = run(p.list("a/", first.next, 1));
    ASSERT_EQ(second.objects.size(), 1u);
    EXPECT_EQ(second.objects[0].key, "a/d/e");
    EXPECT_FALSE(second.next);
    EXPECT_EQ(second.objects[0].size, 5u);

    EXPECT_TRUE(run(p.list("zzz/", std::nullopt, 10)).objects.empty());
    EXPECT_EQ(code_of([&] { run(p.list("../", std::nullopt, 10)); }), errc::invalid_key);
}

TEST_F(local_fixture, copy_keeps_bytes_and_sha256_and_delete_prunes_empty_folders) {
    run(p.put_bytes("temp/a/x.bin", "payload", {}));
    run(p.copy("temp/a/x.bin", "permanent/x.bin"));
    const auto h = run(p.head("permanent/x.bin"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->sha256, sha256_hex(std::string_view("payload")));
    EXPECT_EQ(slurp(root / "permanent/x.bin"), "payload");
    EXPECT_EQ(code_of([&] { run(p.copy("temp/none", "y")); }), errc::not_found);

    run(p.remove("temp/a/x.bin"));
    EXPECT_FALSE(fs::exists(root / "temp")) << "empty folders are pruned";
    run(p.remove("temp/a/x.bin"));  // absent: not an error

    run(p.put_bytes("m/1", "1", {}));
    run(p.put_bytes("m/2", "2", {}));
    const auto failed = run(p.remove_many({"m/1", "m/2", "m/absent", "../bad"}));
    EXPECT_EQ(failed, (std::vector<std::string>{"../bad"}));
    EXPECT_FALSE(fs::exists(root / "m"));

    // A batch over several folders, in any order: each emptied folder pruned, a used one kept.
    for (const char* k : {"n/a/1", "n/a/2", "n/b/deep/1", "n/c/keep"}) run(p.put_bytes(k, "x", {}));
    EXPECT_TRUE(run(p.remove_many({"n/b/deep/1", "n/a/2", "n/gone/1", "n/a/1"})).empty());
    EXPECT_FALSE(fs::exists(root / "n" / "a"));
    EXPECT_FALSE(fs::exists(root / "n" / "b"));
    EXPECT_TRUE(fs::exists(root / "n" / "c" / "keep"));
}

TEST_F(local_fixture, presign_gives_a_file_url_for_get_and_refuses_put) {
    const auto url = p.presign(http_method::get, "a b/c.mp4", std::chrono::seconds(3600));
    EXPECT_EQ(url, "file://" + fs::canonical(root).string() + "/a%20b/c.mp4");
    EXPECT_THROW(p.presign(http_method::put, "a", std::chrono::seconds(60)), error);
    EXPECT_THROW(p.presign(http_method::get, "../a", std::chrono::seconds(60)), error);
}

TEST_F(local_fixture, stale_temp_files_are_incomplete_uploads_and_can_be_aborted) {
    fs::create_directories(root / "up");
    const auto stale = root / "up" / ".wharf-tmp-0123456789ab-clip.mp4";
    const auto fresh = root / "up" / ".wharf-tmp-ba9876543210-other.mp4";
    write(stale, "partial");
    write(fresh, "partial");
    const timeval old[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
    ASSERT_EQ(::utimes(stale.c_str(), old), 0);

    const auto inc = run(p.list_incomplete(""));
    ASSERT_EQ(inc.size(), 1u);
    EXPECT_EQ(inc[0].key, "up/clip.mp4");
    EXPECT_EQ(inc[0].upload_id, "up/.wharf-tmp-0123456789ab-clip.mp4");
    EXPECT_TRUE(run(p.list("up/", std::nullopt, 10)).objects.empty()) << "temp files are not objects";

    EXPECT_EQ(code_of([&] { run(p.abort_incomplete("up/other.mp4", inc[0].upload_id)); }), errc::invalid_key);
    run(p.abort_incomplete(inc[0].key, inc[0].upload_id));
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(fresh));
}

// Objects of one folder removed at once, on the library's thread pool: the last removals race to
// prune the same empty folders; one that finds a folder already gone has still removed its object
// and must say so (once, a lifecycle run reported such an object "missing at its provider").
TEST_F(local_fixture, removals_racing_in_one_folder_all_succeed_and_prune_it) {
    for (int round = 0; round < 20; ++round) {
        std::vector<std::string> keys;
        for (int i = 0; i < 16; ++i) keys.push_back("race/" + std::to_string(round) + "/deep/" + std::to_string(i));
        for (const auto& k : keys) run(p.put_bytes(k, "x", {}));
        asio::io_context io;
        std::vector<std::future<void>> done;
        for (const auto& k : keys) done.push_back(asio::co_spawn(io, p.remove(k), asio::use_future));
        io.run();
        for (auto& d : done) EXPECT_NO_THROW(d.get()) << "round " << round;
        EXPECT_FALSE(fs::exists(root / "race" / std::to_string(round))) << "round " << round;
    }
}
