// Azure's XML and header replies: List Blobs pages, the Content-Length/Content-Range sizes and
// dates of Get/Head Blob. Malformed values end in storage::error(permanent).
#include "fuzz_support.hpp"

#include "wharf/storage/azure_replies.hpp"
#include "wharf/storage/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace az = wharf::storage::azure;
    const auto input = wharf::fuzz::text(data, size);
    try {
        const auto page = az::parse_list_blobs(input);
        for (const auto& b : page.blobs) WHARF_FUZZ_CHECK(!b.key.empty());
        WHARF_FUZZ_CHECK(!page.next_marker || !page.next_marker->empty());
    } catch (const wharf::storage::error& e) {
        WHARF_FUZZ_CHECK(e.code() == wharf::storage::errc::permanent);
    }
    if (const auto n = az::parse_size(input)) WHARF_FUZZ_CHECK(std::to_string(*n).size() <= input.size());
    (void)az::content_range_total(input);
    (void)az::parse_http_date(input);
    (void)az::strip_quotes(input);
    return 0;
}
