// API keys: format, hashing, the constant-time check, scopes and tenants.
#include "wharf/apikeys/key.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace wharf::apikeys;

TEST(api_keys, generated_keys_parse_and_differ) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto k = generate();
        ASSERT_EQ(k.key.size(), 44u);
        EXPECT_EQ(prefix_of(k.key), k.prefix);
        EXPECT_TRUE(same(hash_of(k.key), k.hash));
        EXPECT_TRUE(seen.insert(k.key).second);
    }
    const auto k = generate();
    std::string other = k.key;
    other.back() = other.back() == 'a' ? 'b' : 'a';
    EXPECT_FALSE(same(hash_of(other), k.hash));
}

TEST(api_keys, malformed_keys_have_no_prefix) {
    for (const char* bad : {"", "wk_", "wk_abcdefgh_", "xx_abcdefgh_0123456789abcdef0123456789abcdef",
                            "wk_abcdefgh-0123456789abcdef0123456789abcdef", "wk_abc$efgh_0123456789abcdef0123456789abcdef",
                            "wk_abcdefgh_0123456789abcdef0123456789abcde!", "wk_abcdefgh_0123456789abcdef0123456789abcdefX"})
        EXPECT_FALSE(prefix_of(bad)) << bad;
    EXPECT_EQ(prefix_of("wk_abcdefgh_0123456789abcdef0123456789abcdef"), "abcdefgh");
}

TEST(api_keys, scopes_and_tenants) {
    std::string why;
    EXPECT_EQ(parse_scopes("jobs:read,storage:read,jobs:read", &why), (std::vector<std::string>{"jobs:read", "storage:read"}));
    EXPECT_FALSE(parse_scopes("jobs:read,admin", &why));
    EXPECT_NE(why.find("admin"), std::string::npos);
    EXPECT_FALSE(parse_scopes("", &why));
    EXPECT_TRUE(valid_tenant("tenant-1@acme.example"));
    EXPECT_FALSE(valid_tenant(""));
    EXPECT_FALSE(valid_tenant("a b"));
    EXPECT_FALSE(valid_tenant(std::string(129, 'a')));
}
