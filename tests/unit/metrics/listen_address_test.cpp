// --admin-listen's forms.
#include "wharf/admin/listen_address.hpp"

#include <gtest/gtest.h>

using namespace wharf::admin;

TEST(admin_listen, forms) {
    std::string why;
    auto a = parse_listen_address("127.0.0.1:9090", &why);
    ASSERT_TRUE(a) << why;
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 9090);
    EXPECT_EQ(a->to_string(), "127.0.0.1:9090");
    auto any = parse_listen_address(":9100", &why);
    ASSERT_TRUE(any);
    EXPECT_EQ(any->host, "0.0.0.0");
    auto v6 = parse_listen_address("[::1]:0", &why);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 0);
    EXPECT_EQ(v6->to_string(), "[::1]:0");
    auto off = parse_listen_address("off", &why);
    ASSERT_TRUE(off);
    EXPECT_FALSE(off->enabled);
    for (const char* bad : {"", "9090", "localhost:9090", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:x", "[::1]9090"}) {
        why.clear();
        EXPECT_FALSE(parse_listen_address(bad, &why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}
