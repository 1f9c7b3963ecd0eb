// job_status names and fence ordering.
#include "wharf/pg/job_state.hpp"

#include <gtest/gtest.h>

namespace pg = wharf::pg;

TEST(job_status, every_status_round_trips_through_its_name) {
    for (auto s : {pg::job_status::queued, pg::job_status::running, pg::job_status::waiting, pg::job_status::succeeded,
                   pg::job_status::failed, pg::job_status::dead, pg::job_status::cancelled}) {
        const auto name = pg::to_string(s);
        EXPECT_EQ(pg::job_status_from_string(name), s) << name;
    }
}

TEST(job_status, names_match_the_check_constraint) {
    EXPECT_EQ(pg::to_string(pg::job_status::queued), "queued");
    EXPECT_EQ(pg::to_string(pg::job_status::running), "running");
    EXPECT_EQ(pg::to_string(pg::job_status::waiting), "waiting");
    EXPECT_EQ(pg::to_string(pg::job_status::succeeded), "succeeded");
    EXPECT_EQ(pg::to_string(pg::job_status::failed), "failed");
    EXPECT_EQ(pg::to_string(pg::job_status::dead), "dead");
    EXPECT_EQ(pg::to_string(pg::job_status::cancelled), "cancelled");
}

TEST(job_status, unknown_names_are_rejected) {
    EXPECT_FALSE(pg::job_status_from_string("Succeeded"));
    EXPECT_FALSE(pg::job_status_from_string(""));
    EXPECT_FALSE(pg::job_status_from_string("done"));
}

TEST(job_status, only_the_last_four_are_final) {
    EXPECT_FALSE(pg::is_final(pg::job_status::queued));
    EXPECT_FALSE(pg::is_final(pg::job_status::running));
    EXPECT_FALSE(pg::is_final(pg::job_status::waiting));
    EXPECT_TRUE(pg::is_final(pg::job_status::succeeded));
    EXPECT_TRUE(pg::is_final(pg::job_status::failed));
    EXPECT_TRUE(pg::is_final(pg::job_status::dead));
    EXPECT_TRUE(pg::is_final(pg::job_status::cancelled));
}

TEST(fence, orders_by_entry_id_then_delivery_count) {
    const pg::fence first{1700000000000, 0, 1};
    const pg::fence redelivered{1700000000000, 0, 2};
    const pg::fence later_seq{1700000000000, 1, 1};
    const pg::fence later_ms{1700000000001, 0, 1};
    EXPECT_LT(first, redelivered);       // a take-over of the same entry bumps the delivery count
    EXPECT_LT(redelivered, later_seq);   // a newer entry wins over any delivery of an older one
    EXPECT_LT(later_seq, later_ms);
    EXPECT_EQ(first, (pg::fence{1700000000000, 0, 1}));
}
