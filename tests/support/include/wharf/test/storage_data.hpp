// Test data for the storage suites: reproducible random bytes, a whole file read or written in
// one call, and the storage::errc that a call fails with.
#pragma once

#include "wharf/storage/error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>

namespace wharf::test {

// `n` bytes from a seeded generator: the same seed gives the same bytes on every run.
inline std::string random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        const auto v = rng();
        std::memcpy(&s[i], &v, 8);
    }
    return s;
}

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void spill(const std::filesystem::path& p, const std::string& content) {
    std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
}

// The code of the storage::error that `f` throws; a test failure when it throws none.
inline storage::errc code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const storage::error& e) {
        return e.code();
    }
    ADD_FAILURE() << "no storage::error thrown";
    return storage::errc::permanent;
}

}  // namespace wharf::test
