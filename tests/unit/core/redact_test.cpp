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
