// Digests the storage code computes on every byte it moves: SHA-256 of whole objects (streamed),
// MD5 of parts (Content-MD5), HMAC-SHA256 for request signing, and their hex/base64 spellings.
// All on OpenSSL EVP, which uses SHA-NI / AVX2 where the CPU has them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace wharf::storage {

// Streaming SHA-256. Feed it large blocks (>= 1 MiB) to run at `openssl speed -evp sha256` pace.
class sha256 {
public:
    sha256();
    ~sha256();
    sha256(sha256&&) noexcept;
    sha256& operator=(sha256&&) noexcept;

    void update(std::span<const char> bytes);
    void update(std::string_view bytes) { update(std::span<const char>(bytes.data(), bytes.size())); }
    void update(const std::string& bytes) { update(std::string_view(bytes)); }
    // The digest as 64 lowercase hex characters. The object must not be updated afterwards.
    std::string finish_hex();

private:
    struct ctx_deleter {
        void operator()(evp_md_ctx_st* ctx) const noexcept;
    };
    std::unique_ptr<evp_md_ctx_st, ctx_deleter> ctx_;
};

std::string sha256_hex(std::span<const char> bytes);
inline std::string sha256_hex(std::string_view bytes) { return sha256_hex(std::span<const char>(bytes.data(), bytes.size())); }
inline std::string sha256_hex(const std::string& bytes) { return sha256_hex(std::string_view(bytes)); }
inline std::string sha256_hex(const char* bytes) { return sha256_hex(std::string_view(bytes)); }
// Blocking: reads the whole file (call it off the I/O thread). Throws storage::error.
std::string sha256_file_hex(const std::filesystem::path& file);

// Raw 16-byte MD5 digest, base64-encoded: the value of a Content-MD5 header.
std::string md5_base64(std::span<const char> bytes);

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string to_hex(std::string_view raw);
std::string base64_encode(std::string_view raw);
// Standard alphabet with padding; nullopt when `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

// A SHA-256 hex digest as stored in metadata: 64 lowercase hex characters.
bool is_sha256_hex(std::string_view text) noexcept;

}  // namespace wharf::storage
