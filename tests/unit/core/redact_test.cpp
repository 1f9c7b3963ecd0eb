#include "wharf/core/redact.hpp"

#include <gtest/gtest.h>

TEST(redact, hides_url_passwords) {
    EXPECT_EQ(wharf::redact("redis://user:s3cret@host:6379/0"), "redis://user:***@host:6379/0");
    EXPECT_EQ(wharf::redact("rediss://:s3cret@host"), "rediss://:***@host");
    EXPECT_EQ(wharf::redact("postgresql://wharf:pw@127.0.0.1:5432/wharf?sslmode=disable"),
              "postgresql://wharf:***@127.0.0.1:5432/wharf?sslmode=disable");
    EXPECT_EQ(wharf::redact("redis://host:6379"), "redis://host:6379");
}

TEST(redact, hides_key_value_and_presign_secrets) {
    EXPECT_EQ(wharf::redact("host=db password=hunter2 dbname=x"), "host=db password=*** dbname=x");
    EXPECT_EQ(wharf::redact("http://h/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x=1"),
              "http://h/b/k?X-Amz-Credential=***&X-Amz-Signature=***&x=1");
    EXPECT_EQ(wharf::redact("https://a.blob/c/b?sv=1&sig=zzz"), "https://a.blob/c/b?sv=1&sig=***");
}

TEST(redact, url_without_secrets_drops_userinfo_query_and_fragment) {
    EXPECT_EQ(wharf::url_without_secrets("https://user:pw@cdn.example:8443/a/b.mp4?X-Amz-Signature=s&t=1#frag"),
              "https://cdn.example:8443/a/b.mp4");
    EXPECT_EQ(wharf::url_without_secrets("http://token@h/p"), "http://h/p");
    EXPECT_EQ(wharf::url_without_secrets("http://h/p@q?x"), "http://h/p@q");  // '@' in the path stays
    EXPECT_EQ(wharf::url_without_secrets("http://a@b@h/"), "http://h/");
    EXPECT_EQ(wharf::url_without_secrets("http://h"), "http://h");
    EXPECT_EQ(wharf::url_without_secrets("not a url?secret"), "not a url");
}

TEST(redact, payload_urls_are_stripped_before_a_row_keeps_them) {
    const auto stored = wharf::redact_payload_urls(
        R"({"url":"https://u:pw@h/v.mp4?sig=abc","nested":{"list":["HTTP://x:y@h2/?q=1","ftp://u:p@h/"]},"n":1})");
    EXPECT_EQ(stored.find("pw"), std::string::npos) << stored;
    EXPECT_EQ(stored.find("sig=abc"), std::string::npos) << stored;
    EXPECT_EQ(stored.find("x:y"), std::string::npos) << stored;
    EXPECT_NE(stored.find("\"https://h/v.mp4\""), std::string::npos) << stored;
    EXPECT_NE(stored.find("\"HTTP://h2/\""), std::string::npos) << stored;
    EXPECT_NE(stored.find("ftp://u:p@h/"), std::string::npos) << stored;  // only http(s) URLs are touched
    // No "://": returned as it is, byte for byte (the common case costs one search).
    EXPECT_EQ(wharf::redact_payload_urls(R"({"source": "/srv/in/a.mp4",  "key":"k"})"),
              R"({"source": "/srv/in/a.mp4",  "key":"k"})");
    EXPECT_EQ(wharf::redact_payload_urls("not json ://"), "not json ://");
}
