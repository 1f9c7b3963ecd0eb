// Digests against published vectors (FIPS 180-2, RFC 1321, RFC 4231, RFC 4648).
#include "wharf/storage/sha256.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace wharf::storage;

TEST(sha256, fips_180_2_vectors) {
    EXPECT_EQ(sha256_hex(std::string_view("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex(std::string_view("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256, streaming_equals_one_shot) {
    const std::string million_a(1'000'000, 'a');
    sha256 h;
    for (std::size_t i = 0; i < million_a.size(); i += 7919)
        h.update(std::string_view(million_a).substr(i, 7919));
    EXPECT_EQ(h.finish_hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(md5_base64, rfc_1321_vectors) {
    EXPECT_EQ(md5_base64(std::span<const char>()), "1B2M2Y8AsgTpgAmY7PhCfg==");  // d41d8cd9...
    const std::string_view abc = "abc";
    EXPECT_EQ(md5_base64(std::span<const char>(abc.data(), abc.size())), "kAFQmDzST7DWlj99KOF/cg==");
}

TEST(hmac_sha256, rfc_4231_case_2) {
    EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(base64, rfc_4648_vectors_round_trip) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"}};
    for (const auto& [raw, text] : vectors) {
        EXPECT_EQ(base64_encode(raw), text);
        EXPECT_EQ(base64_decode(text), std::string(raw));
    }
    EXPECT_FALSE(base64_decode("Zm9"));
    EXPECT_FALSE(base64_decode("Zm=v"));
    EXPECT_FALSE(base64_decode("Zm9v!A=="));
}

TEST(is_sha256_hex, shape) {
    EXPECT_TRUE(is_sha256_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    EXPECT_FALSE(is_sha256_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    EXPECT_FALSE(is_sha256_hex("e3b0"));
}

// Large updates keep EVP at full speed; this guards against a regression to tiny updates (the
// 10%-of-`openssl speed` comparison lives in bench/, where the machine is quiet).
TEST(sha256, large_updates_are_fast) {
    const std::string block(4 << 20, 'x');
    sha256 h;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 32; ++i) h.update(block);
    h.finish_hex();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GT(128.0 / seconds, 100.0) << "MiB/s";  // SHA-NI does ~1900 MB/s; software ~400
}
