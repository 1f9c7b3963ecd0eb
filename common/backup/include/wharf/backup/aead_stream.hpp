// Client-side encryption of backups: AES-256-GCM (OpenSSL) over a stream cut into chunks, each
// sealed on its own, so a reader never gets a byte that was not authenticated and a stream cut
// short, reordered or spliced is refused (the STREAM construction: the chunk number and a "last"
// flag are in each nonce). Pure (no I/O); not thread-safe (one stream per object).
//
// Layout: a 25-byte header -- "WHARFGCM", version 1, log2 of the chunk size (16..24), a 7-byte
// random nonce prefix, and the key's 8-byte id (SHA-256 of "wharf-backup-key" and the key, cut:
// a wrong key is named as such before any chunk is tried) -- then chunks of `chunk size`
// ciphertext bytes plus a 16-byte tag, the last one shorter (possibly empty) and flagged. Nonce:
// prefix || chunk number (big-endian, 32 bits) || last (1) or not (0). The header is each chunk's
// additional authenticated data.
#pragma once

#include "wharf/backup/zstd_stream.hpp"  // corrupt_stream

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace wharf::backup {

using aead_key = std::array<unsigned char, 32>;

// The key from its text (the environment variable WHARF_BACKUP_KEY): 64 hex digits or the
// base64 of 32 bytes. Throws std::invalid_argument saying what is expected (never the text).
aead_key parse_backup_key(std::string_view text);
// The key's id as 16 hex digits (what the header records; safe to show).
std::string key_id_hex(const aead_key& key);

inline constexpr std::size_t aead_header_size = 25;
inline constexpr std::size_t aead_tag_size = 16;

class aead_encryptor {
public:
    explicit aead_encryptor(const aead_key& key, unsigned chunk_log2 = 20);
    ~aead_encryptor();
    aead_encryptor(const aead_encryptor&) = delete;
    aead_encryptor& operator=(const aead_encryptor&) = delete;

    // Appends the header (first call) and every chunk `in` completes to `out`.
    void update(std::span<const char> in, std::string& out);
    // Appends the last chunk. No update() after it.
    void finish(std::string& out);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

class aead_decryptor {
public:
    explicit aead_decryptor(const aead_key& key);
    ~aead_decryptor();
    aead_decryptor(const aead_decryptor&) = delete;
    aead_decryptor& operator=(const aead_decryptor&) = delete;

    // Appends the plaintext of every chunk `in` completes (all but the last, which finish()
    // opens) to `out`. Throws corrupt_stream: not this format, another key, a chunk that fails
    // authentication. Buffers at most one chunk.
    void update(std::span<const char> in, std::string& out);
    // The last chunk: throws corrupt_stream when the stream ends early (no last chunk).
    void finish(std::string& out);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Whether bytes begin as this format does (the magic).
bool looks_encrypted(std::string_view first_bytes) noexcept;

}  // namespace wharf::backup
