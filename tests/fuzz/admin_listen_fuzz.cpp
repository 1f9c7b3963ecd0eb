// --admin-listen / WHARF_ADMIN_LISTEN: any text either parses or names its fault; a parsed address
// prints back to a text that parses to the same address.
#include "fuzz_support.hpp"

#include "wharf/admin/listen_address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string why;
    const auto a = wharf::admin::parse_listen_address(wharf::fuzz::text(data, size), &why);
    if (!a) {
        WHARF_FUZZ_CHECK(!why.empty());
        return 0;
    }
    const auto again = wharf::admin::parse_listen_address(a->to_string(), &why);
    WHARF_FUZZ_CHECK(again.has_value());
    WHARF_FUZZ_CHECK(again->enabled == a->enabled);
    if (a->enabled) WHARF_FUZZ_CHECK(again->port == a->port && again->host == a->host);
    return 0;
}
