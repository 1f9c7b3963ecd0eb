#include "wharf/backup/zstd_stream.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace wharf::backup;

namespace {

std::string sample(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s;
    s.reserve(n);
    while (s.size() < n) s += "row " + std::to_string(rng() % 1000) + " payload {\"n\": " + std::to_string(rng()) + "}\n";
    s.resize(n);
    return s;
}

std::string compress(const std::string& in, std::size_t chunk, int workers = 0) {
    zstd_compressor c(3, workers);
    std::string out;
    for (std::size_t at = 0; at < in.size(); at += chunk)
        c.compress(std::span<const char>(in.data() + at, std::min(chunk, in.size() - at)), out);
    c.finish(out);
    return out;
}

// Decompresses in chunks the way a restore does; returns the bytes and whether it ended on a frame.
std::pair<std::string, bool> decompress(const std::string& in, std::size_t chunk, std::size_t max_out = 4u << 20) {
    zstd_decompressor d;
    std::string out;
    for (std::size_t at = 0; at < in.size(); at += chunk) {
        std::span<const char> rest(in.data() + at, std::min(chunk, in.size() - at));
        do {
            const std::size_t before = out.size();
            const std::size_t used = d.decompress(rest, out, max_out);
            EXPECT_LE(out.size() - before, max_out + (128u << 10)) << "bounded per call";
            rest = rest.subspan(used);
        } while (!rest.empty() || d.pending());
    }
    return {out, d.at_frame_end()};
}

}  // namespace

TEST(zstd_stream, round_trips_in_any_chunking_and_compresses) {
    const std::string in = sample(3'000'000, 1);
    for (std::size_t chunk : {1u << 20, 4096u, 65537u}) {
        const std::string z = compress(in, chunk);
        EXPECT_LT(z.size(), in.size() / 3);
        for (std::size_t dchunk : {1u << 20, 777u}) {
            const auto [out, ended] = decompress(z, dchunk);
            EXPECT_TRUE(out == in);
            EXPECT_TRUE(ended);
        }
    }
    const auto [out, ended] = decompress(compress(in, 1 << 20, 2), 1 << 20);
    EXPECT_TRUE(out == in) << "with compression threads";
}

TEST(zstd_stream, a_flipped_byte_is_caught_by_the_frame_checksum) {
    const std::string in = sample(500'000, 2);
    std::string z = compress(in, 1 << 16);
    z[z.size() / 2] ^= 0x01;
    EXPECT_THROW(decompress(z, 4096), corrupt_stream);
}

TEST(zstd_stream, a_truncated_stream_does_not_end_on_a_frame) {
    const std::string in = sample(500'000, 3);
    const std::string z = compress(in, 1 << 16);
    const auto [out, ended] = decompress(z.substr(0, z.size() - 10), 4096);
    EXPECT_FALSE(ended);
    EXPECT_LT(out.size(), in.size());
}

TEST(zstd_stream, a_small_input_that_stands_for_much_output_is_returned_in_bounded_steps) {
    const std::string in(64u << 20, 'a');
    const std::string z = compress(in, 1 << 20);
    EXPECT_LT(z.size(), 64u << 10);
    const auto [out, ended] = decompress(z, z.size(), 1u << 20);
    EXPECT_EQ(out.size(), in.size());
    EXPECT_TRUE(ended);
}

TEST(zstd_stream, garbage_is_refused) {
    EXPECT_THROW(decompress(std::string(1000, 'x'), 100), corrupt_stream);
}
