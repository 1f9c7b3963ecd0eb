#include "wharf/schedule/definition.hpp"

#include <date/date.h>

#include <gtest/gtest.h>

namespace ws = wharf::schedule;
using namespace std::chrono_literals;

namespace {

std::string error_of(std::string_view text) {
    try {
        ws::parse_definitions(text);
    } catch (const ws::definition_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(definitions, every_field_with_defaults_for_the_rest) {
    const auto defs = ws::parse_definitions(R"([
      {"name": "a", "cron": "@hourly", "queue": "noop"},
      {"name": "b.c-d_e", "cron": "*/5 * * * *", "queue": "sleep", "time_zone": "Asia/Tokyo",
       "payload": {"ms": 10}, "api_key": "k", "max_attempts": 3, "timeout": "2m", "overlap": "allow",
       "catch_up": "all", "catch_up_window": "6h", "jitter": 30, "paused": true}])");
    ASSERT_EQ(defs.size(), 2u);
    EXPECT_EQ(defs[0].time_zone, "UTC");
    EXPECT_EQ(defs[0].overlap, ws::overlap::skip);
    EXPECT_EQ(defs[0].mode, ws::catch_up::latest);
    EXPECT_EQ(defs[0].window, 3600s);
    EXPECT_EQ(defs[0].payload_json, "{}");
    EXPECT_FALSE(defs[0].max_attempts);
    const auto& b = defs[1];
    EXPECT_EQ(b.time_zone, "Asia/Tokyo");
    EXPECT_EQ(b.payload_json, R"({"ms":10})");
    EXPECT_EQ(b.api_key, "k");
    EXPECT_EQ(b.max_attempts, 3);
    EXPECT_EQ(b.timeout_s, 120);
    EXPECT_EQ(b.overlap, ws::overlap::allow);
    EXPECT_EQ(b.mode, ws::catch_up::all);
    EXPECT_EQ(b.window, 6h);
    EXPECT_EQ(b.jitter, 30s);
    EXPECT_TRUE(b.paused);
}

TEST(definitions, refusals_name_the_schedule_and_the_field) {
    EXPECT_NE(error_of("[{\"cron\": \"@daily\", \"queue\": \"q\"}]").find("schedule #1: name: is required"), std::string::npos);
    EXPECT_NE(error_of(R"([{"name": "has space", "cron": "@daily", "queue": "q"}])").find("name: 1-64"), std::string::npos);
    EXPECT_NE(error_of(R"([{"name": "x", "cron": "@daily", "queue": "q", "timeout": "soon"}])").find("'x': timeout"),
              std::string::npos);
    EXPECT_NE(error_of(R"([{"name": "x", "cron": "@daily", "queue": "q", "jitter": "2h"}])").find("'x': jitter: must be at most"),
              std::string::npos);
    EXPECT_NE(error_of(R"([{"name": "x", "cron": "@daily", "queue": "q", "catch_up": "some"}])").find("'x': catch_up"),
              std::string::npos);
    EXPECT_NE(error_of(R"([{"name": "x", "cron": "@daily", "queue": "q", "payload": [1]}])").find("'x': payload"),
              std::string::npos);
    EXPECT_NE(error_of(R"([{"name": "x", "cron": "@daily", "queue": "q", "paused": "yes"}])").find("'x': paused"),
              std::string::npos);
    EXPECT_NE(error_of("[1]").find("schedule #1: must be a JSON object"), std::string::npos);
    EXPECT_NE(error_of("[").find("not JSON"), std::string::npos);
    EXPECT_NE(error_of(std::string(40, '[') + std::string(40, ']')).find("not JSON"), std::string::npos);
}

TEST(definitions, fire_job_ids_are_valid_producer_ids) {
    const ws::sys_seconds slot{date::sys_days{date::year{2026} / 3 / 8}.time_since_epoch() + 7h};
    EXPECT_EQ(ws::fire_job_id("nightly", slot), "sched:nightly:2026-03-08T07:00:00Z");
    const std::chrono::system_clock::time_point manual = std::chrono::system_clock::time_point{slot} + 1234ms;
    EXPECT_EQ(ws::fire_job_id("nightly", manual), "sched:nightly:2026-03-08T07:00:01.234Z");
}
