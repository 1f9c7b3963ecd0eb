#include "wharf/schedule/next_fire.hpp"

#include <date/date.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ws = wharf::schedule;
using namespace std::chrono_literals;

namespace {

// A UTC instant written out, so each golden row reads as the wall clock an operator would check.
ws::sys_seconds utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
    return ws::sys_seconds{date::sys_days{date::year{y} / mo / d}.time_since_epoch()} + std::chrono::hours{h} +
           std::chrono::minutes{mi} + std::chrono::seconds{s};
}

std::string text(ws::sys_seconds t) { return date::format("%FT%TZ", t); }

// The next `count` fires after `after`, as UTC text.
std::vector<std::string> fires(const char* cron, const char* zone, ws::sys_seconds after, std::size_t count) {
    const auto expr = ws::cron::parse(cron);
    const auto& tz = ws::find_zone(zone);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
        const auto next = ws::next_fire(expr, tz, after);
        if (!next) break;
        out.push_back(text(*next));
        after = *next;
    }
    return out;
}

using rows = std::vector<std::string>;

}  // namespace

// America/New_York, 2026: clocks go 02:00 EST -> 03:00 EDT on 8 March (07:00 UTC) and
// 02:00 EDT -> 01:00 EST on 1 November (06:00 UTC).
TEST(next_fire_new_york, half_past_two_in_the_spring_gap_runs_at_its_end) {
    EXPECT_EQ(fires("30 2 * * *", "America/New_York", utc(2026, 3, 6, 12, 0), 3),
              (rows{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}));
}
TEST(next_fire_new_york, half_past_two_after_the_fold_runs_once) {
    EXPECT_EQ(fires("30 2 * * *", "America/New_York", utc(2026, 10, 30, 12, 0), 3),
              (rows{"2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"}));
}
TEST(next_fire_new_york, half_past_one_before_the_spring_gap) {
    EXPECT_EQ(fires("30 1 * * *", "America/New_York", utc(2026, 3, 6, 12, 0), 3),
              (rows{"2026-03-07T06:30:00Z", "2026-03-08T06:30:00Z", "2026-03-09T05:30:00Z"}));
}
TEST(next_fire_new_york, half_past_one_in_the_fold_runs_at_the_first) {
    EXPECT_EQ(fires("30 1 * * *", "America/New_York", utc(2026, 10, 30, 12, 0), 3),
              (rows{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
}
TEST(next_fire_new_york, every_quarter_hour_across_the_spring_gap) {
    // 02:00-02:45 do not exist: they run once, together with 03:00, at the gap's end.
    EXPECT_EQ(fires("*/15 * * * *", "America/New_York", utc(2026, 3, 8, 6, 30), 4),
              (rows{"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z"}));
}
TEST(next_fire_new_york, every_quarter_hour_across_the_fold) {
    // 01:00-01:45 happen twice: only the first pass (EDT) runs.
    EXPECT_EQ(fires("*/15 * * * *", "America/New_York", utc(2026, 11, 1, 5, 30), 3),
              (rows{"2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:15:00Z"}));
    // Asked from inside the second pass, the next slot is still 02:00 EST.
    EXPECT_EQ(fires("*/15 * * * *", "America/New_York", utc(2026, 11, 1, 6, 20), 1), (rows{"2026-11-01T07:00:00Z"}));
}

// Europe/Berlin, 2026: 02:00 CET -> 03:00 CEST on 29 March (01:00 UTC) and 03:00 CEST -> 02:00
// CET on 25 October (01:00 UTC).
TEST(next_fire_berlin, half_past_two_in_the_spring_gap_runs_at_its_end) {
    EXPECT_EQ(fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27, 12, 0), 3),
              (rows{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
}
TEST(next_fire_berlin, half_past_two_in_the_fold_runs_at_the_first) {
    EXPECT_EQ(fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 23, 12, 0), 3),
              (rows{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
}
TEST(next_fire_berlin, half_past_one_is_untouched_by_either_change) {
    EXPECT_EQ(fires("30 1 * * *", "Europe/Berlin", utc(2026, 3, 27, 12, 0), 3),
              (rows{"2026-03-28T00:30:00Z", "2026-03-29T00:30:00Z", "2026-03-29T23:30:00Z"}));
    EXPECT_EQ(fires("30 1 * * *", "Europe/Berlin", utc(2026, 10, 23, 12, 0), 3),
              (rows{"2026-10-23T23:30:00Z", "2026-10-24T23:30:00Z", "2026-10-26T00:30:00Z"}));
}
TEST(next_fire_berlin, every_quarter_hour_across_the_spring_gap) {
    EXPECT_EQ(fires("*/15 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 30), 3),
              (rows{"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"}));
}
TEST(next_fire_berlin, every_quarter_hour_across_the_fold) {
    EXPECT_EQ(fires("*/15 * * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 30), 3),
              (rows{"2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"}));
}

TEST(next_fire, utc_seconds_and_strictly_after) {
    EXPECT_EQ(fires("*/20 * * * * *", "UTC", utc(2026, 1, 1, 0, 0, 0), 4),
              (rows{"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z"}));
    EXPECT_EQ(fires("0 0 * * *", "UTC", utc(2026, 12, 31, 0, 0), 1), (rows{"2027-01-01T00:00:00Z"}));
}

TEST(next_fire, rare_slots_are_found_years_ahead) {
    EXPECT_EQ(fires("0 12 29 2 *", "UTC", utc(2026, 3, 1, 0, 0), 2), (rows{"2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"}));
    // `*/7` is a restricted weekday that starts with `*`, so both day fields must match: Feb 29 on a
    // Sunday, 40 years apart across 2100 (not a leap year).
    EXPECT_EQ(fires("0 0 29 2 */7", "UTC", utc(2060, 3, 1, 0, 0), 2), (rows{"2088-02-29T00:00:00Z", "2128-02-29T00:00:00Z"}));
    // Vixie OR: the 13th, or any Friday (Friday 2 January, Tuesday 13 January, Friday 9 January...).
    EXPECT_EQ(fires("0 0 13 * fri", "UTC", utc(2026, 1, 1, 0, 0), 3),
              (rows{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"}));
}

TEST(next_fire, unknown_zones_are_refused_by_name) {
    try {
        ws::find_zone("Mars/Olympus_Mons");
        FAIL() << "no error";
    } catch (const ws::cron_error& e) {
        EXPECT_NE(std::string(e.what()).find("Mars/Olympus_Mons"), std::string::npos);
    }
    EXPECT_THROW(ws::find_zone(""), ws::cron_error);
    EXPECT_THROW(ws::find_zone(std::string(100, 'a')), ws::cron_error);
}

// A scheduler away for 3 hours, back at 12:00 UTC, with an every-minute schedule.
TEST(plan_due, latest_fires_once_for_the_window_and_counts_the_rest) {
    const auto expr = ws::cron::parse("* * * * *");
    const auto plan = ws::plan_due(expr, ws::find_zone("UTC"), utc(2026, 5, 1, 9, 0), utc(2026, 5, 1, 12, 0),
                                   {.window = 1h, .mode = ws::catch_up::latest});
    ASSERT_EQ(plan.fire.size(), 1u);
    EXPECT_EQ(text(plan.fire[0]), "2026-05-01T12:00:00Z");
    EXPECT_EQ(plan.coalesced, 59u);  // 11:01 .. 11:59
    EXPECT_EQ(plan.missed, 120u);    // 09:01 .. 11:00
    EXPECT_EQ(text(plan.cursor), "2026-05-01T12:00:00Z");
}

TEST(plan_due, all_fires_each_in_order_up_to_the_cap) {
    const auto expr = ws::cron::parse("* * * * *");
    const auto plan = ws::plan_due(expr, ws::find_zone("UTC"), utc(2026, 5, 1, 9, 0), utc(2026, 5, 1, 12, 0),
                                   {.window = 4h, .mode = ws::catch_up::all});
    ASSERT_EQ(plan.fire.size(), 100u);
    EXPECT_EQ(text(plan.fire.front()), "2026-05-01T10:21:00Z");
    EXPECT_EQ(text(plan.fire.back()), "2026-05-01T12:00:00Z");
    for (std::size_t i = 1; i < plan.fire.size(); ++i) EXPECT_EQ(plan.fire[i] - plan.fire[i - 1], 60s);
    EXPECT_EQ(plan.missed, 80u);
    EXPECT_EQ(plan.coalesced, 0u);
}

TEST(plan_due, a_ticking_scheduler_fires_the_one_slot_due) {
    const auto expr = ws::cron::parse("*/5 * * * *");
    const auto& zone = ws::find_zone("UTC");
    auto plan = ws::plan_due(expr, zone, utc(2026, 5, 1, 11, 59, 30), utc(2026, 5, 1, 12, 0, 1), {});
    ASSERT_EQ(plan.fire.size(), 1u);
    EXPECT_EQ(text(plan.fire[0]), "2026-05-01T12:00:00Z");
    EXPECT_EQ(plan.missed + plan.coalesced, 0u);
    // The next tick finds nothing new, and the cursor stays where it was.
    plan = ws::plan_due(expr, zone, plan.cursor, utc(2026, 5, 1, 12, 0, 2), {});
    EXPECT_TRUE(plan.fire.empty());
    EXPECT_EQ(text(plan.cursor), "2026-05-01T12:00:00Z");
}

TEST(plan_due, jitter_delays_a_slot_until_it_has_passed) {
    const auto expr = ws::cron::parse("0 * * * *");
    const auto& zone = ws::find_zone("UTC");
    const ws::due_policy policy{.jitter = 30s};
    EXPECT_TRUE(ws::plan_due(expr, zone, utc(2026, 5, 1, 11, 30), utc(2026, 5, 1, 12, 0, 29), policy).fire.empty());
    EXPECT_EQ(ws::plan_due(expr, zone, utc(2026, 5, 1, 11, 30), utc(2026, 5, 1, 12, 0, 30), policy).fire.size(), 1u);
}

TEST(plan_due, a_year_of_per_second_slots_is_counted_to_a_bound) {
    const auto expr = ws::cron::parse("* * * * * *");
    const auto plan = ws::plan_due(expr, ws::find_zone("UTC"), utc(2025, 5, 1, 0, 0), utc(2026, 5, 1, 0, 0),
                                   {.window = 10s, .mode = ws::catch_up::all});
    EXPECT_EQ(plan.missed, ws::max_counted);
    EXPECT_EQ(plan.fire.size(), 10u);
    EXPECT_EQ(text(plan.fire.back()), "2026-05-01T00:00:00Z");
}

TEST(jitter_for, is_deterministic_and_bounded) {
    EXPECT_EQ(ws::jitter_for("temp-cleanup", 60s), ws::jitter_for("temp-cleanup", 60s));
    EXPECT_EQ(ws::jitter_for("anything", 0s), 0s);
    bool differs = false;
    for (int i = 0; i < 20; ++i) {
        const auto j = ws::jitter_for("schedule-" + std::to_string(i), 60s);
        EXPECT_GE(j, 0s);
        EXPECT_LE(j, 60s);
        differs = differs || j != ws::jitter_for("schedule-0", 60s);
    }
    EXPECT_TRUE(differs);
}
