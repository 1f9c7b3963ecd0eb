#include "wharf/schedule/cron.hpp"

#include <gtest/gtest.h>

namespace ws = wharf::schedule;

namespace {

ws::civil_time at(unsigned weekday, unsigned month, unsigned day, unsigned hour, unsigned minute, unsigned second = 0) {
    return {2026, month, day, weekday, hour, minute, second};
}

std::string error_of(std::string_view text) {
    try {
        ws::cron::parse(text);
    } catch (const ws::cron_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(cron, five_fields_with_lists_ranges_and_steps) {
    const auto c = ws::cron::parse("0,30 9-17/2 * * *");
    EXPECT_FALSE(c.has_seconds());
    EXPECT_TRUE(c.matches(at(1, 5, 4, 9, 0)));
    EXPECT_TRUE(c.matches(at(1, 5, 4, 11, 30)));
    EXPECT_TRUE(c.matches(at(1, 5, 4, 17, 30)));
    EXPECT_FALSE(c.matches(at(1, 5, 4, 10, 0)));
    EXPECT_FALSE(c.matches(at(1, 5, 4, 9, 15)));
    EXPECT_FALSE(c.matches(at(1, 5, 4, 9, 0, 1)));  // five fields fire on second 0
    EXPECT_EQ(c.hours().count(), 5u);
}

TEST(cron, a_start_with_a_step_runs_to_the_end_of_the_field) {
    const auto c = ws::cron::parse("5/20 * * * *");
    EXPECT_EQ(c.minutes().count(), 3u);
    EXPECT_TRUE(c.minutes()[5] && c.minutes()[25] && c.minutes()[45]);
}

TEST(cron, names_in_either_case_and_sunday_as_7) {
    const auto c = ws::cron::parse("0 0 * JAN-mar Mon-FRI");
    EXPECT_TRUE(c.matches(at(1, 1, 5, 0, 0)));
    EXPECT_FALSE(c.matches(at(0, 1, 4, 0, 0)));
    EXPECT_FALSE(c.matches(at(1, 4, 6, 0, 0)));
    const auto sunday = ws::cron::parse("0 0 * * 7");
    EXPECT_TRUE(sunday.matches(at(0, 1, 4, 0, 0)));
    EXPECT_FALSE(sunday.matches(at(6, 1, 3, 0, 0)));
}

TEST(cron, day_of_month_or_day_of_week_when_both_are_restricted) {
    // Vixie: the 1st and the 15th, and every Friday.
    const auto both = ws::cron::parse("0 0 1,15 * fri");
    EXPECT_TRUE(both.matches(at(3, 4, 1, 0, 0)));   // a Wednesday the 1st
    EXPECT_TRUE(both.matches(at(5, 4, 3, 0, 0)));   // a Friday the 3rd
    EXPECT_FALSE(both.matches(at(4, 4, 2, 0, 0)));  // a Thursday the 2nd
    // A field that starts with `*` is unrestricted, even with a step: then both must match.
    const auto stepped = ws::cron::parse("0 0 */2 * fri");
    EXPECT_TRUE(stepped.matches(at(5, 4, 3, 0, 0)));
    EXPECT_FALSE(stepped.matches(at(5, 4, 10, 0, 0)));  // a Friday, but an even day
    EXPECT_FALSE(stepped.matches(at(3, 4, 1, 0, 0)));   // an odd day, but a Wednesday
}

TEST(cron, macros) {
    EXPECT_EQ(ws::cron::parse("@hourly").minutes().count(), 1u);
    EXPECT_TRUE(ws::cron::parse("@daily").matches(at(2, 6, 2, 0, 0)));
    EXPECT_TRUE(ws::cron::parse("@midnight").matches(at(2, 6, 2, 0, 0)));
    EXPECT_TRUE(ws::cron::parse("@weekly").matches(at(0, 6, 7, 0, 0)));
    EXPECT_FALSE(ws::cron::parse("@weekly").matches(at(1, 6, 8, 0, 0)));
    EXPECT_TRUE(ws::cron::parse("@monthly").matches(at(1, 6, 1, 0, 0)));
    EXPECT_TRUE(ws::cron::parse("@yearly").matches(at(4, 1, 1, 0, 0)));
    EXPECT_TRUE(ws::cron::parse("@annually").matches(at(4, 1, 1, 0, 0)));
    EXPECT_EQ(ws::cron::parse("  @daily ").text(), "@daily");
}

TEST(cron, six_fields_lead_with_seconds) {
    const auto c = ws::cron::parse("*/10 * * * * *");
    EXPECT_TRUE(c.has_seconds());
    EXPECT_TRUE(c.matches(at(1, 1, 5, 3, 4, 50)));
    EXPECT_FALSE(c.matches(at(1, 1, 5, 3, 4, 55)));
}

TEST(cron, february_29th_fires_in_leap_years_only) {
    const auto c = ws::cron::parse("0 0 29 2 *");
    EXPECT_FALSE(c.matches_day(2026, 2, 29, 0));
    EXPECT_TRUE(c.matches_day(2028, 2, 29, 2));
}

TEST(cron, bad_texts_say_which_field_and_why) {
    EXPECT_NE(error_of("").find("empty"), std::string::npos);
    EXPECT_NE(error_of("* * * *").find("has 4 fields"), std::string::npos);
    EXPECT_NE(error_of("* * * * * * *").find("more than 6 fields"), std::string::npos);
    EXPECT_NE(error_of("60 * * * *").find("minute field: '60' is outside 0-59"), std::string::npos);
    EXPECT_NE(error_of("* 24 * * *").find("hour field"), std::string::npos);
    EXPECT_NE(error_of("* * 0 * *").find("day-of-month field"), std::string::npos);
    EXPECT_NE(error_of("* * * 13 *").find("month field"), std::string::npos);
    EXPECT_NE(error_of("* * * * 8").find("day-of-week field"), std::string::npos);
    EXPECT_NE(error_of("* * * foo *").find("not a number or a known name"), std::string::npos);
    EXPECT_NE(error_of("mon * * * *").find("is not a number"), std::string::npos);
    EXPECT_NE(error_of("*/0 * * * *").find("step outside"), std::string::npos);
    EXPECT_NE(error_of("*/x * * * *").find("step that is not a number"), std::string::npos);
    EXPECT_NE(error_of("30-10 * * * *").find("start is after its end"), std::string::npos);
    EXPECT_NE(error_of("1,,2 * * * *").find("empty list item"), std::string::npos);
    EXPECT_NE(error_of("1- * * * *").find("empty value"), std::string::npos);
    EXPECT_NE(error_of("-1 * * * *").find("empty value"), std::string::npos);
    EXPECT_NE(error_of("@reboot").find("not a known macro"), std::string::npos);
    EXPECT_NE(error_of("0 0 31 2 *").find("never fires"), std::string::npos);
    EXPECT_NE(error_of("0 0 31 4,6,9,11 *").find("never fires"), std::string::npos);
    EXPECT_NE(error_of(std::string(300, '*')).find("longer than"), std::string::npos);
    // With day-of-week restricted too, the OR rule leaves the Mondays.
    EXPECT_NO_THROW(ws::cron::parse("0 0 31 2 mon"));
}
