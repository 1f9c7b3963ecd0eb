// The RESP reader: bytes from a Redis server (or anything listening on its port), fed in chunks
// whose sizes come from the input, with every complete reply taken out and walked. A malformed
// stream must end in redis::error(protocol), never in a crash or an unbounded allocation.
#include "fuzz_support.hpp"

#include "wharf/redis/detail/resp.hpp"

namespace {

std::size_t walk(const wharf::redis::reply& r, int depth) {
    WHARF_FUZZ_CHECK(depth < 64);
    std::size_t n = 1;
    if (r.is_array())
        for (const auto& e : r.elements()) n += walk(e, depth + 1);
    else if (r.is_integer())
        (void)r.integer();
    else if (!r.is_nil())
        (void)r.str();
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // The first byte sets the chunk size (1..256): replies split across reads are the normal case.
    const std::size_t chunk = std::size_t{data[0]} + 1;
    const auto input = wharf::fuzz::text(data + 1, size - 1);
    // A small buffer bound, so the size limit is exercised too.
    wharf::redis::detail::resp_reader reader(1 << 16);
    try {
        for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
            const auto piece = input.substr(pos, chunk);
            reader.feed(piece.data(), piece.size());
            while (auto r = reader.next()) {
                walk(*r, 0);
                (void)r->debug_string();
            }
        }
    } catch (const wharf::redis::error& e) {
        WHARF_FUZZ_CHECK(e.which() == wharf::redis::error::kind::protocol);
    }
    return 0;
}
