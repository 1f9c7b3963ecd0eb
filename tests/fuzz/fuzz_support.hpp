// Helpers shared by the fuzz targets: the input as text, and a check that stays on in every
// build type (a fuzz target's oracle must never compile away with NDEBUG).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace wharf::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
    std::abort();
}

}  // namespace wharf::fuzz

#define WHARF_FUZZ_CHECK(cond) ((cond) ? (void)0 : ::wharf::fuzz::check_failed(#cond, __FILE__, __LINE__))
