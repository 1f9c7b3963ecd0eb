// The RFC 3339 parser (run_at, wharfctl --run-at): whatever parses formats, and the formatted UTC
// text parses back to the same millisecond.
#include "fuzz_support.hpp"

#include "wharf/queue/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace q = wharf::queue;
    const auto t = q::parse_rfc3339(wharf::fuzz::text(data, size));
    if (!t) return 0;
    const std::string formatted = q::format_rfc3339(*t);
    const auto back = q::parse_rfc3339(formatted);
    WHARF_FUZZ_CHECK(back.has_value());
    WHARF_FUZZ_CHECK(std::chrono::floor<std::chrono::milliseconds>(*t) == *back);
    return 0;
}
