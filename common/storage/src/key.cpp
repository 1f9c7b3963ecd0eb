// Validation of object keys, shared by every backend (provider.hpp).
#include "wharf/storage/provider.hpp"

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
    // UTF-8 well-formedness: keys travel in URLs and XML, where broken sequences get mangled.
    for (std::size_t i = 0; i < key.size();) {
        const auto c = static_cast<unsigned char>(key[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > key.size()) return "key is not valid UTF-8";
        for (std::size_t j = 1; j < len; ++j)
            if ((static_cast<unsigned char>(key[i + j]) >> 6) != 0x2) return "key is not valid UTF-8";
        // Overlong 2-byte forms (C0/C1) would let "/" or "." be spelled twice.
        if (len == 2 && c < 0xc2) return "key is not valid UTF-8";
        i += len;
    }
    return std::nullopt;
}

}  // namespace wharf::storage
