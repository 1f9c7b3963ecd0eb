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

// Found by tests/fuzz/storage_key_fuzz: only 2-byte overlong forms were refused, so "/" and "."
// could still be spelled in 3 or 4 bytes, and surrogates and bytes above U+10FFFF passed.
TEST(invalid_key_reason, refuses_every_ill_formed_utf8_sequence) {
    for (const char* key : {"\xf7\x8a\x8a\x8a",             // F5-F7 lead bytes: beyond U+10FFFF (the fuzzer's find)
                            "\xf4\x90\x80\x80",             // U+110000
                            "\xe0\x80\xaf",                 // overlong '/' in 3 bytes
                            "a\xe0\x80\xae\xe0\x80\xae/b",  // overlong ".." in 3 bytes
                            "\xf0\x80\x80\xaf",             // overlong '/' in 4 bytes
                            "\xed\xa0\x80",                 // a UTF-16 surrogate (U+D800)
                            "\xf8\x88\x80\x80\x80",         // 5-byte form
                            "\xe2\x82"})                    // truncated
        EXPECT_TRUE(invalid_key_reason(key)) << key;
    for (const char* key : {"\xe0\xa0\x80",      // U+0800, the first 3-byte code point
                            "\xed\x9f\xbf",      // U+D7FF, just below the surrogates
                            "\xee\x80\x80",      // U+E000, just above them
                            "\xf0\x90\x80\x80",  // U+10000
                            "\xf4\x8f\xbf\xbf",  // U+10FFFF, the last code point
                            "\xe2\x82\xac"})     // the euro sign
        EXPECT_FALSE(invalid_key_reason(key)) << key;
}
