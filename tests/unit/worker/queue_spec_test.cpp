// --queues parsing: the accepted forms and one readable error for each kind of mistake.
#include "wharf/core/config.hpp"
#include "wharf/worker/queue_spec.hpp"

#include <gtest/gtest.h>

using wharf::config_error;
using wharf::worker::parse_queue_specs;

namespace {

std::string error_of(std::string_view text) {
    try {
        parse_queue_specs(text);
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(queue_spec, parses_names_and_concurrency_in_order) {
    const auto specs = parse_queue_specs("download=8,transcode=2");
    ASSERT_EQ(specs.size(), 2u);
    EXPECT_EQ(specs[0].name, "download");
    EXPECT_EQ(specs[0].concurrency, 8u);
    EXPECT_EQ(specs[1].name, "transcode");
    EXPECT_EQ(specs[1].concurrency, 2u);
}

TEST(queue_spec, accepts_a_single_queue_and_the_bounds) {
    EXPECT_EQ(parse_queue_specs("noop=1").at(0).concurrency, 1u);
    EXPECT_EQ(parse_queue_specs("a_b-c9=10000").at(0).concurrency, 10'000u);
}

TEST(queue_spec, refuses_bad_syntax_with_a_readable_line) {
    EXPECT_NE(error_of("").find("no queue given"), std::string::npos);
    EXPECT_NE(error_of("download").find("has no '=concurrency'"), std::string::npos);
    EXPECT_NE(error_of("download=8,").find("empty entry"), std::string::npos);
    EXPECT_NE(error_of("download=8,,x=1").find("empty entry"), std::string::npos);
    EXPECT_NE(error_of("=3").find("is not a queue name"), std::string::npos);
    EXPECT_NE(error_of("Down{load}=3").find("is not a queue name"), std::string::npos);
    EXPECT_NE(error_of("download=").find("must be a whole number"), std::string::npos);
    EXPECT_NE(error_of("download=0").find("must be a whole number"), std::string::npos);
    EXPECT_NE(error_of("download=-1").find("must be a whole number"), std::string::npos);
    EXPECT_NE(error_of("download=2x").find("must be a whole number"), std::string::npos);
    EXPECT_NE(error_of("download=10001").find("must be a whole number"), std::string::npos);
    EXPECT_NE(error_of("download=1,download=2").find("named twice"), std::string::npos);
    // Every message says what was expected, on one line.
    const auto e = error_of("download");
    EXPECT_NE(e.find("expected name=concurrency"), std::string::npos);
    EXPECT_EQ(e.find('\n'), std::string::npos);
}
