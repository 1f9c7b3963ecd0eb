// Digest speed on one core: wharf's streaming SHA-256 (wharf::storage::sha256, what the upload
// engine feeds each part to) and Content-MD5 (md5_base64, once per part), beside OpenSSL's EVP
// called directly, at the block sizes `openssl speed -evp sha256` uses (16 KiB) and at the sizes
// the engine uses (1 MiB, 16 MiB parts). bench/storage/run.sh compares the figures with
// `openssl speed -evp sha256` measured in the same run. Rates are per CPU-second (no
// UseRealTime), as `openssl speed` divides by CPU user time: a busy box does not skew them.
#include "wharf/storage/checksum.hpp"
#include "wharf/storage/sha256.hpp"

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

namespace {

// 64 MiB of pseudo-random bytes: larger than the caches, like a file streamed from disk.
const std::vector<char>& data() {
    static const std::vector<char> bytes = [] {
        std::vector<char> v(64u << 20);
        std::mt19937_64 rng{42};
        for (std::size_t i = 0; i + 8 <= v.size(); i += 8) {
            const std::uint64_t x = rng();
            std::memcpy(v.data() + i, &x, 8);
        }
        return v;
    }();
    return bytes;
}

// Streams the 64 MiB buffer through one hasher, `block` bytes per update().
void wharf_sha256_stream(benchmark::State& state) {
    const auto block = static_cast<std::size_t>(state.range(0));
    const auto& d = data();
    for (auto _ : state) {
        wharf::storage::sha256 h;
        for (std::size_t off = 0; off + block <= d.size(); off += block)
            h.update(std::span<const char>(d.data() + off, block));
        benchmark::DoNotOptimize(h.finish_hex());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(d.size()));
}

void openssl_evp_sha256_stream(benchmark::State& state) {
    const auto block = static_cast<std::size_t>(state.range(0));
    const auto& d = data();
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    for (auto _ : state) {
        EVP_DigestInit_ex(ctx, md, nullptr);
        for (std::size_t off = 0; off + block <= d.size(); off += block) EVP_DigestUpdate(ctx, d.data() + off, block);
        EVP_DigestFinal_ex(ctx, out, &len);
        benchmark::DoNotOptimize(out);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(d.size()));
}

// The upload engine's own pattern: per `block` chunk, the part's CRC32 (ISA-L, AVX-512 here) and
// then the object's SHA-256 (SHA-NI). Within a few percent of wharf_sha256_stream when the vector
// state is cleared after each CRC (checksum.cpp); 25 % slower when it is not.
void wharf_sha256_after_crc32_chunks(benchmark::State& state) {
    const auto block = static_cast<std::size_t>(state.range(0));
    const auto& d = data();
    for (auto _ : state) {
        wharf::storage::sha256 h;
        wharf::storage::part_checksum sum(wharf::storage::checksum_kind::crc32);
        for (std::size_t off = 0; off + block <= d.size(); off += block) {
            const std::span<const char> chunk(d.data() + off, block);
            sum.update(chunk);
            h.update(chunk);
        }
        benchmark::DoNotOptimize(h.finish_hex());
        benchmark::DoNotOptimize(sum.finish_base64());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(d.size()));
}

// Content-MD5 of one 16 MiB part, as the engine computes it for every part.
void wharf_md5_base64_part(benchmark::State& state) {
    const auto part = static_cast<std::size_t>(state.range(0));
    const auto& d = data();
    for (auto _ : state) benchmark::DoNotOptimize(wharf::storage::md5_base64(std::span<const char>(d.data(), part)));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(part));
}

}  // namespace

BENCHMARK(wharf_sha256_stream)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(openssl_evp_sha256_stream)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(wharf_sha256_after_crc32_chunks)->Arg(256 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK(wharf_md5_base64_part)->Arg(16 << 20)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
