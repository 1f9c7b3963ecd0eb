// Client-side encryption of backups: round trips at every size around the chunk boundaries, fed
// in odd pieces; every way a stored stream can be wrong refused before a byte of it is released
// (a flipped bit, a chunk cut, dropped, reordered or spliced from another stream, the wrong key,
// bytes after the end); keys parsed from hex or base64 and never echoed.
#include "wharf/backup/aead_stream.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace b = wharf::backup;

namespace {

b::aead_key key_of(unsigned char seed) {
    b::aead_key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(seed + i * 7);
    return k;
}

std::string bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

std::string encrypt(const b::aead_key& k, const std::string& plain, std::size_t piece = 1000) {
    b::aead_encryptor e(k, 16);
    std::string out;
    for (std::size_t at = 0; at < plain.size(); at += piece)
        e.update(std::span<const char>(plain.data() + at, std::min(piece, plain.size() - at)), out);
    e.finish(out);
    return out;
}

std::string decrypt(const b::aead_key& k, const std::string& sealed, std::size_t piece = 777) {
    b::aead_decryptor d(k);
    std::string out;
    for (std::size_t at = 0; at < sealed.size(); at += piece)
        d.update(std::span<const char>(sealed.data() + at, std::min(piece, sealed.size() - at)), out);
    d.finish(out);
    return out;
}

}  // namespace

TEST(aead_stream, round_trips_around_every_chunk_boundary) {
    const auto k = key_of(1);
    constexpr std::size_t chunk = 1u << 16;
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + 5}) {
        const std::string plain = bytes(n, static_cast<unsigned>(n));
        const std::string sealed = encrypt(k, plain);
        const std::size_t chunks = std::max<std::size_t>(1, (n + chunk - 1) / chunk);  // a full last one is flagged
        EXPECT_EQ(sealed.size(), b::aead_header_size + n + chunks * b::aead_tag_size) << n;
        EXPECT_TRUE(b::looks_encrypted(sealed));
        if (n >= 64) EXPECT_EQ(sealed.find(plain.substr(0, 64)), std::string::npos);
        EXPECT_EQ(decrypt(k, sealed), plain) << n;
        EXPECT_EQ(decrypt(k, sealed, 1), plain) << n;
    }
    // Two streams of the same bytes differ (random nonce prefix).
    EXPECT_NE(encrypt(k, "same"), encrypt(k, "same"));
}

TEST(aead_stream, every_damage_is_refused) {
    const auto k = key_of(2);
    const std::string plain = bytes(5 * (1u << 16) + 123, 9);
    const std::string sealed = encrypt(k, plain);
    const std::size_t sealed_chunk = (1u << 16) + b::aead_tag_size;
    const auto refused = [&](const std::string& s, const b::aead_key& with) {
        try {
            decrypt(with, s);
        } catch (const b::corrupt_stream&) {
            return true;
        }
        return false;
    };
    EXPECT_FALSE(refused(sealed, k));
    std::string flipped = sealed;
    flipped[b::aead_header_size + 2 * sealed_chunk + 17] ^= 0x01;
    EXPECT_TRUE(refused(flipped, k));
    std::string header = sealed;
    header[12] ^= 0x01;  // the nonce prefix: every chunk's nonce and AAD change
    EXPECT_TRUE(refused(header, k));
    // Cut at a chunk boundary: the last chunk present is not flagged as last.
    EXPECT_TRUE(refused(sealed.substr(0, b::aead_header_size + 2 * sealed_chunk), k));
    EXPECT_TRUE(refused(sealed.substr(0, sealed.size() - 1), k));
    EXPECT_TRUE(refused(sealed.substr(0, 10), k));
    // Chunks swapped.
    std::string swapped = sealed;
    std::copy_n(sealed.begin() + static_cast<long>(b::aead_header_size + sealed_chunk), sealed_chunk,
                swapped.begin() + static_cast<long>(b::aead_header_size));
    std::copy_n(sealed.begin() + static_cast<long>(b::aead_header_size), sealed_chunk,
                swapped.begin() + static_cast<long>(b::aead_header_size + sealed_chunk));
    EXPECT_TRUE(refused(swapped, k));
    // A chunk spliced in from another stream under the same key.
    const std::string other = encrypt(k, plain);
    std::string spliced = sealed;
    std::copy_n(other.begin() + static_cast<long>(b::aead_header_size), sealed_chunk,
                spliced.begin() + static_cast<long>(b::aead_header_size));
    EXPECT_TRUE(refused(spliced, k));
    EXPECT_TRUE(refused(sealed + "x", k));
    EXPECT_TRUE(refused("a zstd stream, not encrypted", k));
    try {
        decrypt(key_of(3), sealed);
        ADD_FAILURE() << "the wrong key opened it";
    } catch (const b::corrupt_stream& e) {
        EXPECT_NE(std::string(e.what()).find("another key"), std::string::npos) << e.what();
    }
    // Nothing of a damaged chunk is released: the plaintext before it only.
    b::aead_decryptor d(k);
    std::string out;
    EXPECT_THROW(d.update(std::span<const char>(flipped.data(), flipped.size()), out), b::corrupt_stream);
    EXPECT_EQ(out, plain.substr(0, 2 * (1u << 16)));
}

TEST(aead_stream, keys_are_hex_or_base64_and_never_echoed) {
    const std::string hex(64, 'a');
    EXPECT_EQ(b::parse_backup_key(hex)[0], 0xaa);
    EXPECT_EQ(b::parse_backup_key(hex + "\n")[31], 0xaa);
    const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31
    const auto k = b::parse_backup_key(b64);
    EXPECT_EQ(k[0], 0);
    EXPECT_EQ(k[31], 31);
    EXPECT_EQ(b::key_id_hex(k).size(), 16u);
    for (const std::string bad : {std::string("short"), std::string(63, 'a'), std::string(64, 'g'),
                                  std::string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="), std::string(44, '!')}) {
        try {
            b::parse_backup_key(bad);
            ADD_FAILURE() << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find(bad), std::string::npos);
        }
    }
}

// The layout is plain AES-256-GCM as documented: a stream sealed by another implementation (Python's
// `cryptography`, key bytes 0..31, the header as AAD) opens here.
TEST(aead_stream, opens_a_stream_sealed_by_another_implementation_of_the_layout) {
    const std::string hex = "574841524647434d011001020304050607f9aed2ac402a3d5f507c7bf9ea8e32bee48b1835d950fe5aa5cf270b7d9b341ca0190302782c206c2243bc88269298ff8b49";
    std::string sealed;
    for (std::size_t i = 0; i < hex.size(); i += 2) sealed.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    b::aead_key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(decrypt(k, sealed), std::string("(\xb5/\xfd small zstd-like bytes"));
}
