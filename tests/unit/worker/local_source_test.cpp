// Which local files an upload job may read: only regular files under local_source_roots, with
// symlinks and .. resolved first.
#include "../../../worker/jobs/storing.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using wharf::worker::local_source_refusal;

namespace {
struct tree {
    fs::path base = fs::temp_directory_path() / ("wharf-source-test-" + std::to_string(::getpid()));
    fs::path in = base / "in", inbox = base / "inbox", outside = base / "outside";
    tree() {
        fs::remove_all(base);
        for (const auto& d : {in, inbox, outside, in / "sub"}) fs::create_directories(d);
        for (const auto& f : {in / "clip.mp4", in / "sub" / "a.bin", inbox / "x.bin", outside / "secret"})
            std::ofstream(f) << "bytes";
        fs::create_symlink(outside / "secret", in / "link-out");
        fs::create_symlink(in / "clip.mp4", in / "link-in");
        fs::create_symlink(outside, in / "dir-out");
    }
    ~tree() { fs::remove_all(base); }
};
}  // namespace

TEST(local_source, files_under_a_root_are_allowed) {
    tree t;
    EXPECT_EQ(local_source_refusal(t.in / "clip.mp4", {t.in}), std::nullopt);
    EXPECT_EQ(local_source_refusal(t.in / "sub" / "a.bin", {t.outside, t.in}), std::nullopt);
    EXPECT_EQ(local_source_refusal(t.in / "link-in", {t.in}), std::nullopt);  // a symlink that stays inside
    // The caller reads what was checked: the resolved path.
    fs::path resolved;
    EXPECT_EQ(local_source_refusal(t.in / "sub" / ".." / "link-in", {t.in}, &resolved), std::nullopt);
    EXPECT_EQ(resolved, fs::canonical(t.in / "clip.mp4"));
}

TEST(local_source, nothing_is_allowed_without_roots) {
    tree t;
    auto why = local_source_refusal(t.in / "clip.mp4", {});
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("local_source_roots"), std::string::npos) << *why;
    EXPECT_TRUE(local_source_refusal("/etc/passwd", {}));
}

TEST(local_source, escapes_by_symlink_dotdot_or_prefix_are_refused) {
    tree t;
    EXPECT_EQ(local_source_refusal(t.in / "link-out", {t.in}), "outside local_source_roots");
    EXPECT_EQ(local_source_refusal(t.in / "dir-out" / "secret", {t.in}), "outside local_source_roots");
    EXPECT_EQ(local_source_refusal(t.in / ".." / "outside" / "secret", {t.in}), "outside local_source_roots");
    // /base/in must not admit /base/inbox.
    EXPECT_EQ(local_source_refusal(t.inbox / "x.bin", {t.in}), "outside local_source_roots");
    EXPECT_EQ(local_source_refusal("/etc/passwd", {t.in}), "outside local_source_roots");
}

TEST(local_source, only_existing_regular_files_by_absolute_path) {
    tree t;
    EXPECT_EQ(local_source_refusal("in/clip.mp4", {t.in}), "a local source must be an absolute path");
    EXPECT_EQ(local_source_refusal(t.in / "sub", {t.in}), "not a regular file");
    EXPECT_TRUE(local_source_refusal(t.in / "missing", {t.in})->starts_with("cannot read it: "));
    EXPECT_EQ(local_source_refusal("/dev/zero", {fs::path("/dev")}), "not a regular file");
    EXPECT_EQ(local_source_refusal(t.in, {t.in}), "not a regular file");
}

// A job's scratch name, and what an earlier attempt killed mid-download left beside it: removed
// when the next attempt takes the name; another job's is not touched; the name goes with the job.
TEST(scratch_path, an_earlier_attempts_download_temp_file_is_removed_and_the_name_is_freed) {
    tree t;
    wharf::worker::storage_job_options options;
    options.scratch_dir = t.base / "scratch";
    fs::create_directories(options.scratch_dir);
    const fs::path mine = options.scratch_dir / ".wharf-tmp-0123456789ab-publish-read-publish-job_1.txt";
    const fs::path other = options.scratch_dir / ".wharf-tmp-0123456789ab-publish-read-publish-job_10.txt";
    std::ofstream(mine) << "half";
    std::ofstream(other) << "half";
    wharf::worker::job_context ctx;
    ctx.queue = "publish";
    ctx.id = "job/1";
    {
        wharf::worker::scratch_path p(options, "publish-read", ctx, ".txt");
        EXPECT_EQ(p.path(), options.scratch_dir / "publish-read-publish-job_1.txt");
        std::ofstream(p.path()) << "whole";
        EXPECT_FALSE(fs::exists(mine));
        EXPECT_TRUE(fs::exists(other));
    }
    EXPECT_FALSE(fs::exists(options.scratch_dir / "publish-read-publish-job_1.txt"));
}
