// The egress policy without a socket: every address class of the IANA special-purpose registries
// (a refusal of 10.x or 169.254.x is proved here, never with traffic), the IPv4 spellings
// getaddrinfo and libcurl turn into addresses, the embedded-IPv4 forms, the allow-list and ports.
#include "wharf/fetch/egress.hpp"
#include "wharf/fetch/error.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

namespace fetch = wharf::fetch;
namespace ip = boost::asio::ip;
using fetch::address_class;
using fetch::v4_embedding;

namespace {

fetch::address_verdict verdict(const std::string& text) { return fetch::classify(ip::make_address(text)); }

// What the resolver makes of a numeric host: inet_aton accepts octal, hex, and 1- to 3-part forms.
ip::address_v4 resolved(const std::string& spelling) {
    in_addr a{};
    if (::inet_aton(spelling.c_str(), &a) == 0) throw std::invalid_argument("inet_aton refused " + spelling);
    return ip::address_v4(ntohl(a.s_addr));
}

fetch::egress_policy policy(const std::string& allow) {
    auto rules = fetch::parse_allow_list(allow);
    if (!rules) throw std::invalid_argument(rules.error().message);
    return fetch::egress_policy(std::move(*rules));
}

std::string allow_error(const std::string& text) {
    const auto r = fetch::parse_allow_list(text);
    return r ? "" : r.error().message;
}

}  // namespace

TEST(egress_classify, ipv4_special_purpose_registry) {
    const std::pair<const char*, address_class> cases[] = {
        {"0.0.0.0", address_class::unspecified},       {"0.1.2.3", address_class::this_network},
        {"10.0.0.1", address_class::private_use},      {"10.255.255.255", address_class::private_use},
        {"100.64.0.1", address_class::shared},         {"100.127.255.254", address_class::shared},
        {"100.128.0.1", address_class::global},        {"127.0.0.1", address_class::loopback},
        {"127.255.0.9", address_class::loopback},      {"169.254.169.254", address_class::link_local},
        {"169.254.0.1", address_class::link_local},    {"172.16.0.1", address_class::private_use},
        {"172.31.255.255", address_class::private_use}, {"172.32.0.1", address_class::global},
        {"192.0.0.1", address_class::ietf_protocol},   {"192.0.0.9", address_class::ietf_protocol},
        {"192.0.0.170", address_class::ietf_protocol}, {"192.0.2.7", address_class::documentation},
        {"192.88.99.1", address_class::relay_anycast}, {"192.168.1.1", address_class::private_use},
        {"198.18.0.1", address_class::benchmarking},   {"198.19.255.255", address_class::benchmarking},
        {"198.51.100.2", address_class::documentation}, {"203.0.113.9", address_class::documentation},
        {"224.0.0.1", address_class::multicast},       {"239.255.255.250", address_class::multicast},
        {"240.0.0.1", address_class::reserved},        {"255.255.255.254", address_class::reserved},
        {"255.255.255.255", address_class::broadcast}, {"8.8.8.8", address_class::global},
        {"93.184.216.34", address_class::global},      {"11.0.0.1", address_class::global},
    };
    for (const auto& [text, cls] : cases) {
        SCOPED_TRACE(text);
        EXPECT_EQ(verdict(text), (fetch::address_verdict{cls, v4_embedding::none}));
    }
}

TEST(egress_classify, ipv6_special_purpose_registry) {
    const std::pair<const char*, address_class> cases[] = {
        {"::", address_class::unspecified},
        {"::1", address_class::loopback},
        {"100::1", address_class::discard_only},
        {"64:ff9b:1::1", address_class::local_translation},
        {"2001:2::1", address_class::benchmarking},
        {"2001:10::1", address_class::ietf_protocol},
        {"2001:1::1", address_class::ietf_protocol},
        {"2001:db8::1", address_class::documentation},
        {"3fff::1", address_class::documentation},
        {"fc00::1", address_class::unique_local},
        {"fd12:3456::1", address_class::unique_local},
        {"fe80::1", address_class::link_local},
        {"febf::1", address_class::link_local},
        {"fec0::1", address_class::site_local},
        {"ff02::1", address_class::multicast},
        {"5f00::1", address_class::reserved},
        {"4000::1", address_class::reserved},
        {"::ffff:0:7f00:1", address_class::reserved},  // SIIT "IPv4-translated": not a destination
        {"2606:4700::1111", address_class::global},
        {"2a00:1450:4001::1", address_class::global},
        {"2620:4f:8000::1", address_class::global},
    };
    for (const auto& [text, cls] : cases) {
        SCOPED_TRACE(text);
        EXPECT_EQ(verdict(text).cls, cls);
    }
}

