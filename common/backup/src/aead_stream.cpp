// See wharf/backup/aead_stream.hpp.
#include "wharf/backup/aead_stream.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <stdexcept>

namespace wharf::backup {
namespace {

constexpr std::string_view magic = "WHARFGCM";
constexpr unsigned char version = 1;

struct ctx_deleter {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, ctx_deleter>;

std::array<unsigned char, 8> key_id(const aead_key& key) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    std::string input = "wharf-backup-key";
    input.append(reinterpret_cast<const char*>(key.data()), key.size());
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    OPENSSL_cleanse(input.data(), input.size());
    std::array<unsigned char, 8> id{};
    std::memcpy(id.data(), digest, id.size());
    return id;
}

std::array<unsigned char, 12> nonce_of(const unsigned char* prefix, std::uint32_t n, bool last) {
    std::array<unsigned char, 12> nonce{};
    std::memcpy(nonce.data(), prefix, 7);
    nonce[7] = static_cast<unsigned char>(n >> 24);
    nonce[8] = static_cast<unsigned char>(n >> 16);
    nonce[9] = static_cast<unsigned char>(n >> 8);
    nonce[10] = static_cast<unsigned char>(n);
    nonce[11] = last ? 1 : 0;
    return nonce;
}

// Seals or opens one chunk. Opening returns false when the tag does not match.
bool seal_or_open(bool seal, const aead_key& key, const std::array<unsigned char, 12>& nonce, std::string_view aad,
                  const char* in, std::size_t n, unsigned char* tag, std::string& out) {
    cipher_ctx c(EVP_CIPHER_CTX_new());
    if (!c) throw std::runtime_error("backup encryption: out of memory");
    auto init = seal ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
    if (init(c.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1)
        throw std::runtime_error("backup encryption: AES-256-GCM unavailable");
    int len = 0;
    auto update = seal ? EVP_EncryptUpdate : EVP_DecryptUpdate;
    if (update(c.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()), static_cast<int>(aad.size())) != 1)
        throw std::runtime_error("backup encryption: AAD failed");
    const std::size_t at = out.size();
    out.resize(at + n);
    if (n && update(c.get(), reinterpret_cast<unsigned char*>(out.data() + at), &len,
                    reinterpret_cast<const unsigned char*>(in), static_cast<int>(n)) != 1)
        throw std::runtime_error("backup encryption: cipher failed");
    if (!seal && EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, aead_tag_size, tag) != 1)
        throw std::runtime_error("backup encryption: tag failed");
    int tail = 0;
    const int ok = seal ? EVP_EncryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(out.data() + at + n), &tail)
                        : EVP_DecryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(out.data() + at + n), &tail);
    if (!ok) {
        if (seal) throw std::runtime_error("backup encryption: cipher failed");
        OPENSSL_cleanse(out.data() + at, n);
        out.resize(at);
        return false;
    }
    if (seal && EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, aead_tag_size, tag) != 1)
        throw std::runtime_error("backup encryption: tag failed");
    return true;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

aead_key parse_backup_key(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    aead_key key{};
    if (text.size() == 64) {
        bool ok = true;
        for (std::size_t i = 0; i < 32 && ok; ++i) {
            const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            key[i] = static_cast<unsigned char>(hi * 16 + lo);
        }
        if (ok) return key;
    }
    if (text.size() == 44) {
        unsigned char decoded[33];
        const int n = EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(text.data()), 44);
        // EVP_DecodeBlock counts padding bytes: 32 bytes of key are 33 decoded with one '='.
        if (n == 33 && text[43] == '=' && text[42] != '=') {
            std::memcpy(key.data(), decoded, 32);
            OPENSSL_cleanse(decoded, sizeof decoded);
            return key;
        }
        OPENSSL_cleanse(decoded, sizeof decoded);
    }
    throw std::invalid_argument("the backup key must be 32 bytes: 64 hex digits or 44 base64 characters "
                                "(e.g. `openssl rand -hex 32`)");
}

std::string key_id_hex(const aead_key& key) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : key_id(key)) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

bool looks_encrypted(std::string_view first_bytes) noexcept { return first_bytes.starts_with(magic); }

struct aead_encryptor::impl {
    aead_key key;
    std::string header;
    std::size_t chunk = 0;
    std::uint32_t next = 0;
    std::string buffer;
    bool started = false, finished = false;

    void seal(const char* data, std::size_t n, bool last, std::string& out) {
        if (next == UINT32_MAX) throw std::runtime_error("backup encryption: stream too long");
        unsigned char tag[aead_tag_size];
        seal_or_open(true, key, nonce_of(reinterpret_cast<const unsigned char*>(header.data()) + 10, next, last),
                     header, data, n, tag, out);
        out.append(reinterpret_cast<const char*>(tag), aead_tag_size);
        ++next;
    }
};

