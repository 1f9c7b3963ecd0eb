// An encrypted backup read back (verify, restore, drill): the chunked AES-256-GCM opener on
// hostile bytes fed in pieces -- never a crash, never a byte released from a chunk whose tag
// fails, at most one chunk buffered; damage is corrupt_stream. The key is fixed (bytes 0..31),
// so the seed corpus holds real streams made with it.
#include "fuzz_support.hpp"

#include "wharf/backup/aead_stream.hpp"

#include <span>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    wharf::backup::aead_key key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(i);
    wharf::backup::aead_decryptor d(key);
    std::string out;
    const std::size_t piece = size ? 1 + data[size - 1] % 251 : 1;
    std::span<const char> rest(reinterpret_cast<const char*>(data), size);
    try {
        while (!rest.empty()) {
            const std::size_t n = std::min(piece, rest.size());
            d.update(rest.first(n), out);
            rest = rest.subspan(n);
        }
        d.finish(out);
    } catch (const wharf::backup::corrupt_stream&) {
    }
    // What was released is whole chunks' plaintext: never more than the input carried.
    WHARF_FUZZ_CHECK(out.size() <= size);
    return 0;
}
