// reply: the value type's accessors, and the protocol errors a type mismatch raises.
#include "wharf/redis/reply.hpp"

#include <gtest/gtest.h>

namespace {

using wharf::redis::reply;
namespace redis = wharf::redis;

TEST(redis_reply, default_is_nil) {
    reply r;
    EXPECT_TRUE(r.is_nil());
    EXPECT_EQ(r.kind(), reply::type::nil);
    EXPECT_TRUE(r.elements().empty());  // nil reads as an empty array (XREADGROUP timeout)
    EXPECT_EQ(r.size(), 0u);
    EXPECT_EQ(r.debug_string(), "(nil)");
}

TEST(redis_reply, integer) {
    auto r = reply::make_integer(-42);
    EXPECT_TRUE(r.is_integer());
    EXPECT_EQ(r.integer(), -42);
    EXPECT_FALSE(r.is_string());
    EXPECT_THROW((void)r.str(), redis::error);
}

TEST(redis_reply, strings_status_and_error) {
    auto s = reply::make_string(std::string("a\0b", 3));
    EXPECT_TRUE(s.is_string());
    EXPECT_EQ(s.kind(), reply::type::string);
    EXPECT_EQ(s.str().size(), 3u);
    auto ok = reply::make_status("OK");
    EXPECT_TRUE(ok.is_string());
    EXPECT_EQ(ok.kind(), reply::type::status);
    EXPECT_EQ(ok.str(), "OK");
    auto e = reply::make_error("NOSCRIPT No matching script");
    EXPECT_TRUE(e.is_error());
    EXPECT_FALSE(e.is_string());
    EXPECT_EQ(e.str(), "NOSCRIPT No matching script");
    EXPECT_EQ(e.debug_string(), "(error) NOSCRIPT No matching script");
}

TEST(redis_reply, type_mismatch_is_a_protocol_error) {
    try {
        (void)reply::make_string("x").integer();
        FAIL() << "no throw";
    } catch (const redis::error& e) {
        EXPECT_EQ(e.which(), redis::error::kind::protocol);
        EXPECT_FALSE(e.retryable());
        EXPECT_NE(std::string(e.what()).find("expected integer"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)reply::make_integer(1).elements(), redis::error);
    EXPECT_THROW((void)reply::make_integer(1)[0], redis::error);
    EXPECT_THROW((void)reply{}.integer(), redis::error);
}

TEST(redis_reply, arrays_nest_and_check_bounds) {
    auto r = reply::make_array({reply::make_string("k"), reply::make_array({reply::make_integer(1), reply{}})});
    ASSERT_TRUE(r.is_array());
    EXPECT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].str(), "k");
    EXPECT_EQ(r[1][0].integer(), 1);
    EXPECT_TRUE(r[1][1].is_nil());
    EXPECT_THROW((void)r[2], redis::error);
    EXPECT_EQ(r.debug_string(), "[\"k\", [(integer) 1, (nil)]]");
}

TEST(redis_reply, debug_string_is_bounded) {
    auto r = reply::make_string(std::string(1 << 20, 'x'));
    EXPECT_LT(r.debug_string().size(), 5000u);
}

TEST(redis_error, kinds_say_what_is_worth_retrying) {
    using k = redis::error::kind;
    EXPECT_TRUE(redis::error(k::io, "x").retryable());
    EXPECT_TRUE(redis::error(k::timeout, "x").retryable());
    EXPECT_FALSE(redis::error(k::auth, "x").retryable());
    EXPECT_FALSE(redis::error(k::protocol, "x").retryable());
    EXPECT_FALSE(redis::error(k::closed, "x").retryable());
}

}  // namespace
