// The egress policy of the fetch client (pure, sans-io): which addresses and ports a download may
// connect to. The client asks it about the address each socket is about to connect to (and again
// before a request on a reused connection), never about the URL text, so decimal, octal, hex and
// short IPv4 spellings and names that resolve to a refused address are all judged by the address
// they end up as.
//
// By default only global unicast addresses on ports 80 and 443 are allowed. Everything the IANA
// IPv4 and IPv6 special-purpose registries mark as not globally reachable is refused (loopback,
// RFC 1918, link-local with the cloud metadata address 169.254.169.254, CGNAT, 0.0.0.0/8,
// documentation, benchmarking, 240/4, broadcast, multicast, unique-local, site-local, discard-only,
// the IETF protocol blocks 192.0.0.0/24 and 2001::/23, local-use NAT64), and so is every IPv6
// address outside 2000::/3. IPv4 embedded in IPv6 is judged by the IPv4 address: the IPv4-mapped
// form ::ffff:a.b.c.d is that address (also for the allow-list); the IPv4-compatible ::a.b.c.d
// (deprecated: always refused), NAT64 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd:: and Teredo forms
// are refused when the address they lead to is.
//
// An operator allow-list opens what a deployment needs: "127.0.0.1/32:8080,10.1.0.0/16,[fd00::/8]:9000".
// An entry is an address or CIDR network with an optional port (IPv6 in brackets when a port
// follows). With a port it opens that port only; without one, ports 80 and 443. Ports other than
// 80 and 443 are refused everywhere unless an entry opens them.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::fetch {

enum class address_class {
    global,             // global unicast: the only class allowed by default
    unspecified,        // 0.0.0.0, ::
    this_network,       // 0.0.0.0/8
    loopback,           // 127.0.0.0/8, ::1
    private_use,        // 10/8, 172.16/12, 192.168/16 (RFC 1918)
    shared,             // 100.64.0.0/10 (CGNAT, RFC 6598)
    link_local,         // 169.254.0.0/16 (incl. 169.254.169.254, cloud metadata), fe80::/10
    ietf_protocol,      // 192.0.0.0/24, 2001::/23 (but Teredo, 2001::/32)
    documentation,      // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
    benchmarking,       // 198.18.0.0/15, 2001:2::/48
    relay_anycast,      // 192.88.99.0/24: the deprecated 6to4 relay anycast
    reserved,           // 240.0.0.0/4; IPv6 outside 2000::/3 with no better name
    broadcast,          // 255.255.255.255
    multicast,          // 224.0.0.0/4, ff00::/8
    unique_local,       // fc00::/7
    site_local,         // fec0::/10 (deprecated)
    discard_only,       // 100::/64
    local_translation,  // 64:ff9b:1::/48 (local-use IPv4/IPv6 translation)
    ipv4_compatible,    // ::/96 around a global IPv4 address (deprecated, never routed)
};

// How an IPv6 address carries the IPv4 address it was judged by.
enum class v4_embedding { none, mapped, compatible, nat64, six_to_four, teredo };

struct address_verdict {
    address_class cls = address_class::global;
    v4_embedding via = v4_embedding::none;
    friend bool operator==(const address_verdict&, const address_verdict&) = default;
};

// The class of an address (see the top of this file).
address_verdict classify(const boost::asio::ip::address& address) noexcept;
// "loopback", "private (RFC 1918)", ...
std::string_view to_string(address_class cls) noexcept;
// The class with its embedding: "IPv4-mapped loopback", "NAT64 form of link-local (...)".
std::string describe(const address_verdict& verdict);

// One allow-list entry: a network (host bits zero) and the port it opens (none: 80 and 443).
struct allow_rule {
    boost::asio::ip::address network;
    unsigned prefix = 0;  // 0..32 for IPv4, 0..128 for IPv6
    std::optional<std::uint16_t> port;
    friend bool operator==(const allow_rule&, const allow_rule&) = default;
};

// Limits of the allow-list parser (operator input, but bounded like every parser).
inline constexpr std::size_t max_allow_list_bytes = 16 * 1024;
inline constexpr std::size_t max_allow_rules = 256;

struct allow_list_error {
    std::string message;
};

// Parses "127.0.0.1/32:8080, 10.1.0.0/16, ::1, [fd00::/8]:9000". Empty entries are skipped;
// IPv4 must be dotted decimal without leading zeros (no octal or hex spellings); a network with
// host bits set, a zone id, a port of 0 or an entry count or length over the limits is an error.
boost::system::result<std::vector<allow_rule>, allow_list_error> parse_allow_list(std::string_view text);
// The canonical spelling of a rule ("127.0.0.1/32:8080", "[::1/128]:8443", "10.0.0.0/8").
std::string to_string(const allow_rule& rule);

// Why a connection may not be made (names the address class, never anything from the URL).
struct egress_refusal {
    address_verdict verdict;
    std::string message;
};

class egress_policy {
public:
    egress_policy() = default;  // default deny: global unicast on 80 and 443 only
    explicit egress_policy(std::vector<allow_rule> rules) : rules_(std::move(rules)) {}

    // nullopt when a socket may connect to address:port.
    std::optional<egress_refusal> check(const boost::asio::ip::address& address, std::uint16_t port) const;
    const std::vector<allow_rule>& rules() const noexcept { return rules_; }

private:
    std::vector<allow_rule> rules_;
};

}  // namespace wharf::fetch
