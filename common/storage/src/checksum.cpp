// Part checksums: CRCs on Intel ISA-L, MD5 on OpenSSL EVP (see checksum.hpp).
#include "wharf/storage/checksum.hpp"

#include "wharf/storage/sha256.hpp"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace wharf::storage {
namespace {

// ISA-L 2.30's AVX-512 CRC kernels return with the upper halves of the vector registers still
// dirty (no VZEROUPPER). Every legacy-SSE instruction after that pays a state-transition penalty,
// and OpenSSL's SHA-NI SHA-256 (and MD5) run right after a CRC on the same thread, chunk by chunk:
// in the upload pipeline the object's SHA-256 ran at 1.1 GB/s instead of 1.45 (measured on the
// bench file, bench/README.md). Clearing the state after each CRC call costs a few cycles.
#if defined(__x86_64__)
__attribute__((target("avx"))) void clear_upper_vector_state() noexcept { _mm256_zeroupper(); }
bool cpu_has_avx() noexcept {
    // __builtin_cpu_init first: this may run before libgcc's own constructor has filled in the
    // CPU model that __builtin_cpu_supports reads.
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx") != 0;
    }();
    return has;
}
inline void after_vector_kernel() noexcept {
    if (cpu_has_avx()) clear_upper_vector_state();
}
#else
inline void after_vector_kernel() noexcept {}
#endif

}  // namespace

std::optional<checksum_kind> parse_checksum_kind(std::string_view name) noexcept {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "none") return checksum_kind::none;
    if (lower == "md5") return checksum_kind::md5;
    if (lower == "crc32") return checksum_kind::crc32;
    if (lower == "crc32c") return checksum_kind::crc32c;
    return std::nullopt;
}

std::string_view to_string(checksum_kind kind) noexcept {
    switch (kind) {
    case checksum_kind::none: return "none";
    case checksum_kind::md5: return "md5";
    case checksum_kind::crc32: return "crc32";
    case checksum_kind::crc32c: return "crc32c";
    }
    return "none";
}

std::uint32_t crc32(std::uint32_t crc, std::span<const char> bytes) noexcept {
    // ISA-L's gzip-reflected CRC takes and returns the finished (inverted) value, like zlib's.
    // Its length is 64-bit, so any span is one call.
    const std::uint32_t out = crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    after_vector_kernel();
    return out;
}

std::uint32_t crc32c(std::uint32_t crc, std::span<const char> bytes) noexcept {
    // ISA-L's iSCSI CRC works on the raw register (no final inversion, int length): invert around
    // it so that it continues a finished value as crc32() does, and feed it in < 2 GiB slices.
    std::uint32_t reg = ~crc;
    auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data()));
    std::size_t left = bytes.size();
    while (left > 0) {
        const auto n = static_cast<int>(std::min<std::size_t>(left, 1u << 30));
        reg = crc32_iscsi(p, n, reg);
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    after_vector_kernel();
    return ~reg;
}

std::string crc_base64(std::uint32_t crc) {
    const char raw[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16), static_cast<char>(crc >> 8),
                         static_cast<char>(crc)};
    return base64_encode(std::string_view(raw, 4));
}

void part_checksum::ctx_deleter::operator()(evp_md_ctx_st* ctx) const noexcept { EVP_MD_CTX_free(ctx); }

part_checksum::part_checksum(checksum_kind kind) : kind_(kind) { reset(); }
part_checksum::~part_checksum() = default;
part_checksum::part_checksum(part_checksum&&) noexcept = default;
part_checksum& part_checksum::operator=(part_checksum&&) noexcept = default;

void part_checksum::reset() {
    crc_ = 0;
    if (kind_ != checksum_kind::md5) return;
    if (!md5_) md5_.reset(EVP_MD_CTX_new());
    if (!md5_ || EVP_DigestInit_ex(md5_.get(), EVP_md5(), nullptr) != 1) throw std::bad_alloc();
}

void part_checksum::update(std::span<const char> bytes) {
    switch (kind_) {
    case checksum_kind::none: return;
    case checksum_kind::crc32: crc_ = crc32(crc_, bytes); return;
    case checksum_kind::crc32c: crc_ = crc32c(crc_, bytes); return;
    case checksum_kind::md5:
        if (!bytes.empty() && EVP_DigestUpdate(md5_.get(), bytes.data(), bytes.size()) != 1)
            throw std::runtime_error("EVP_DigestUpdate(md5) failed");
        return;
    }
}

std::string part_checksum::finish_base64() {
    switch (kind_) {
    case checksum_kind::none: return {};
    case checksum_kind::crc32:
    case checksum_kind::crc32c: return crc_base64(crc_);
    case checksum_kind::md5: {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(md5_.get(), digest, &len) != 1) throw std::runtime_error("EVP_DigestFinal_ex(md5) failed");
        return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
    }
    }
    return {};
}

std::optional<std::string> composite_checksum(checksum_kind kind, std::span<const std::string> part_values) {
    if (kind != checksum_kind::crc32 && kind != checksum_kind::crc32c) return std::nullopt;
    std::uint32_t crc = 0;
    for (const auto& value : part_values) {
        const auto raw = base64_decode(value);
        if (!raw || raw->size() != 4) return std::nullopt;
        const std::span<const char> bytes(raw->data(), raw->size());
        crc = kind == checksum_kind::crc32 ? crc32(crc, bytes) : crc32c(crc, bytes);
    }
    return crc_base64(crc) + "-" + std::to_string(part_values.size());
}

}  // namespace wharf::storage
