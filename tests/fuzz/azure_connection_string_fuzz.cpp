// AZURE_STORAGE_CONNECTION_STRING: any text parses or names its fault without quoting the key;
// what parses has an account, a key and an http(s) endpoint.
#include "fuzz_support.hpp"

#include "wharf/storage/azure_connection_string.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string why;
    const auto s = wharf::storage::azure::parse_connection_string(wharf::fuzz::text(data, size), &why);
    if (!s) {
        WHARF_FUZZ_CHECK(!why.empty());
        return 0;
    }
    WHARF_FUZZ_CHECK(!s->account.empty() && !s->key.empty());
    WHARF_FUZZ_CHECK(s->endpoint.starts_with("http://") || s->endpoint.starts_with("https://"));
    return 0;
}
