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
    // The display form does not depend on the password at all. (Searching it for the password
    // text gave false alarms: the fuzzer copies the password into the socket path, which is shown.)
    if (!ep->password.empty()) {
        auto other = *ep;
        other.password = ep->password == "x" ? "y" : "x";
        WHARF_FUZZ_CHECK(ep->to_display_string() == other.to_display_string());
    }
    return 0;
}