TEST(egress_classify, ipv4_inside_ipv6_is_judged_as_the_ipv4_address) {
    // IPv4-mapped, -compatible, NAT64 (64:ff9b::/96), 6to4 and Teredo forms of refused addresses.
    EXPECT_EQ(verdict("::ffff:127.0.0.1"), (fetch::address_verdict{address_class::loopback, v4_embedding::mapped}));
    EXPECT_EQ(verdict("::ffff:169.254.169.254"), (fetch::address_verdict{address_class::link_local, v4_embedding::mapped}));
    EXPECT_EQ(verdict("::ffff:10.1.2.3").cls, address_class::private_use);
    EXPECT_EQ(verdict("::ffff:8.8.8.8"), (fetch::address_verdict{address_class::global, v4_embedding::mapped}));
    EXPECT_EQ(verdict("::127.0.0.1"), (fetch::address_verdict{address_class::loopback, v4_embedding::compatible}));
    EXPECT_EQ(verdict("::10.0.0.1").cls, address_class::private_use);
    // IPv4-compatible is deprecated: refused even around a global address.
    EXPECT_EQ(verdict("::8.8.8.8"), (fetch::address_verdict{address_class::ipv4_compatible, v4_embedding::compatible}));
    EXPECT_EQ(verdict("64:ff9b::127.0.0.1"), (fetch::address_verdict{address_class::loopback, v4_embedding::nat64}));
    EXPECT_EQ(verdict("64:ff9b::a9fe:a9fe"), (fetch::address_verdict{address_class::link_local, v4_embedding::nat64}));
    EXPECT_EQ(verdict("64:ff9b::192.168.0.1").cls, address_class::private_use);
    EXPECT_EQ(verdict("64:ff9b::8.8.8.8"), (fetch::address_verdict{address_class::global, v4_embedding::nat64}));
    EXPECT_EQ(verdict("2002:7f00:1::1"), (fetch::address_verdict{address_class::loopback, v4_embedding::six_to_four}));
    EXPECT_EQ(verdict("2002:a9fe:a9fe::"), (fetch::address_verdict{address_class::link_local, v4_embedding::six_to_four}));
    EXPECT_EQ(verdict("2002:0a00:0001::1").cls, address_class::private_use);
    EXPECT_EQ(verdict("2002:0808:0808::1"), (fetch::address_verdict{address_class::global, v4_embedding::six_to_four}));
    // Teredo: the client address is the last 32 bits inverted (127.0.0.1 -> 80ff:fffe).
    EXPECT_EQ(verdict("2001:0:4136:e378:8000:63bf:80ff:fffe"),
              (fetch::address_verdict{address_class::loopback, v4_embedding::teredo}));
    EXPECT_EQ(verdict("2001:0:4136:e378:8000:63bf:f5ff:fffe").cls, address_class::private_use);  // 10.0.0.1
    EXPECT_EQ(verdict("2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
              (fetch::address_verdict{address_class::global, v4_embedding::teredo}));  // 8.8.8.8
    EXPECT_EQ(verdict("2001:0:7f00:1:8000:63bf:f7f7:f7f7").cls, address_class::loopback);  // via server 127.0.0.1
}

TEST(egress_classify, numeric_ipv4_spellings_resolve_to_the_refused_address) {
    for (const auto* spelling : {"2130706433", "0177.0.0.1", "0x7f.1", "0x7f.0.0.1", "127.1", "127.0.1", "0x7f000001",
                                 "017700000001", "0177.1", "0x7F.0x0.0x0.0x1"}) {
        SCOPED_TRACE(spelling);
        EXPECT_EQ(resolved(spelling), ip::make_address_v4("127.0.0.1"));
        EXPECT_EQ(fetch::classify(resolved(spelling)).cls, address_class::loopback);
    }
    EXPECT_EQ(fetch::classify(resolved("0xa9.0xfe.0xa9.0xfe")).cls, address_class::link_local);  // 169.254.169.254
    EXPECT_EQ(fetch::classify(resolved("2852039166")).cls, address_class::link_local);           // the same
    EXPECT_EQ(fetch::classify(resolved("0300.0250.1.1")).cls, address_class::private_use);       // 192.168.1.1
    EXPECT_EQ(fetch::classify(resolved("10.1")).cls, address_class::private_use);                // 10.0.0.1
    EXPECT_EQ(fetch::classify(resolved("0")).cls, address_class::unspecified);
}

TEST(egress_classify, descriptions_name_the_class_and_the_embedding) {
    EXPECT_EQ(fetch::describe(verdict("127.0.0.1")), "loopback");
    EXPECT_EQ(fetch::describe(verdict("::ffff:127.0.0.1")), "IPv4-mapped loopback");
    EXPECT_EQ(fetch::describe(verdict("64:ff9b::a9fe:a9fe")), "NAT64 form of link-local (incl. the cloud metadata address)");
    EXPECT_EQ(fetch::describe(verdict("2002:a00:1::")), "6to4 form of private (RFC 1918)");
    EXPECT_EQ(fetch::describe(verdict("::8.8.8.8")), "IPv4-compatible (deprecated, ::/96)");
}

TEST(egress_policy, default_deny_allows_only_global_unicast_on_80_and_443) {
    const fetch::egress_policy deny;
    EXPECT_FALSE(deny.check(ip::make_address("93.184.216.34"), 80));
    EXPECT_FALSE(deny.check(ip::make_address("2606:4700::1111"), 443));
    EXPECT_FALSE(deny.check(ip::make_address("::ffff:93.184.216.34"), 443));
    EXPECT_TRUE(deny.check(ip::make_address("93.184.216.34"), 8080));
    for (const auto* refused : {"127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fe80::1",
                                "fd00::1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "224.0.0.1", "255.255.255.255"}) {
        SCOPED_TRACE(refused);
        const auto r = deny.check(ip::make_address(refused), 80);
        ASSERT_TRUE(r);
        EXPECT_NE(r->verdict.cls, address_class::global);
        EXPECT_NE(r->message.find(fetch::describe(r->verdict)), std::string::npos) << r->message;
    }
    const auto port = deny.check(ip::make_address("93.184.216.34"), 22);
    ASSERT_TRUE(port);
    EXPECT_NE(port->message.find("port 22"), std::string::npos) << port->message;
}

TEST(egress_policy, an_entry_opens_its_network_on_its_port_or_on_80_and_443) {
    const auto p = policy("127.0.0.1/32:8080, 10.1.0.0/16, [fd00::/8]:9000");
    EXPECT_FALSE(p.check(ip::make_address("127.0.0.1"), 8080));
    EXPECT_TRUE(p.check(ip::make_address("127.0.0.1"), 8081));
    EXPECT_TRUE(p.check(ip::make_address("127.0.0.1"), 80));  // the entry names its port
    EXPECT_TRUE(p.check(ip::make_address("127.0.0.2"), 8080));
    EXPECT_FALSE(p.check(ip::make_address("::ffff:127.0.0.1"), 8080));  // the mapped form is the address
    EXPECT_TRUE(p.check(ip::make_address("::ffff:127.0.0.1"), 8081));
    EXPECT_TRUE(p.check(ip::make_address("::1"), 8080));                // another address
    EXPECT_FALSE(p.check(ip::make_address("10.1.200.3"), 443));
    EXPECT_FALSE(p.check(ip::make_address("10.1.200.3"), 80));
    EXPECT_TRUE(p.check(ip::make_address("10.1.200.3"), 8443));  // no port: 80 and 443 only
    EXPECT_TRUE(p.check(ip::make_address("10.2.0.1"), 443));
    EXPECT_FALSE(p.check(ip::make_address("fd12::5"), 9000));
    EXPECT_TRUE(p.check(ip::make_address("fe80::5"), 9000));
    // A global address on another port, opened by a whole-internet entry.
    EXPECT_FALSE(policy("0.0.0.0/0:8080").check(ip::make_address("93.184.216.34"), 8080));
}

TEST(egress_allow_list, parses_and_prints_canonically) {
    const auto rules = fetch::parse_allow_list(" 127.0.0.1/32:8080,10.1.0.0/16 ,, ::1, [::1]:8443, [fd00::/8]:9000, 192.168.1.7");
    ASSERT_TRUE(rules) << rules.error().message;
    std::vector<std::string> printed;
    for (const auto& r : *rules) printed.push_back(fetch::to_string(r));
    EXPECT_EQ(printed, (std::vector<std::string>{"127.0.0.1/32:8080", "10.1.0.0/16", "::1/128", "[::1/128]:8443",
                                                 "[fd00::/8]:9000", "192.168.1.7/32"}));
    for (const auto& p : printed) {  // the printed form parses back to the same rule
        const auto again = fetch::parse_allow_list(p);
        ASSERT_TRUE(again) << p;
        EXPECT_EQ(fetch::to_string(again->at(0)), p);
    }
    EXPECT_TRUE(fetch::parse_allow_list("")->empty());
}

TEST(egress_allow_list, refuses_ambiguous_or_malformed_entries) {
    EXPECT_NE(allow_error("0177.0.0.1/32"), "");   // octal
    EXPECT_NE(allow_error("010.0.0.0/8"), "");     // leading zero
    EXPECT_NE(allow_error("0x7f.0.0.1"), "");      // hex
    EXPECT_NE(allow_error("127.1"), "");           // short form
    EXPECT_NE(allow_error("2130706433"), "");      // decimal
    EXPECT_NE(allow_error("10.1.2.3/16"), "");     // host bits set
    EXPECT_NE(allow_error("10.0.0.0/33"), "");
    EXPECT_NE(allow_error("10.0.0.0/08"), "");
    EXPECT_NE(allow_error("127.0.0.1:0"), "");
    EXPECT_NE(allow_error("127.0.0.1:65536"), "");
    EXPECT_NE(allow_error("127.0.0.1:"), "");
    EXPECT_NE(allow_error("[::1:8080"), "");
    EXPECT_NE(allow_error("[127.0.0.1]:80"), "");  // brackets are for IPv6
    EXPECT_NE(allow_error("fe80::1%eth0"), "");    // zone ids
    EXPECT_NE(allow_error("::ffff:127.0.0.1"), "");  // write it as IPv4
    EXPECT_NE(allow_error("::1/129"), "");
    EXPECT_NE(allow_error("example.com"), "");
    EXPECT_NE(allow_error("127.0.0.1/32:80x"), "");
    EXPECT_NE(allow_error(std::string(fetch::max_allow_list_bytes + 1, ' ')), "");
    std::string many;
    for (std::size_t i = 0; i <= fetch::max_allow_rules; ++i) many += "10.0.0.1,";
    EXPECT_NE(allow_error(many), "");
    // The message quotes the entry (an operator's own text), never anything else.
    EXPECT_NE(allow_error("10.0.0.0/40").find("\"10.0.0.0/40\""), std::string::npos);
}

TEST(fetch_errors, status_classes) {
    EXPECT_FALSE(fetch::status_retryable(400));
    EXPECT_FALSE(fetch::status_retryable(404));
    EXPECT_FALSE(fetch::status_retryable(410));
    EXPECT_TRUE(fetch::status_retryable(408));
    EXPECT_TRUE(fetch::status_retryable(429));
    EXPECT_TRUE(fetch::status_retryable(500));
    EXPECT_TRUE(fetch::status_retryable(503));
    EXPECT_FALSE(fetch::status_retryable(304));
    EXPECT_TRUE(fetch::error(fetch::errc::http_status, "x", 502).retryable());
    EXPECT_FALSE(fetch::error(fetch::errc::egress_refused, "x").retryable());
    EXPECT_FALSE(fetch::error(fetch::errc::too_large, "x").retryable());
    EXPECT_TRUE(fetch::error(fetch::errc::stalled, "x").retryable());
    EXPECT_TRUE(fetch::error(fetch::errc::cancelled, "x").retryable());
}
