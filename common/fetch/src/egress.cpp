// The egress policy: address classes (IANA special-purpose registries), the allow-list parser,
// and the check the client makes before every connection.
#include "wharf/fetch/egress.hpp"

#include "wharf/core/text.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace wharf::fetch {
namespace {

namespace ip = boost::asio::ip;
using bytes16 = ip::address_v6::bytes_type;

constexpr bool in_v4(std::uint32_t a, std::uint32_t network, unsigned prefix) noexcept {
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (a & mask) == network;
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) noexcept {
    return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | std::uint32_t{d};
}

// The IPv4 special-purpose registry (plus multicast and 240/4), most specific first.
address_class classify_v4(std::uint32_t a) noexcept {
    struct entry {
        std::uint32_t network;
        unsigned prefix;
        address_class cls;
    };
    static constexpr std::array<entry, 18> table{{
        {v4(0, 0, 0, 0), 32, address_class::unspecified},
        {v4(255, 255, 255, 255), 32, address_class::broadcast},
        {v4(0, 0, 0, 0), 8, address_class::this_network},
        {v4(10, 0, 0, 0), 8, address_class::private_use},
        {v4(100, 64, 0, 0), 10, address_class::shared},
        {v4(127, 0, 0, 0), 8, address_class::loopback},
        {v4(169, 254, 0, 0), 16, address_class::link_local},
        {v4(172, 16, 0, 0), 12, address_class::private_use},
        // The whole IETF block, with the two anycast addresses IANA marks global (PCP, TURN):
        // no media is served from them.
        {v4(192, 0, 0, 0), 24, address_class::ietf_protocol},
        {v4(192, 0, 2, 0), 24, address_class::documentation},
        {v4(192, 88, 99, 0), 24, address_class::relay_anycast},
        {v4(192, 168, 0, 0), 16, address_class::private_use},
        {v4(198, 18, 0, 0), 15, address_class::benchmarking},
        {v4(198, 51, 100, 0), 24, address_class::documentation},
        {v4(203, 0, 113, 0), 24, address_class::documentation},
        {v4(224, 0, 0, 0), 4, address_class::multicast},
        {v4(240, 0, 0, 0), 4, address_class::reserved},
        {v4(0, 0, 0, 0), 0, address_class::global},
    }};
    for (const auto& e : table)
        if (in_v4(a, e.network, e.prefix)) return e.cls;
    return address_class::global;
}

std::uint32_t v4_at(const bytes16& b, std::size_t at) noexcept {
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
           std::uint32_t{b[at + 3]};
}

bool in_v6(const bytes16& b, const bytes16& network, unsigned prefix) noexcept {
    for (unsigned i = 0; i < 16 && prefix > 0; ++i) {
        const unsigned bits = prefix >= 8 ? 8 : prefix;
        const auto mask = static_cast<unsigned char>(0xff << (8 - bits));
        if ((b[i] & mask) != (network[i] & mask)) return false;
        prefix -= bits;
    }
    return true;
}

bool starts_with_zeros(const bytes16& b, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        if (b[i] != 0) return false;
    return true;
}

// The IPv4 address an IPv6 address leads to, judged as that address; a global one keeps the
// embedding's own verdict (`if_global`).
address_verdict embedded(std::uint32_t a, v4_embedding via, address_class if_global) noexcept {
    const auto cls = classify_v4(a);
    return {cls == address_class::global ? if_global : cls, via};
}

address_verdict classify_v6(const bytes16& b) noexcept {
    const auto net = [](std::initializer_list<unsigned> head) {
        bytes16 n{};
        std::size_t i = 0;
        for (auto v : head) n[i++] = static_cast<unsigned char>(v);
        return n;
    };
    if (starts_with_zeros(b, 15)) {
        if (b[15] == 0) return {address_class::unspecified};
        if (b[15] == 1) return {address_class::loopback};
    }
    if (starts_with_zeros(b, 10) && b[10] == 0xff && b[11] == 0xff)  // ::ffff:0:0/96
        return {classify_v4(v4_at(b, 12)), v4_embedding::mapped};
    if (starts_with_zeros(b, 12))  // ::/96, deprecated IPv4-compatible
        return embedded(v4_at(b, 12), v4_embedding::compatible, address_class::ipv4_compatible);
    if (in_v6(b, net({0x00, 0x64, 0xff, 0x9b}), 96))  // 64:ff9b::/96, well-known NAT64
        return embedded(v4_at(b, 12), v4_embedding::nat64, address_class::global);
    if (in_v6(b, net({0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}), 48)) return {address_class::local_translation};
    if (in_v6(b, net({0x01, 0x00}), 64)) return {address_class::discard_only};
    if (in_v6(b, net({0x20, 0x01, 0x00, 0x00}), 32)) {  // Teredo: the client's address, obfuscated
        const auto server = classify_v4(v4_at(b, 4));
        if (server != address_class::global) return {server, v4_embedding::teredo};
        return embedded(~v4_at(b, 12), v4_embedding::teredo, address_class::global);
    }
    if (in_v6(b, net({0x20, 0x01, 0x00, 0x02, 0x00, 0x00}), 48)) return {address_class::benchmarking};
    if (in_v6(b, net({0x20, 0x01, 0x00, 0x00}), 23)) return {address_class::ietf_protocol};
    if (in_v6(b, net({0x20, 0x01, 0x0d, 0xb8}), 32)) return {address_class::documentation};
    if (in_v6(b, net({0x20, 0x02}), 16))  // 6to4: 2002:aabb:ccdd::/48 leads to a.b.c.d
        return embedded(v4_at(b, 2), v4_embedding::six_to_four, address_class::global);
    if (in_v6(b, net({0x3f, 0xff}), 20)) return {address_class::documentation};
    if (in_v6(b, net({0x20}), 3)) return {address_class::global};
    if (in_v6(b, net({0xfc}), 7)) return {address_class::unique_local};
    if (in_v6(b, net({0xfe, 0x80}), 10)) return {address_class::link_local};
    if (in_v6(b, net({0xfe, 0xc0}), 10)) return {address_class::site_local};
    if (in_v6(b, net({0xff}), 8)) return {address_class::multicast};
    return {address_class::reserved};
}

// An IPv4-mapped IPv6 address is the IPv4 address (a dual-stack socket connects to it).
ip::address unmapped(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

bool rule_covers(const allow_rule& r, const ip::address& a, std::uint16_t port) {
    if (r.port ? *r.port != port : (port != 80 && port != 443)) return false;
    if (r.network.is_v4() != a.is_v4()) return false;
    if (a.is_v4()) return in_v4(a.to_v4().to_uint(), r.network.to_v4().to_uint(), r.prefix);
    return in_v6(a.to_v6().to_bytes(), r.network.to_v6().to_bytes(), r.prefix);
}

// ---- allow-list parser ----

// A decimal number without sign or leading zeros, at most `max`.
std::optional<unsigned> strict_number(std::string_view s, unsigned max) {
    if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

// Dotted decimal only: inet_aton's octal, hex and short forms are refused here, where an operator
// writes them, so "010.0.0.1" cannot mean 8.0.0.1 to one reader and 10.0.0.1 to another.
std::optional<ip::address_v4> strict_v4(std::string_view s) {
    std::uint32_t value = 0;
    for (int part = 0; part < 4; ++part) {
        const auto dot = part < 3 ? s.find('.') : s.size();
        if (dot == std::string_view::npos) return std::nullopt;
        const auto octet = strict_number(s.substr(0, dot), 255);
        if (!octet || s.substr(0, dot).size() > 3) return std::nullopt;
        value = (value << 8) | *octet;
        s.remove_prefix(part < 3 ? dot + 1 : dot);
    }
    return ip::address_v4(value);
}

std::optional<ip::address_v6> strict_v6(std::string_view s) {
    if (s.empty() || s.size() > 45 || s.find('%') != std::string_view::npos) return std::nullopt;
    boost::system::error_code ec;
    auto a = ip::make_address_v6(std::string(s), ec);
    if (ec) return std::nullopt;
    return a;
}

bool host_bits_zero(const allow_rule& r) {
    if (r.network.is_v4()) {
        const std::uint32_t host = r.prefix >= 32 ? 0 : ~std::uint32_t{0} >> r.prefix;
        return (r.network.to_v4().to_uint() & host) == 0;
    }
    const auto b = r.network.to_v6().to_bytes();
    for (unsigned bit = r.prefix; bit < 128; ++bit)
        if (b[bit / 8] & (0x80u >> (bit % 8))) return false;
    return true;
}

boost::system::result<allow_rule, allow_list_error> parse_rule(std::string_view entry) {
    const auto fail = [&](std::string_view why) {
        return allow_list_error{fmt::format("\"{}\": {}", entry, why)};
    };
    std::string_view address, prefix, port;
    bool has_prefix = false, has_port = false;
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        if (close == std::string_view::npos) return fail("missing ]");
        address = entry.substr(1, close - 1);
        auto rest = entry.substr(close + 1);
        if (const auto slash = address.find('/'); slash != std::string_view::npos) {
            prefix = address.substr(slash + 1);
            address = address.substr(0, slash);
            has_prefix = true;
        } else if (rest.starts_with('/')) {
            const auto colon = rest.find(':');
            prefix = rest.substr(1, colon == std::string_view::npos ? std::string_view::npos : colon - 1);
            rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon);
            has_prefix = true;
        }
        if (!rest.empty()) {
            if (!rest.starts_with(':')) return fail("expected :port after ]");
            port = rest.substr(1);
            has_port = true;
        }
        if (address.find(':') == std::string_view::npos) return fail("brackets are for IPv6 addresses");
    } else if (std::count(entry.begin(), entry.end(), ':') >= 2) {  // a bare IPv6 network, no port
        address = entry;
        if (const auto slash = address.find('/'); slash != std::string_view::npos) {
            prefix = address.substr(slash + 1);
            address = address.substr(0, slash);
            has_prefix = true;
        }
    } else {
        address = entry;
        if (const auto colon = address.find(':'); colon != std::string_view::npos) {
            port = address.substr(colon + 1);
            address = address.substr(0, colon);
            has_port = true;
        }
        if (const auto slash = address.find('/'); slash != std::string_view::npos) {
            prefix = address.substr(slash + 1);
            address = address.substr(0, slash);
            has_prefix = true;
        }
    }

    allow_rule rule;
    if (auto a4 = strict_v4(address)) {
        rule.network = *a4;
        rule.prefix = 32;
    } else if (auto a6 = strict_v6(address)) {
        rule.network = *a6;
        rule.prefix = 128;
    } else {
        return fail("not an IPv4 (dotted decimal) or IPv6 address");
    }
    if (has_prefix) {
        const auto p = strict_number(prefix, rule.prefix);
        if (!p) return fail(fmt::format("prefix length must be 0 to {}", rule.prefix));
        rule.prefix = *p;
    }
    if (has_port) {
        const auto p = strict_number(port, 65535);
        if (!p || *p == 0) return fail("port must be 1 to 65535");
        rule.port = static_cast<std::uint16_t>(*p);
    }
    if (!host_bits_zero(rule)) return fail("host bits are set below the prefix length");
    // ::ffff:a.b.c.d is matched as a.b.c.d; a mapped rule would never match anything.
    if (rule.network.is_v6() && rule.network.to_v6().is_v4_mapped())
        return fail("write IPv4-mapped networks as IPv4");
    return rule;
}

}  // namespace

