// A stored backup read back (restore, verify, drill): the zstd decoder on hostile bytes, the way a
// restore drives it -- bounded output per call, never a crash; damage is corrupt_stream.
#include "fuzz_support.hpp"

#include "wharf/backup/zstd_stream.hpp"

#include <span>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t max_out = 1u << 20;
    wharf::backup::zstd_decompressor d(20);  // a small window: no allocation beyond a megabyte
    std::string out;
    std::span<const char> rest(reinterpret_cast<const char*>(data), size);
    std::size_t total = 0;
    try {
        do {
            out.clear();
            const std::size_t used = d.decompress(rest, out, max_out);
            WHARF_FUZZ_CHECK(used <= rest.size());
            WHARF_FUZZ_CHECK(out.size() <= max_out + (256u << 10));
            rest = rest.subspan(used);
            total += out.size();
        } while ((!rest.empty() || d.pending()) && total < (64u << 20));
    } catch (const wharf::backup::corrupt_stream&) {
    }
    return 0;
}
