// The envelope codec: decode any text a producer could XADD; whatever decodes must encode, and
// the encoding must decode again to the same envelope (a re-enqueued job may not turn bad).
#include "fuzz_support.hpp"

#include "wharf/queue/envelope.hpp"

#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace q = wharf::queue;
    const auto decoded = q::decode(wharf::fuzz::text(data, size), "upload");
    const auto* e = std::get_if<q::envelope>(&decoded);
    if (e == nullptr) return 0;
    const std::string once = q::encode(*e);
    const auto again = q::decode(once, "upload");
    const auto* e2 = std::get_if<q::envelope>(&again);
    WHARF_FUZZ_CHECK(e2 != nullptr);
    WHARF_FUZZ_CHECK(q::encode(*e2) == once);
    return 0;
}
