// The orphan rule (storage::find_orphans): which open multipart uploads `wharfctl storage orphans`
// may abort. Pure: no database, no provider.
#include "wharf/storage/multipart_journal.hpp"

#include <gtest/gtest.h>

namespace s = wharf::storage;
using namespace std::chrono_literals;

namespace {

const auto now = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 50));

s::journal_entry row(std::string key, std::string upload_id, std::string job, std::optional<std::string> status,
                     std::chrono::seconds age, std::string provider = "s3") {
    s::journal_entry e;
    e.upload = s::open_upload{std::move(provider), "media", std::move(key), std::move(upload_id),
                              std::move(job),      1,       now - age};
    e.job_status = std::move(status);
    return e;
}

s::provider_listing listing(std::vector<s::incomplete_upload> uploads, std::string provider = "s3") {
    return s::provider_listing{std::move(provider), "media", std::move(uploads)};
}

std::vector<std::string> ids(const std::vector<s::orphan>& found) {
    std::vector<std::string> out;
    for (const auto& o : found) out.push_back(o.upload_id);
    return out;
}

}  // namespace

TEST(orphans, uploads_of_final_or_missing_jobs_are_orphans_and_of_live_jobs_never) {
    const std::vector<s::journal_entry> recorded = {
        row("videos/a/1", "u-succeeded", "j1", "succeeded", 48h),
        row("videos/a/2", "u-failed", "j2", "failed", 48h),
        row("videos/a/3", "u-dead", "j3", "dead", 48h),
        row("videos/a/4", "u-cancelled", "j4", "cancelled", 48h),
        row("videos/a/5", "u-gone", "j5", std::nullopt, 48h),
        row("videos/a/6", "u-running", "j6", "running", 48h),
        row("videos/a/7", "u-queued", "j7", "queued", 48h),
        row("videos/a/8", "u-unknown", "j8", "paused", 48h),  // a status from a newer version
    };
    const auto found = s::find_orphans(recorded, {}, now, 24h);
    EXPECT_EQ(ids(found), (std::vector<std::string>{"u-succeeded", "u-failed", "u-dead", "u-cancelled", "u-gone"}));
    EXPECT_EQ(found[0].reason, "job succeeded");
    EXPECT_EQ(found[4].reason, "job gone");
    EXPECT_EQ(found[0].job_id, "j1");
}

TEST(orphans, younger_uploads_are_left_alone) {
    const std::vector<s::journal_entry> recorded = {row("videos/a/1", "u-old", "j1", "succeeded", 25h),
                                                    row("videos/a/2", "u-new", "j2", "succeeded", 23h)};
    const std::vector<s::provider_listing> listed = {
        listing({{"videos/b/1", "x-old", now - 25h}, {"videos/b/2", "x-new", now - 1h}})};
    EXPECT_EQ(ids(s::find_orphans(recorded, listed, now, 24h)), (std::vector<std::string>{"u-old", "x-old"}));
    EXPECT_EQ(s::find_orphans(recorded, listed, now, 0s).size(), 4u);
}

TEST(orphans, a_listed_upload_is_judged_by_its_row_or_is_an_orphan_when_nobody_recorded_it) {
    const std::vector<s::journal_entry> recorded = {row("videos/a/1", "u-live", "j1", "running", 48h),
                                                    row("videos/a/2", "u-done", "j2", "succeeded", 48h)};
    const std::vector<s::provider_listing> listed = {listing({{"videos/a/1", "u-live", now - 48h},
                                                              {"videos/a/2", "u-done", now - 48h},
                                                              {"videos/a/3", "u-stray", now - 48h}}),
                                                     // the same id on another provider is another upload
                                                     listing({{"videos/a/1", "u-live", now - 48h}}, "r2")};
    const auto found = s::find_orphans(recorded, listed, now, 24h);
    ASSERT_EQ(ids(found), (std::vector<std::string>{"u-done", "u-stray", "u-live"}));
    EXPECT_EQ(found[0].reason, "job succeeded");  // once, from its row
    EXPECT_EQ(found[1].reason, "not recorded");
    EXPECT_FALSE(found[1].job_id.has_value());
    EXPECT_EQ(found[2].provider, "r2");
}

TEST(orphans, azure_blocks_shared_with_a_live_job_are_not_orphans) {
    // Azure uploads are all "uncommitted": blocks belong to the key, so discarding a finished
    // job's blocks would discard those of the running job writing the same key.
    const std::vector<s::journal_entry> recorded = {
        row("videos/a/1", "uncommitted", "j-old", "dead", 48h, "azure"),
        row("videos/a/1", "uncommitted", "j-now", "running", 1h, "azure"),
        row("videos/a/2", "uncommitted", "j-other", "dead", 48h, "azure"),
    };
    const auto found = s::find_orphans(recorded, {}, now, 24h);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].key, "videos/a/2");
}

// Which listed uploads an intent (a row written before CreateMultipartUpload) may have left.
TEST(uploads_left_by_intent, same_key_and_unrecorded) {
    using namespace std::chrono;
    const auto t0 = system_clock::now();
    s::open_upload intent{"p", "b", "k", std::string{s::creating_upload_id}, "job", 1, t0};
    const std::vector<s::incomplete_upload> listed = {
        {"k", "fresh", t0 + 2s},          // the lost one
        {"k", "skewed", t0 - hours(2)},   // whatever the provider's clock says
        {"k/longer", "prefix", t0 + 1s},  // listed by prefix, another key
        {"k", "recorded", t0 + 3s},       // some row records it
    };
    const auto left = s::uploads_left_by_intent(intent, listed, {"recorded", "(creating)"});
    std::vector<std::string> ids;
    for (const auto& u : left) ids.push_back(u.upload_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"fresh", "skewed"}));
    EXPECT_TRUE(s::is_intent(intent));
}
