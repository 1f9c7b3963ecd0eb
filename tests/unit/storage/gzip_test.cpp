// The gzip content encoding: round trips of every size class, concatenated members, and the
// refusals of outside bytes (not gzip, corrupt, truncated, trailing garbage, a bomb over the limit).
#include "wharf/storage/error.hpp"
#include "wharf/storage/gzip.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace s = wharf::storage;

namespace {

std::string text_of(std::size_t n) {
    std::string out;
    std::mt19937 rng(7);
    const char* words[] = {"#EXTINF:6.0,\n", "segment_", "{\"codec\": \"h264\", ", "00:00:01.000 --> ", "\n"};
    while (out.size() < n) out += words[rng() % 5] + std::to_string(rng() % 1000);
    out.resize(n);
    return out;
}

s::errc code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const s::error& e) {
        return e.code();
    }
    return s::errc::permanent;  // not thrown: a test that expects integrity fails
}

}  // namespace

TEST(gzip, round_trips_every_size_and_shrinks_text) {
    for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{65535}, std::size_t{65536},
                          std::size_t{65537}, std::size_t{3} << 20}) {
        const std::string original = text_of(n);
        const std::string packed = s::gzip_compress(original);
        ASSERT_GE(packed.size(), 18u);  // header + trailer
        EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);
        EXPECT_EQ(static_cast<unsigned char>(packed[1]), 0x8b);
        EXPECT_EQ(s::gunzip(packed, n), original) << n;
        if (n >= 65536) EXPECT_LT(packed.size(), n / 3) << n;
    }
    EXPECT_EQ(s::gunzip(s::gzip_compress(""), 0), "");
}

TEST(gzip, decodes_fed_one_byte_at_a_time_and_concatenated_members) {
    const std::string a = text_of(200'000), b = text_of(1234);
    const std::string both = s::gzip_compress(a, 1) + s::gzip_compress(b, 9);
    std::string out;
    s::gzip_decoder d(1 << 20, [&](std::span<const char> bytes) { out.append(bytes.data(), bytes.size()); });
    for (char c : both) d.feed(std::span<const char>(&c, 1));
    d.finish();
    EXPECT_EQ(out, a + b);
    EXPECT_EQ(d.decoded(), a.size() + b.size());
}

TEST(gzip, refuses_bytes_that_are_not_a_whole_gzip_stream) {
    const std::string packed = s::gzip_compress(text_of(10'000));
    EXPECT_EQ(code_of([] { s::gunzip("plain text, not gzip", 1 << 20); }), s::errc::integrity);
    EXPECT_EQ(code_of([] { s::gunzip("", 1 << 20); }), s::errc::integrity);
    EXPECT_EQ(code_of([&] { s::gunzip(packed.substr(0, packed.size() - 5), 1 << 20); }), s::errc::integrity);
    EXPECT_EQ(code_of([&] { s::gunzip(packed + "garbage", 1 << 20); }), s::errc::integrity);
    std::string flipped = packed;
    flipped[packed.size() / 2] ^= 0x55;
    EXPECT_EQ(code_of([&] { s::gunzip(flipped, 1 << 20); }), s::errc::integrity);
    std::string crc = packed;
    crc[crc.size() - 6] ^= 1;  // the trailer's CRC-32
    EXPECT_EQ(code_of([&] { s::gunzip(crc, 1 << 20); }), s::errc::integrity);
}

TEST(gzip, stops_a_bomb_at_the_limit) {
    const std::string zeros(64u << 20, '\0');
    const std::string bomb = s::gzip_compress(zeros);
    EXPECT_LT(bomb.size(), 100'000u);
    std::uint64_t written = 0;
    s::gzip_decoder d(1 << 20, [&](std::span<const char> b) { written += b.size(); });
    EXPECT_EQ(code_of([&] { d.feed(std::span<const char>(bomb.data(), bomb.size())); }), s::errc::integrity);
    EXPECT_LE(written, 1u << 20);
    EXPECT_THROW(s::gzip_compress("x", 0), std::invalid_argument);
}
