#include "wharf/backup/retention.hpp"

#include <gtest/gtest.h>

using namespace wharf::backup;
using namespace std::chrono;

namespace {

const auto now = system_clock::time_point(sys_days(year{2026} / 12 / 7));

backup_summary b(std::int64_t id, int days_old, bool verified = false, std::string status = "succeeded") {
    return {id, std::move(status), now - days(days_old), verified};
}

std::vector<std::int64_t> ids(const std::vector<retention_decision>& d) {
    std::vector<std::int64_t> out;
    for (const auto& x : d) out.push_back(x.id);
    return out;
}

}  // namespace

TEST(retention, deletes_backups_older_than_the_period) {
    const auto out = expired_backups({b(1, 40), b(2, 31), b(3, 29), b(4, 1)}, {}, now);
    EXPECT_EQ(ids(out), (std::vector<std::int64_t>{1, 2}));
    EXPECT_NE(out[0].reason.find("40 days"), std::string::npos) << out[0].reason;
}

TEST(retention, keeps_the_two_newest_drilled_backups_however_old) {
    const auto out = expired_backups({b(1, 90, true), b(2, 80, true), b(3, 70, true), b(4, 60), b(5, 1)}, {}, now);
    EXPECT_EQ(ids(out), (std::vector<std::int64_t>{1, 4}));
}

TEST(retention, keeps_the_newest_backup_even_when_it_is_old_and_never_drilled) {
    EXPECT_TRUE(expired_backups({b(7, 400)}, {}, now).empty());
    EXPECT_EQ(ids(expired_backups({b(6, 500), b(7, 400)}, {}, now)), (std::vector<std::int64_t>{6}));
}

TEST(retention, only_succeeded_backups_are_candidates_and_the_policy_is_honoured) {
    const std::vector<backup_summary> all{b(1, 90, false, "failed"), b(2, 90, false, "running"),
                                          b(3, 90, false, "deleted"), b(4, 12), b(5, 11, true), b(6, 1)};
    EXPECT_TRUE(expired_backups(all, {}, now).empty());
    retention_policy week{hours(24 * 7), 1};
    EXPECT_EQ(ids(expired_backups(all, week, now)), (std::vector<std::int64_t>{4}));
    retention_policy none_verified{hours(24 * 7), 0};
    EXPECT_EQ(ids(expired_backups(all, none_verified, now)), (std::vector<std::int64_t>{4, 5}));
}
