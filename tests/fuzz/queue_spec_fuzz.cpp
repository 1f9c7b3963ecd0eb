// The worker's --queues parser and the queue-name rule it applies: every accepted spec names
// valid, distinct queues with a concurrency in range, and a valid name builds keys whose hash tag
// is exactly {<name>}.
#include "fuzz_support.hpp"

#include "wharf/core/config.hpp"
#include "wharf/queue/keys.hpp"
#include "wharf/worker/queue_spec.hpp"

#include <set>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace q = wharf::queue;
    const auto input = wharf::fuzz::text(data, size);
    if (q::valid_queue_name(input)) {
        WHARF_FUZZ_CHECK(input.find_first_of("{}:, =") == std::string_view::npos);
        const q::keys k(input);
        WHARF_FUZZ_CHECK(k.stream == "wharf:{" + std::string(input) + "}:stream");
    }
    try {
        const auto specs = wharf::worker::parse_queue_specs(input);
        WHARF_FUZZ_CHECK(!specs.empty());
        std::set<std::string> names;
        for (const auto& s : specs) {
            WHARF_FUZZ_CHECK(q::valid_queue_name(s.name));
            WHARF_FUZZ_CHECK(s.concurrency >= 1 && s.concurrency <= wharf::worker::max_concurrency);
            WHARF_FUZZ_CHECK(names.insert(s.name).second);
        }
    } catch (const wharf::config_error&) {
    }
    return 0;
}
