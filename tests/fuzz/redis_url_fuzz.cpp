// The Redis URL parser (redis_url, WHARF_REDIS_URL): any text either parses or names its fault in
// `error`; a parsed URL's display form never shows the password.
#include "fuzz_support.hpp"

#include "wharf/redis/endpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string error;
    const auto ep = wharf::redis::parse_url(wharf::fuzz::text(data, size), &error);
    if (!ep) {
        WHARF_FUZZ_CHECK(!error.empty());
        return 0;
    }
    WHARF_FUZZ_CHECK(ep->db >= 0);
    WHARF_FUZZ_CHECK(ep->unix_socket.empty() || !ep->tls);
    const std::string shown = ep->to_display_string();
    // Only a password long enough not to occur by chance in the rest of the URL is checked.
    if (ep->password.size() >= 12 && ep->password.find("***") == std::string::npos)
        WHARF_FUZZ_CHECK(shown.find(ep->password) == std::string::npos);
    return 0;
}
