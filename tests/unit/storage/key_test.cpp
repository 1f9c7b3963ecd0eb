// Key validation: what every backend refuses before any I/O.
#include "wharf/storage/provider.hpp"

#include <gtest/gtest.h>

using wharf::storage::invalid_key_reason;

TEST(invalid_key_reason, accepts_ordinary_keys) {
    for (const char* key : {"a", "videos/2026/clip.mp4", "temp/x y (1).bin", "processed/\xc3\xa9t\xc3\xa9.txt",
                            "a..b/c.", ".hidden/x"})
        EXPECT_FALSE(invalid_key_reason(key)) << key;
}

TEST(invalid_key_reason, refuses_traversal_and_aliases) {
    for (const char* key : {"..", "../etc/passwd", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", "/abs"})
        EXPECT_TRUE(invalid_key_reason(key)) << key;
}

TEST(invalid_key_reason, refuses_bad_bytes) {
    EXPECT_TRUE(invalid_key_reason(""));
    EXPECT_TRUE(invalid_key_reason(std::string("a\0b", 3)));
    EXPECT_TRUE(invalid_key_reason("a\\..\\b"));
    EXPECT_TRUE(invalid_key_reason("a\nb"));
    EXPECT_TRUE(invalid_key_reason("a\x7f"));
    EXPECT_TRUE(invalid_key_reason("bad\xff"));       // not UTF-8
    EXPECT_TRUE(invalid_key_reason("\xc0\xae\xc0\xae/x"));  // overlong ".."
    EXPECT_TRUE(invalid_key_reason(std::string(1025, 'a')));
    EXPECT_FALSE(invalid_key_reason(std::string(1024, 'a')));
}