address_verdict classify(const boost::asio::ip::address& address) noexcept {
    if (address.is_v4()) return {classify_v4(address.to_v4().to_uint())};
    return classify_v6(address.to_v6().to_bytes());
}

std::string_view to_string(address_class cls) noexcept {
    switch (cls) {
        case address_class::global: return "global unicast";
        case address_class::unspecified: return "unspecified";
        case address_class::this_network: return "\"this network\" (0.0.0.0/8)";
        case address_class::loopback: return "loopback";
        case address_class::private_use: return "private (RFC 1918)";
        case address_class::shared: return "shared address space (CGNAT, 100.64.0.0/10)";
        case address_class::link_local: return "link-local (incl. the cloud metadata address)";
        case address_class::ietf_protocol: return "IETF protocol assignment";
        case address_class::documentation: return "documentation";
        case address_class::benchmarking: return "benchmarking";
        case address_class::relay_anycast: return "6to4 relay anycast (deprecated)";
        case address_class::reserved: return "reserved";
        case address_class::broadcast: return "broadcast";
        case address_class::multicast: return "multicast";
        case address_class::unique_local: return "unique-local (fc00::/7)";
        case address_class::site_local: return "site-local (deprecated)";
        case address_class::discard_only: return "discard-only (100::/64)";
        case address_class::local_translation: return "local-use IPv4/IPv6 translation (64:ff9b:1::/48)";
        case address_class::ipv4_compatible: return "IPv4-compatible (deprecated, ::/96)";
    }
    return "unknown";
}

