// A compressed object read back (storage::get_content, the compress job's read-back): the gzip
// decoder on hostile bytes fed in pieces, as a download arrives -- never a crash, never more
// output than the limit; damage is errc::integrity. Whatever decodes must also survive a round
// trip through gzip_compress.
#include "fuzz_support.hpp"

#include "wharf/storage/error.hpp"
#include "wharf/storage/gzip.hpp"

#include <span>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::uint64_t max_out = 1u << 20;
    std::string out;
    wharf::storage::gzip_decoder d(max_out, [&](std::span<const char> b) { out.append(b.data(), b.size()); });
    // The first byte picks the piece size, so a member's boundaries fall anywhere.
    const std::size_t piece = size ? 1 + data[0] % 97 : 1;
    std::span<const char> rest(reinterpret_cast<const char*>(data), size);
    bool whole = false;
    try {
        while (!rest.empty()) {
            const std::size_t n = std::min(piece, rest.size());
            d.feed(rest.first(n));
            rest = rest.subspan(n);
        }
        d.finish();
        whole = true;
    } catch (const wharf::storage::error& e) {
        WHARF_FUZZ_CHECK(e.code() == wharf::storage::errc::integrity);
    }
    WHARF_FUZZ_CHECK(out.size() <= max_out);
    WHARF_FUZZ_CHECK(d.decoded() == out.size());
    if (whole) WHARF_FUZZ_CHECK(wharf::storage::gunzip(wharf::storage::gzip_compress(out, 1), max_out) == out);
    return 0;
}
