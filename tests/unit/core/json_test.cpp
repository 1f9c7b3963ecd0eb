// parse_json: the size and depth limits hold, and no bad input throws.
#include "wharf/core/json.hpp"

#include <gtest/gtest.h>

using wharf::json_limits;
using wharf::parse_json;
using wharf::parsed_json;

namespace {
std::string nested(std::size_t levels, char open = '[', char close = ']') {
    return std::string(levels, open) + std::string(levels, close);
}
}  // namespace

TEST(parse_json, parses_ordinary_documents) {
    auto r = parse_json(R"({"a":[1,2.5,"x",null,true],"b":{"c":{}}})");
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.value["a"][1].get<double>(), 2.5);
    EXPECT_TRUE(r.value["b"]["c"].is_object());
    EXPECT_EQ(r.why, parsed_json::failure::none);
}

TEST(parse_json, depth_limit_counts_every_array_and_object) {
    const json_limits limits{.max_bytes = 1 << 20, .max_depth = 4};
    EXPECT_TRUE(parse_json(nested(4), limits));
    EXPECT_TRUE(parse_json(R"({"a":{"b":[{}]}})", limits));
    auto deep = parse_json(R"({"a":{"b":[{"c":[]}]}})", limits);
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.why, parsed_json::failure::too_deep);
    EXPECT_EQ(deep.error, "nested deeper than 4 levels");
    EXPECT_TRUE(deep.value.is_discarded());
}

// 200,000 levels used to parse and then overflow the stack of dump() (a worker crash loop).
TEST(parse_json, a_very_deep_document_is_refused_without_building_it) {
    for (auto [open, close] : {std::pair{'[', ']'}, std::pair{'{', '}'}}) {
        std::string text;
        if (open == '[') {
            text = nested(200'000);
        } else {
            for (int i = 0; i < 200'000; ++i) text += "{\"a\":";
            text += "1" + std::string(200'000, '}');
        }
        auto r = parse_json(text);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.why, parsed_json::failure::too_deep) << r.error;
    }
}

TEST(parse_json, size_limit) {
    const json_limits limits{.max_bytes = 10, .max_depth = 8};
    EXPECT_TRUE(parse_json("[1,2,3,4]", limits));
    auto r = parse_json("[1,2,3,4,5]", limits);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.why, parsed_json::failure::too_large);
    EXPECT_EQ(r.error, "larger than 10 bytes");
}

// nlohmann reports a double overflow as out_of_range, not parse_error: it must not escape.
TEST(parse_json, numbers_out_of_range_are_a_reason_not_an_exception) {
    for (const char* text : {"1e999999", "[-1e400]", R"({"a":1.5e309})"}) {
        parsed_json r;
        EXPECT_NO_THROW(r = parse_json(text)) << text;
        EXPECT_FALSE(r) << text;
        EXPECT_EQ(r.why, parsed_json::failure::syntax);
        EXPECT_NE(r.error.find("number overflow"), std::string::npos) << r.error;
    }
    // Big integers are fine: they become unsigned or floating point.
    EXPECT_TRUE(parse_json("[18446744073709551615, 123456789012345678901234567890]"));
}

TEST(parse_json, syntax_errors_carry_a_position_and_no_library_tag) {
    for (const char* text : {"", "{", "[1,]", "{\"a\" 1}", "nul", "[1] 2", "\"\xff\"", "\"\\ud800\""}) {
        parsed_json r;
        EXPECT_NO_THROW(r = parse_json(text)) << text;
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.why, parsed_json::failure::syntax) << text;
        EXPECT_EQ(r.error.find("[json.exception"), std::string::npos) << r.error;
        EXPECT_NE(r.error.find("at byte"), std::string::npos) << r.error;
    }
}

TEST(dump_json, never_throws_on_invalid_utf8) {
    nlohmann::json v = {{"name", std::string("caf\xe9")}};
    std::string out;
    EXPECT_NO_THROW(out = wharf::dump_json(v));
    EXPECT_EQ(out, "{\"name\":\"caf\xef\xbf\xbd\"}");
}
