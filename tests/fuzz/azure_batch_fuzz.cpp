// The Azure Blob Batch reply parser: the first line of the input is the reply's Content-Type, the
// rest its body. A reply that is not a batch reply ends in storage::error(permanent).
#include "fuzz_support.hpp"

#include "wharf/storage/azure_batch.hpp"
#include "wharf/storage/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace az = wharf::storage::azure;
    const auto input = wharf::fuzz::text(data, size);
    const auto nl = input.find('\n');
    const auto content_type = input.substr(0, nl);
    const auto body = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
    try {
        const auto replies = az::parse_batch_reply(content_type, body);
        // Content-IDs are checked against the batch by the caller (azure.cpp); the parser
        // guarantees a real status.
        for (const auto& r : replies) WHARF_FUZZ_CHECK(r.status >= 100 && r.status <= 599);
    } catch (const wharf::storage::error& e) {
        WHARF_FUZZ_CHECK(e.code() == wharf::storage::errc::permanent);
    }
    return 0;
}
