// Part checksums against published check values and independent implementations' outputs.
#include "wharf/storage/checksum.hpp"
#include "wharf/storage/sha256.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace wharf::storage;

namespace {
std::span<const char> bytes_of(std::string_view s) { return {s.data(), s.size()}; }

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}
}  // namespace

// The catalogue's check values (CRC-32/ISO-HDLC and CRC-32/ISCSI of "123456789").
TEST(crc, check_values) {
    EXPECT_EQ(crc32(0, bytes_of("123456789")), 0xCBF43926u);
    EXPECT_EQ(crc32c(0, bytes_of("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32(0, bytes_of("")), 0u);
    EXPECT_EQ(crc32c(0, bytes_of("")), 0u);
    // RFC 3720 B.4: 32 bytes of zeros, of 0xff.
    EXPECT_EQ(crc32c(0, bytes_of(std::string(32, '\0'))), 0x8A9136AAu);
    EXPECT_EQ(crc32c(0, bytes_of(std::string(32, '\xff'))), 0x62A8AB43u);
}

TEST(crc, continues_across_any_split) {
    const std::string data = random_bytes(100'003, 7);
    const auto whole32 = crc32(0, bytes_of(data)), whole32c = crc32c(0, bytes_of(data));
    for (std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{4096}, data.size()}) {
        const std::string_view a(data.data(), split), b(data.data() + split, data.size() - split);
        EXPECT_EQ(crc32(crc32(0, bytes_of(a)), bytes_of(b)), whole32) << split;
        EXPECT_EQ(crc32c(crc32c(0, bytes_of(a)), bytes_of(b)), whole32c) << split;
    }
}

// How S3 spells them: base64 of the big-endian bytes (botocore: crc32 of b"hello" is NhCmhg==).
TEST(crc, base64_spelling) {
    EXPECT_EQ(crc_base64(crc32(0, bytes_of("hello"))), "NhCmhg==");
    EXPECT_EQ(crc_base64(crc32c(0, bytes_of("hello"))), "mnG7TA==");
    EXPECT_EQ(crc_base64(0), "AAAAAA==");
}

TEST(part_checksum, incremental_equals_one_shot) {
    const std::string data = random_bytes(3 << 20, 11);
    for (auto kind : {checksum_kind::md5, checksum_kind::crc32, checksum_kind::crc32c}) {
        part_checksum one(kind), many(kind);
        one.update(bytes_of(data));
        for (std::size_t off = 0; off < data.size(); off += 65'537)
            many.update(bytes_of(std::string_view(data).substr(off, 65'537)));
        const std::string a = one.finish_base64();
        EXPECT_EQ(a, many.finish_base64()) << to_string(kind);
        one.reset();
        one.update(bytes_of(data));
        EXPECT_EQ(one.finish_base64(), a) << "after reset, " << to_string(kind);
    }
    part_checksum md5(checksum_kind::md5);
    md5.update(bytes_of(data));
    EXPECT_EQ(md5.finish_base64(), md5_base64(bytes_of(data)));
    EXPECT_EQ(part_checksum(checksum_kind::none).finish_base64(), "");
}

TEST(checksum_kind, names) {
    for (auto kind : {checksum_kind::none, checksum_kind::md5, checksum_kind::crc32, checksum_kind::crc32c})
        EXPECT_EQ(parse_checksum_kind(to_string(kind)), kind);
    EXPECT_EQ(parse_checksum_kind("CRC32C"), checksum_kind::crc32c);
    EXPECT_EQ(parse_checksum_kind("sha1"), std::nullopt);
    EXPECT_EQ(parse_checksum_kind(""), std::nullopt);
}

// S3's composite checksum: CRC of the concatenated raw part CRCs, "-N". Cross-checked against
// moto's own computation in tests/integration/s3.
TEST(composite_checksum, crc_of_part_crcs) {
    const std::string a = random_bytes(1000, 1), b = random_bytes(500, 2);
    const std::vector<std::string> parts{crc_base64(crc32(0, bytes_of(a))), crc_base64(crc32(0, bytes_of(b)))};
    std::string raw;
    for (const auto& p : parts) raw += *base64_decode(p);
    EXPECT_EQ(composite_checksum(checksum_kind::crc32, parts), crc_base64(crc32(0, bytes_of(raw))) + "-2");
    EXPECT_EQ(composite_checksum(checksum_kind::md5, parts), std::nullopt);
    const std::vector<std::string> bad{"not base64!"};
    EXPECT_EQ(composite_checksum(checksum_kind::crc32, bad), std::nullopt);
}
