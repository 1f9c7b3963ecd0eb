// The download allow-list (download_allow) and the address classifier: any text either parses
// or names its fault; what parses prints canonically and parses back to the same rules; any 16
// bytes classify, and an IPv4-mapped address is judged exactly as its IPv4 address.
#include "fuzz_support.hpp"

#include "wharf/fetch/egress.hpp"

#include <fuzzer/FuzzedDataProvider.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fetch = wharf::fetch;
    namespace ip = boost::asio::ip;
    FuzzedDataProvider in(data, size);
    ip::address_v6::bytes_type raw{};
    for (auto& b : raw) b = in.ConsumeIntegral<unsigned char>();
    const auto port = in.ConsumeIntegral<std::uint16_t>();
    const auto text = in.ConsumeRemainingBytesAsString();

    const ip::address_v6 v6(raw);
    const auto verdict = fetch::classify(v6);
    WHARF_FUZZ_CHECK(!fetch::describe(verdict).empty());
    const ip::address_v4 v4(static_cast<std::uint32_t>(raw[12]) << 24 | raw[13] << 16 | raw[14] << 8 | raw[15]);
    const auto mapped = fetch::classify(ip::make_address_v6(ip::v4_mapped, v4));
    WHARF_FUZZ_CHECK(mapped.cls == fetch::classify(v4).cls && mapped.via == fetch::v4_embedding::mapped);
    // Default deny: nothing but global unicast on 80/443 gets through.
    const fetch::egress_policy deny;
    WHARF_FUZZ_CHECK(deny.check(v6, port).has_value() == (verdict.cls != fetch::address_class::global || (port != 80 && port != 443)));

    const auto rules = fetch::parse_allow_list(text);
    if (!rules) {
        WHARF_FUZZ_CHECK(!rules.error().message.empty());
        return 0;
    }
    WHARF_FUZZ_CHECK(rules->size() <= fetch::max_allow_rules);
    std::string printed;
    for (const auto& r : *rules) {
        WHARF_FUZZ_CHECK(r.prefix <= (r.network.is_v4() ? 32u : 128u));
        WHARF_FUZZ_CHECK(!r.port || *r.port != 0);
        printed += fetch::to_string(r) + ",";
    }
    const auto again = fetch::parse_allow_list(printed);
    WHARF_FUZZ_CHECK(again && *again == *rules);
    // A rule opens its own network address on its port (or 443).
    const fetch::egress_policy allow(*rules);
    for (const auto& r : *rules) WHARF_FUZZ_CHECK(!allow.check(r.network, r.port.value_or(443)));
    (void)allow.check(v6, port);
    return 0;
}
