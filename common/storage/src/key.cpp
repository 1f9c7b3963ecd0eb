// Validation of object keys, shared by every backend (provider.hpp).
#include "wharf/storage/provider.hpp"

#include "wharf/storage/multipart.hpp"  // part_sink, for stream_sink's default

namespace wharf::storage {

std::optional<std::string> invalid_key_reason(std::string_view key) {
    if (key.empty()) return "key is empty";
    if (key.size() > 1024) return "key is longer than 1024 bytes";
    if (key.front() == '/') return "key starts with '/'";
    for (const char c : key) {
        const auto u = static_cast<unsigned char>(c);
        if (u == 0) return "key contains a NUL byte";
        if (u < 0x20 || u == 0x7f) return "key contains a control character";
        if (c == '\\') return "key contains a backslash";
    }
    // Segment rules: "" (from "//" or a trailing '/'), "." and ".." would let a key alias another
    // or climb out of a folder once mapped to a path.
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = key.find('/', start);
        const std::string_view segment = key.substr(start, slash == std::string_view::npos ? key.size() - start : slash - start);
        if (segment.empty()) return "key has an empty path segment";
        if (segment == "." || segment == "..") return "key has a '.' or '..' path segment";
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    // UTF-8 well-formedness (RFC 3629, table 3-7 of Unicode): keys travel in URLs and XML, where
    // broken sequences get mangled. Overlong forms (C0, C1, E0 80-9F, F0 80-8F) would let "/" or
    // "." be spelled twice; surrogates (ED A0-BF) and code points above U+10FFFF (F4 90+, F5-F7)
    // are not characters, and other stores refuse them.
    for (std::size_t i = 0; i < key.size();) {
        const auto c = static_cast<unsigned char>(key[i]);
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
        if (c < 0x80)
            len = 1;
        else if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (len == 0 || i + len > key.size()) return "key is not valid UTF-8";
        for (std::size_t j = 1; j < len; ++j) {
            const auto b = static_cast<unsigned char>(key[i + j]);
            if (j == 1 ? (b < lo || b > hi) : (b >> 6) != 0x2) return "key is not valid UTF-8";
        }
        i += len;
    }
    return std::nullopt;
}

// The defaults of a provider that does not place objects by tier.
// provider's defaults live here, with the key rules every build of the storage code has (the fuzz
// targets' too): the first of them is the class's key function, so its vtable and typeinfo are
// emitted in this file.
std::unique_ptr<part_sink> provider::stream_sink(std::string) { return nullptr; }

std::optional<std::string> provider::tier_class(storage::tier) const { return std::nullopt; }

boost::asio::awaitable<void> provider::set_tier(std::string key, storage::tier) {
    throw error(errc::permanent, "provider '" + name() + "' (" + std::string(kind()) + ") has no storage tiers; cannot "
                                 "change the tier of '" + key + "'");
    co_return;
}

}  // namespace wharf::storage
