// The storage key rule (every backend checks keys with it before any I/O): an accepted key is
// 1-1024 bytes of well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), with no control character, backslash, leading '/', or empty, "." or ".." segment.
// The checker below is written from the RFC, independently of key.cpp.
#include "fuzz_support.hpp"

#include "wharf/storage/provider.hpp"

namespace {

bool strict_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        unsigned lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
        if (b0 < 0x80)
            len = 1;
        else if (b0 >= 0xc2 && b0 <= 0xdf)
            len = 2;
        else if (b0 == 0xe0)
            len = 3, lo = 0xa0;
        else if (b0 >= 0xe1 && b0 <= 0xec)
            len = 3;
        else if (b0 == 0xed)
            len = 3, hi = 0x9f;
        else if (b0 >= 0xee && b0 <= 0xef)
            len = 3;
        else if (b0 == 0xf0)
            len = 4, lo = 0x90;
        else if (b0 >= 0xf1 && b0 <= 0xf3)
            len = 4;
        else if (b0 == 0xf4)
            len = 4, hi = 0x8f;
        else
            return false;
        if (i + len > s.size()) return false;
        for (std::size_t j = 1; j < len; ++j) {
            const auto b = static_cast<unsigned char>(s[i + j]);
            if (j == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return false;
        }
        i += len;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto key = wharf::fuzz::text(data, size);
    if (wharf::storage::invalid_key_reason(key)) return 0;
    WHARF_FUZZ_CHECK(!key.empty() && key.size() <= 1024 && key.front() != '/');
    WHARF_FUZZ_CHECK(strict_utf8(key));
    for (const char c : key) {
        const auto u = static_cast<unsigned char>(c);
        WHARF_FUZZ_CHECK(u >= 0x20 && u != 0x7f && c != '\\');
    }
    std::size_t start = 0;
    for (;;) {
        const auto slash = key.find('/', start);
        const auto seg = key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        WHARF_FUZZ_CHECK(!seg.empty() && seg != "." && seg != "..");
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return 0;
}