aead_encryptor::aead_encryptor(const aead_key& key, unsigned chunk_log2) : impl_(std::make_unique<impl>()) {
    if (chunk_log2 < 16 || chunk_log2 > 24) throw std::invalid_argument("chunk size must be 2^16..2^24");
    impl_->key = key;
    impl_->chunk = std::size_t{1} << chunk_log2;
    unsigned char prefix[7];
    if (RAND_bytes(prefix, sizeof prefix) != 1) throw std::runtime_error("backup encryption: no random bytes");
    impl_->header.assign(magic);
    impl_->header.push_back(static_cast<char>(version));
    impl_->header.push_back(static_cast<char>(chunk_log2));
    impl_->header.append(reinterpret_cast<const char*>(prefix), sizeof prefix);
    const auto id = key_id(key);
    impl_->header.append(reinterpret_cast<const char*>(id.data()), id.size());
}

aead_encryptor::~aead_encryptor() {
    if (impl_) OPENSSL_cleanse(impl_->key.data(), impl_->key.size());
}

void aead_encryptor::update(std::span<const char> in, std::string& out) {
    auto& m = *impl_;
    if (m.finished) throw std::logic_error("aead_encryptor: update after finish");
    if (!m.started) {
        out += m.header;
        m.started = true;
    }
    // A full buffer is sealed only when more bytes follow: the last chunk must carry the flag.
    while (!in.empty()) {
        if (m.buffer.size() == m.chunk) {
            m.seal(m.buffer.data(), m.buffer.size(), false, out);
            m.buffer.clear();
        }
        const std::size_t take = std::min(in.size(), m.chunk - m.buffer.size());
        m.buffer.append(in.data(), take);
        in = in.subspan(take);
    }
}

void aead_encryptor::finish(std::string& out) {
    auto& m = *impl_;
    if (m.finished) return;
    if (!m.started) {
        out += m.header;
        m.started = true;
    }
    m.seal(m.buffer.data(), m.buffer.size(), true, out);
    OPENSSL_cleanse(m.buffer.data(), m.buffer.size());
    m.buffer.clear();
    m.finished = true;
}

struct aead_decryptor::impl {
    aead_key key;
    std::string header, buffer;
    std::size_t chunk = 0;
    std::uint32_t next = 0;
    bool ended = false;

    void open(const char* data, std::size_t n, bool last, std::string& out) {
        if (n < aead_tag_size) throw corrupt_stream("the encrypted backup ends early (truncated)");
        const std::size_t body = n - aead_tag_size;
        unsigned char tag[aead_tag_size];
        std::memcpy(tag, data + body, aead_tag_size);
        if (!seal_or_open(false, key, nonce_of(reinterpret_cast<const unsigned char*>(header.data()) + 10, next, last),
                          header, data, body, tag, out))
            throw corrupt_stream("the encrypted backup's chunk " + std::to_string(next) +
                                 " fails authentication (damaged, cut short or reordered)");
        ++next;
    }
};

aead_decryptor::aead_decryptor(const aead_key& key) : impl_(std::make_unique<impl>()) { impl_->key = key; }

aead_decryptor::~aead_decryptor() {
    if (impl_) OPENSSL_cleanse(impl_->key.data(), impl_->key.size());
}

void aead_decryptor::update(std::span<const char> in, std::string& out) {
    auto& m = *impl_;
    if (m.ended) {
        if (!in.empty()) throw corrupt_stream("bytes after the encrypted backup's last chunk");
        return;
    }
    if (m.header.size() < aead_header_size) {
        const std::size_t take = std::min(in.size(), aead_header_size - m.header.size());
        m.header.append(in.data(), take);
        in = in.subspan(take);
        if (m.header.size() < aead_header_size) {
            if (!std::string_view(magic).starts_with(std::string_view(m.header).substr(0, std::min(m.header.size(), magic.size()))))
                throw corrupt_stream("not an encrypted wharf backup");
            return;
        }
        if (!looks_encrypted(m.header)) throw corrupt_stream("not an encrypted wharf backup");
        if (static_cast<unsigned char>(m.header[8]) != version)
            throw corrupt_stream("an encrypted backup of an unknown version " +
                                 std::to_string(static_cast<unsigned char>(m.header[8])));
        const unsigned log2 = static_cast<unsigned char>(m.header[9]);
        if (log2 < 16 || log2 > 24) throw corrupt_stream("an encrypted backup with a bad chunk size");
        m.chunk = std::size_t{1} << log2;
        const auto id = key_id(m.key);
        if (std::memcmp(id.data(), m.header.data() + 17, id.size()) != 0)
            throw corrupt_stream("the backup was encrypted with another key (this key's id is " + key_id_hex(m.key) + ")");
    }
    // A whole sealed chunk is opened once more bytes follow it (only the last may be short).
    const std::size_t sealed = m.chunk + aead_tag_size;
    while (!in.empty()) {
        if (m.buffer.size() == sealed) {
            m.open(m.buffer.data(), m.buffer.size(), false, out);
            m.buffer.clear();
        }
        const std::size_t take = std::min(in.size(), sealed - m.buffer.size());
        m.buffer.append(in.data(), take);
        in = in.subspan(take);
    }
}

void aead_decryptor::finish(std::string& out) {
    auto& m = *impl_;
    if (m.ended) return;
    if (m.header.size() < aead_header_size) throw corrupt_stream("the encrypted backup ends early (no header)");
    m.open(m.buffer.data(), m.buffer.size(), true, out);
    m.buffer.clear();
    m.ended = true;
}

}  // namespace wharf::backup
