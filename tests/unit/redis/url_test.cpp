// Redis URL parsing: every accepted form, and one clear line for each kind of bad input.
#include "wharf/redis/endpoint.hpp"

#include <gtest/gtest.h>

namespace {

using wharf::redis::endpoint;
using wharf::redis::parse_url;

endpoint must_parse(std::string_view url) {
    std::string error;
    auto ep = parse_url(url, &error);
    EXPECT_TRUE(ep.has_value()) << url << ": " << error;
    return ep.value_or(endpoint{});
}

std::string error_of(std::string_view url) {
    std::string error;
    auto ep = parse_url(url, &error);
    EXPECT_FALSE(ep.has_value()) << url << " was accepted";
    return error;
}

TEST(redis_url, host_port_and_db) {
    auto ep = must_parse("redis://cache.internal:6380/3");
    EXPECT_EQ(ep.host, "cache.internal");
    EXPECT_EQ(ep.port, 6380);
    EXPECT_EQ(ep.db, 3);
    EXPECT_FALSE(ep.tls);
    EXPECT_TRUE(ep.password.empty());
    EXPECT_TRUE(ep.unix_socket.empty());
}

TEST(redis_url, defaults_port_6379_and_db_0) {
    auto ep = must_parse("redis://10.0.0.7");
    EXPECT_EQ(ep.host, "10.0.0.7");
    EXPECT_EQ(ep.port, 6379);
    EXPECT_EQ(ep.db, 0);
    EXPECT_EQ(must_parse("redis://h/").db, 0);
}

TEST(redis_url, password_alone_and_user_with_password) {
    auto ep = must_parse("redis://:s3cret@h:1/0");
    EXPECT_EQ(ep.username, "");
    EXPECT_EQ(ep.password, "s3cret");
    ep = must_parse("redis://worker:pw@h");
    EXPECT_EQ(ep.username, "worker");
    EXPECT_EQ(ep.password, "pw");
}

TEST(redis_url, userinfo_is_percent_decoded_and_may_hold_at_signs) {
    auto ep = must_parse("redis://us%40er:p%3Aw%2Fd%25@h");
    EXPECT_EQ(ep.username, "us@er");
    EXPECT_EQ(ep.password, "p:w/d%");
    // An unescaped '@' in the password: the last '@' ends the userinfo.
    ep = must_parse("redis://:a@b@h:7");
    EXPECT_EQ(ep.password, "a@b");
    EXPECT_EQ(ep.host, "h");
    EXPECT_EQ(ep.port, 7);
}

TEST(redis_url, ipv6_host) {
    auto ep = must_parse("redis://[::1]:7000/2");
    EXPECT_EQ(ep.host, "::1");
    EXPECT_EQ(ep.port, 7000);
    EXPECT_EQ(ep.db, 2);
}

TEST(redis_url, tls_with_options) {
    auto ep = must_parse("rediss://:pw@redis.example.com:6380/1?ca=/etc/ssl/my%20ca.pem&sni=other.example.com");
    EXPECT_TRUE(ep.tls);
    EXPECT_TRUE(ep.tls_verify);
    EXPECT_EQ(ep.tls_ca_file, "/etc/ssl/my ca.pem");
    EXPECT_EQ(ep.tls_sni, "other.example.com");
    EXPECT_FALSE(must_parse("rediss://h?insecure=true").tls_verify);
    EXPECT_FALSE(must_parse("rediss://h?insecure").tls_verify);
    EXPECT_TRUE(must_parse("rediss://h?insecure=false").tls_verify);
}

TEST(redis_url, unix_socket) {
    auto ep = must_parse("unix:///run/redis/redis.sock?db=4");
    EXPECT_EQ(ep.unix_socket, "/run/redis/redis.sock");
    EXPECT_EQ(ep.db, 4);
    ep = must_parse("unix://:pw@/tmp/r.sock");
    EXPECT_EQ(ep.password, "pw");
    EXPECT_EQ(ep.unix_socket, "/tmp/r.sock");
}

TEST(redis_url, query_db_overrides_path) { EXPECT_EQ(must_parse("redis://h/1?db=5").db, 5); }

TEST(redis_url, bad_inputs_get_one_clear_line) {
    EXPECT_EQ(error_of("redis://h:0"), "bad Redis URL: port must be 1-65535");
    EXPECT_EQ(error_of("redis://h:65536"), "bad Redis URL: port must be 1-65535");
    EXPECT_EQ(error_of("redis://h:63x"), "bad Redis URL: port must be 1-65535");
    EXPECT_EQ(error_of("redis://h:"), "bad Redis URL: port must be 1-65535");
    EXPECT_EQ(error_of("redis://h:-1"), "bad Redis URL: port must be 1-65535");
    EXPECT_NE(error_of("http://h").find("scheme must be redis://"), std::string::npos);
    EXPECT_NE(error_of("localhost:6379").find("expected redis://"), std::string::npos);
    EXPECT_NE(error_of("").find("expected redis://"), std::string::npos);
    EXPECT_NE(error_of("redis://").find("host is missing"), std::string::npos);
    EXPECT_NE(error_of("redis://:pw@:6379").find("host is missing"), std::string::npos);
    EXPECT_NE(error_of("redis://h/x").find("database must be"), std::string::npos);
    EXPECT_NE(error_of("redis://h/-1").find("database must be"), std::string::npos);
    EXPECT_NE(error_of("redis://h/1/2").find("database must be"), std::string::npos);
    EXPECT_NE(error_of("redis://h?db=").find("database must be"), std::string::npos);
    EXPECT_NE(error_of("redis://h?timeout=3").find("unknown parameter 'timeout'"), std::string::npos);
    EXPECT_NE(error_of("redis://h?ca=/x").find("need a rediss:// URL"), std::string::npos);
    EXPECT_NE(error_of("rediss://h?insecure=maybe").find("insecure must be true or false"), std::string::npos);
    EXPECT_NE(error_of("redis://:p%zz@h").find("bad percent-escape in the password"), std::string::npos);
    EXPECT_NE(error_of("redis://:p%4@h").find("bad percent-escape"), std::string::npos);
    EXPECT_NE(error_of("redis://user@h").find("needs a password"), std::string::npos);
    EXPECT_NE(error_of("redis://user:@h").find("password after ':' is empty"), std::string::npos);
    EXPECT_NE(error_of("redis://[::1:6379").find("unclosed '['"), std::string::npos);
    EXPECT_NE(error_of("redis://h#frag").find("fragments"), std::string::npos);
    EXPECT_NE(error_of("unix://host/tmp/x.sock").find("takes no host"), std::string::npos);
    EXPECT_NE(error_of("unix://").find("socket path is missing"), std::string::npos);
    EXPECT_NE(error_of("redis://h o").find("host contains ' '"), std::string::npos);
}

TEST(redis_url, errors_never_echo_the_password) {
    const auto e = error_of("redis://:hunter2@h:99999");
    EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(redis_url, null_error_pointer_is_allowed) { EXPECT_FALSE(parse_url("nope").has_value()); }

TEST(redis_url, display_string_masks_the_password) {
    EXPECT_EQ(must_parse("redis://:hunter2@h:6380/2").to_display_string(), "redis://:***@h:6380/2");
    EXPECT_EQ(must_parse("redis://bob:hunter2@h").to_display_string(), "redis://bob:***@h:6379");
    EXPECT_EQ(must_parse("redis://h").to_display_string(), "redis://h:6379");
    EXPECT_EQ(must_parse("rediss://:x@h?insecure=true").to_display_string(), "rediss://:***@h:6379?insecure=true");
    EXPECT_EQ(must_parse("rediss://h?ca=/a/b.pem").to_display_string(), "rediss://h:6379?ca=/a/b.pem");
    EXPECT_EQ(must_parse("redis://[::1]:7").to_display_string(), "redis://[::1]:7");
    EXPECT_EQ(must_parse("unix://:pw@/tmp/r.sock?db=3").to_display_string(), "unix://:***@/tmp/r.sock?db=3");
}

TEST(redis_url, display_string_parses_back_to_the_same_place) {
    for (const char* url : {"redis://h:6380/2", "rediss://h:1?insecure=true", "unix:///tmp/a.sock?db=1",
                            "rediss://h:6379?ca=/x%20y.pem&sni=n"}) {
        const auto ep = must_parse(url);
        const auto again = must_parse(ep.to_display_string());
        EXPECT_EQ(again.host, ep.host);
        EXPECT_EQ(again.port, ep.port);
        EXPECT_EQ(again.db, ep.db);
        EXPECT_EQ(again.tls, ep.tls);
        EXPECT_EQ(again.tls_verify, ep.tls_verify);
        EXPECT_EQ(again.tls_ca_file, ep.tls_ca_file);
        EXPECT_EQ(again.unix_socket, ep.unix_socket);
    }
}

}  // namespace
