// The duration parser (grace, lease, --delay, ...) and the byte-size parser (provider limits):
// accepted values are in range, and what a size prints as parses back to itself.
#include "fuzz_support.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/storage/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = wharf::fuzz::text(data, size);
    if (const auto d = wharf::parse_duration(input)) {
        WHARF_FUZZ_CHECK(d->count() >= 0 && d->count() <= 1'000'000'000'000'000);
        WHARF_FUZZ_CHECK(wharf::parse_duration(std::to_string(d->count()) + "ms") == d);
    }
    if (const auto bytes = wharf::storage::parse_byte_size(input))
        WHARF_FUZZ_CHECK(wharf::storage::parse_byte_size(std::to_string(*bytes)) == bytes);
    return 0;
}
