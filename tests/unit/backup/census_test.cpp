#include "wharf/backup/census.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace wharf::backup;

TEST(census, differences_name_the_table_and_what_differs) {
    const census expected{{"jobs", {100, "12345"}}, {"objects", {5, "9"}}, {"schedules", {1, "3"}}};
    EXPECT_TRUE(census_differences(expected, expected).empty());
    census got = expected;
    got["jobs"].rows = 99;
    got["objects"].checksum = "10";
    got.erase("schedules");
    got["extra"] = {0, "0"};
    const auto d = census_differences(expected, got);
    ASSERT_EQ(d.size(), 4u);
    EXPECT_EQ(d[0], "table jobs: 99 rows, the backup had 100");
    EXPECT_EQ(d[1], "table objects: same row count (5), different rows");
    EXPECT_EQ(d[2], "table schedules is missing");
    EXPECT_EQ(d[3], "table extra was not in the backup");
}

TEST(census, round_trips_through_the_manifest_and_refuses_a_malformed_one) {
    const census c{{"jobs", {100, "-42"}}, {"a b", {0, "0"}}};
    EXPECT_EQ(census_from_json(to_json(c)), c);
    EXPECT_THROW(census_from_json(nlohmann::json::array()), std::invalid_argument);
    EXPECT_THROW(census_from_json(nlohmann::json{{"jobs", {{"rows", -1}, {"checksum", "1"}}}}), std::invalid_argument);
    EXPECT_THROW(census_from_json(nlohmann::json{{"jobs", {{"rows", 1}}}}), std::invalid_argument);
    EXPECT_EQ(census_from_manifest(nlohmann::json{{"tables", to_json(c)}}.dump()), c);
    EXPECT_THROW(census_from_manifest("{\"tables\": " + std::string(100, '[') + std::string(100, ']') + "}"),
                 std::invalid_argument);
    EXPECT_THROW(census_from_manifest("{}"), std::invalid_argument);
    EXPECT_THROW(census_from_manifest("not json"), std::invalid_argument);
}
