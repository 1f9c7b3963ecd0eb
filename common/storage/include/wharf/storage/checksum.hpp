// Per-part integrity checksums the multipart engine computes and a backend sends with each part:
// Content-MD5, or S3's `x-amz-checksum-crc32` / `-crc32c` (which AWS, MinIO and the AWS SDKs'
// defaults use). CRC32/CRC32C run on Intel ISA-L (~30 GB/s on one core with PCLMULQDQ), MD5 on
// OpenSSL (~0.75 GB/s): on a 1 GiB upload that is 0.03 against 1.4 CPU-seconds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace wharf::storage {

enum class checksum_kind { none, md5, crc32, crc32c };

// "none", "md5", "crc32", "crc32c" (case-insensitive); nullopt for anything else.
std::optional<checksum_kind> parse_checksum_kind(std::string_view name) noexcept;
std::string_view to_string(checksum_kind kind) noexcept;

// CRC-32 (ISO-HDLC, zlib's and S3's CRC32) and CRC-32C (Castagnoli), continued from `crc`
// (0 to start): crc32(crc32(0, a), b) == crc32(0, a + b).
std::uint32_t crc32(std::uint32_t crc, std::span<const char> bytes) noexcept;
std::uint32_t crc32c(std::uint32_t crc, std::span<const char> bytes) noexcept;
// The big-endian 4 bytes, base64-encoded: how S3 and GCS spell a CRC ("AAAAAA==" for 0).
std::string crc_base64(std::uint32_t crc);

// One part's checksum, computed incrementally. Not thread-safe; movable.
class part_checksum {
public:
    explicit part_checksum(checksum_kind kind = checksum_kind::none);
    ~part_checksum();
    part_checksum(part_checksum&&) noexcept;
    part_checksum& operator=(part_checksum&&) noexcept;

    checksum_kind kind() const noexcept { return kind_; }
    void update(std::span<const char> bytes);
    // The header value: base64 of the digest (MD5: 16 bytes; CRC: 4 bytes big-endian); empty for
    // none. Ends this computation: call reset() to start another.
    std::string finish_base64();
    void reset();

private:
    struct ctx_deleter {
        void operator()(evp_md_ctx_st* ctx) const noexcept;
    };
    checksum_kind kind_;
    std::uint32_t crc_ = 0;
    std::unique_ptr<evp_md_ctx_st, ctx_deleter> md5_;
};

// S3's checksum of a multipart object with per-part CRCs ("COMPOSITE"): the CRC of the
// concatenated raw part CRCs, base64, then "-<parts>". `part_values` are the base64 values sent
// with the parts, in part order. Returns nullopt for md5/none or a value that is not 4 bytes.
std::optional<std::string> composite_checksum(checksum_kind kind, std::span<const std::string> part_values);

}  // namespace wharf::storage
