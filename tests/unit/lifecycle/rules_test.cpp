#include "wharf/lifecycle/rules.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace l = wharf::lifecycle;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

l::rule_set parse(const char* text) { return l::parse_rules(json::parse(text), "test"); }

std::string refusal(const char* text) {
    try {
        parse(text);
    } catch (const wharf::config_error& e) {
        return e.what();
    }
    return "";
}

l::action decide(const l::rule_set& r, std::string_view key, std::chrono::seconds age, std::uint64_t size = 1 << 20,
                 std::string_view tier = "hot", std::optional<std::string> api_key = std::nullopt) {
    return l::decide(r, l::object_facts{key, std::move(api_key), size, tier, age});
}

constexpr std::chrono::seconds days(int n) { return std::chrono::seconds(86400LL * n); }

}  // namespace

TEST(lifecycle_rules, parse_reads_every_field) {
    const auto r = parse(R"({"min_size": "64KiB", "rules": [
        {"prefix": "processed/", "warm_after": "30d", "cold_after": "90d"},
        {"prefix": "videos/", "api_key": "t1", "cold_after": "12h", "expire_after": "365d"}]})");
    EXPECT_EQ(r.min_tier_size, 64u * 1024);
    ASSERT_EQ(r.rules.size(), 2u);
    EXPECT_EQ(r.rules[0].prefix, "processed/");
    EXPECT_EQ(r.rules[0].warm_after, days(30));
    EXPECT_EQ(r.rules[0].cold_after, days(90));
    EXPECT_FALSE(r.rules[0].expire_after);
    EXPECT_EQ(r.rules[1].api_key, "t1");
    EXPECT_EQ(r.rules[1].cold_after, 12h);
    EXPECT_EQ(r.rules[1].expire_after, days(365));
    EXPECT_EQ(parse(R"({"rules": []})").min_tier_size, 128u * 1024) << "default min_size";
}

TEST(lifecycle_rules, refusals_name_the_rule_and_the_field) {
    EXPECT_NE(refusal(R"([])").find("expected"), std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [], "extra": 1})").find("unknown field \"extra\""), std::string::npos);
    EXPECT_NE(refusal(R"({"rules": {}})").find("\"rules\" must be an array"), std::string::npos);
    EXPECT_NE(refusal(R"({"min_size": "big", "rules": []})").find("min_size"), std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"warm_after": "1d"}]})").find("rule #1 needs a \"prefix\""), std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": ""}]})").find("\"prefix\" must be a non-empty string"), std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/"}]})").find("needs warm_after, cold_after or expire_after"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/", "warm_after": "soon"}]})").find("\"warm_after\" must be an age"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/", "warm_after": 30}]})").find("\"warm_after\""), std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/", "warm_after": "9d", "cold_after": "9d"}]})")
                  .find("cold_after must be later than warm_after"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/", "cold_after": "9d", "expire_after": "2d"}]})")
                  .find("expire_after must be later"),
              std::string::npos);
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/", "cold_after": "9d"}, {"prefix": "a/", "expire_after": "2d"}]})")
                  .find("rule #2 (a/): another rule has the same prefix"),
              std::string::npos);
    EXPECT_EQ(refusal(R"({"rules": [{"prefix": "a/", "cold_after": "9d"}, {"prefix": "a/", "api_key": "t", "expire_after": "2d"}]})"),
              "")
        << "the same prefix for one tenant is another rule";
    EXPECT_NE(refusal(R"({"rules": [{"prefix": "a/", "cold_after": "9d", "tier": "cold"}]})").find("unknown field \"tier\""),
              std::string::npos);
}

TEST(lifecycle_rules, the_longest_prefix_governs_and_a_tenants_rule_beats_the_general_one) {
    const auto r = parse(R"({"rules": [
        {"prefix": "processed/", "warm_after": "30d"},
        {"prefix": "processed/v1/", "cold_after": "10d"},
        {"prefix": "processed/", "api_key": "t1", "expire_after": "5d"}]})");
    EXPECT_EQ(l::governing_rule(r, "processed/v2/a.mp4", std::nullopt), &r.rules[0]);
    EXPECT_EQ(l::governing_rule(r, "processed/v1/a.mp4", std::nullopt), &r.rules[1]);
    EXPECT_EQ(l::governing_rule(r, "processed/v2/a.mp4", "t1"), &r.rules[2]);
    EXPECT_EQ(l::governing_rule(r, "processed/v1/a.mp4", "t1"), &r.rules[1]) << "a longer prefix wins over the tenant";
    EXPECT_EQ(l::governing_rule(r, "processed/v2/a.mp4", "t2"), &r.rules[0]);
    EXPECT_EQ(l::governing_rule(r, "videos/a.mp4", std::nullopt), nullptr);
}

TEST(lifecycle_rules, decide_follows_age_and_tier_never_warms_and_skips_small_objects) {
    const auto r = l::default_rules();  // processed/ warm 30d cold 90d; temp/ expire 1d; failed/ expire 7d
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(29)), l::action::keep);
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(30)), l::action::to_warm);
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(45), 1 << 20, "warm"), l::action::keep);
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(90)), l::action::to_cold) << "straight to cold when both passed";
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(90), 1 << 20, "warm"), l::action::to_cold);
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(400), 1 << 20, "cold"), l::action::keep);
    EXPECT_EQ(decide(r, "processed/v/a.mp4", days(10), 1 << 20, "cold"), l::action::keep) << "never warmer";
    EXPECT_EQ(decide(r, "processed/v/small.json", days(400), 128 * 1024 - 1), l::action::keep) << "under min_size";
    EXPECT_EQ(decide(r, "processed/v/edge.json", days(400), 128 * 1024), l::action::to_cold);
    EXPECT_EQ(decide(r, "temp/p/x", 23h), l::action::keep);
    EXPECT_EQ(decide(r, "temp/p/x", 24h, 10), l::action::expire) << "expiry ignores min_size";
    EXPECT_EQ(decide(r, "failed/j/x", days(7)), l::action::expire);
    EXPECT_EQ(decide(r, "videos/v/raw.mp4", days(1000)), l::action::keep) << "no rule";
}
