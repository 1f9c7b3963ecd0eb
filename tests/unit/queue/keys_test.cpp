// The key layout: every key of a queue carries the queue's hash tag.
#include "wharf/queue/keys.hpp"

#include <gtest/gtest.h>

namespace q = wharf::queue;

TEST(queue_keys, every_key_carries_the_hash_tag) {
    const q::keys k{"transcode"};
    EXPECT_EQ(k.stream, "wharf:{transcode}:stream");
    EXPECT_EQ(k.delayed, "wharf:{transcode}:delayed");
    EXPECT_EQ(k.dead, "wharf:{transcode}:dead");
    EXPECT_EQ(k.stats, "wharf:{transcode}:stats");
    EXPECT_EQ(k.id_key("abc:1"), "wharf:{transcode}:id:abc:1");
}

TEST(queue_keys, queue_names_are_lowercase_words_without_braces) {
    EXPECT_TRUE(q::valid_queue_name("download"));
    EXPECT_TRUE(q::valid_queue_name("video-720p_2"));
    EXPECT_TRUE(q::valid_queue_name(std::string(64, 'a')));
    EXPECT_FALSE(q::valid_queue_name(""));
    EXPECT_FALSE(q::valid_queue_name(std::string(65, 'a')));
    EXPECT_FALSE(q::valid_queue_name("Download"));
    EXPECT_FALSE(q::valid_queue_name("a{b}"));
    EXPECT_FALSE(q::valid_queue_name("a:b"));
    EXPECT_FALSE(q::valid_queue_name("a b"));
}