std::string describe(const address_verdict& v) {
    switch (v.via) {
        case v4_embedding::none: break;
        case v4_embedding::mapped: return fmt::format("IPv4-mapped {}", to_string(v.cls));
        case v4_embedding::compatible:
            if (v.cls == address_class::ipv4_compatible) break;
            return fmt::format("IPv4-compatible form of {}", to_string(v.cls));
        case v4_embedding::nat64: return fmt::format("NAT64 form of {}", to_string(v.cls));
        case v4_embedding::six_to_four: return fmt::format("6to4 form of {}", to_string(v.cls));
        case v4_embedding::teredo: return fmt::format("Teredo form of {}", to_string(v.cls));
    }
    return std::string{to_string(v.cls)};
}

boost::system::result<std::vector<allow_rule>, allow_list_error> parse_allow_list(std::string_view text) {
    if (text.size() > max_allow_list_bytes)
        return allow_list_error{fmt::format("longer than {} bytes", max_allow_list_bytes)};
    std::vector<allow_rule> rules;
    while (true) {
        const auto comma = text.find(',');
        const auto entry = trim_ows(text.substr(0, comma));
        if (!entry.empty()) {
            if (rules.size() == max_allow_rules)
                return allow_list_error{fmt::format("more than {} entries", max_allow_rules)};
            auto rule = parse_rule(entry);
            if (!rule) return rule.error();
            rules.push_back(std::move(*rule));
        }
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return rules;
}

std::string to_string(const allow_rule& r) {
    const auto port = r.port ? fmt::format(":{}", *r.port) : std::string{};
    if (r.network.is_v4()) return fmt::format("{}/{}{}", r.network.to_string(), r.prefix, port);
    if (r.port) return fmt::format("[{}/{}]{}", r.network.to_string(), r.prefix, port);
    return fmt::format("{}/{}", r.network.to_string(), r.prefix);
}

std::optional<egress_refusal> egress_policy::check(const boost::asio::ip::address& address, std::uint16_t port) const {
    const auto target = unmapped(address);
    for (const auto& rule : rules_)
        if (rule_covers(rule, target, port)) return std::nullopt;
    const auto verdict = classify(address);
    if (verdict.cls != address_class::global)
        return egress_refusal{verdict, fmt::format("egress refused: {} is {} (not opened by download_allow)",
                                                   address.to_string(), describe(verdict))};
    if (port != 80 && port != 443)
        return egress_refusal{verdict, fmt::format("egress refused: port {} of {} (ports other than 80 and 443 need "
                                                   "an entry in download_allow)",
                                                   port, address.to_string())};
    return std::nullopt;
}

}  // namespace wharf::fetch
