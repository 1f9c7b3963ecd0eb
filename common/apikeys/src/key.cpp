#include "wharf/apikeys/key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace wharf::apikeys {

namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::size_t prefix_length = 8, secret_length = 32;

// Uniform base62 by rejection sampling (bytes >= 248 are drawn again).
std::string random_base62(std::size_t n) {
    std::string out;
    out.reserve(n);
    unsigned char buf[64];
    while (out.size() < n) {
        if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("the system's random source failed");
        for (unsigned char b : buf) {
            if (b >= 248) continue;
            out += alphabet[b % 62];
            if (out.size() == n) break;
        }
    }
    return out;
}

bool base62(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return alphabet.find(c) != std::string_view::npos; });
}

}  // namespace

key_hash hash_of(std::string_view key) {
    key_hash h{};
    unsigned int len = 0;
    if (EVP_Digest(key.data(), key.size(), h.data(), &len, EVP_sha256(), nullptr) != 1 || len != h.size())
        throw std::runtime_error("SHA-256 failed");
    return h;
}

issued_key generate() {
    issued_key k;
    k.prefix = random_base62(prefix_length);
    k.key = "wk_" + k.prefix + "_" + random_base62(secret_length);
    k.hash = hash_of(k.key);
    return k;
}

std::optional<std::string> prefix_of(std::string_view key) {
    if (key.size() != 3 + prefix_length + 1 + secret_length || !key.starts_with("wk_") || key[3 + prefix_length] != '_')
        return std::nullopt;
    const auto prefix = key.substr(3, prefix_length);
    if (!base62(prefix) || !base62(key.substr(3 + prefix_length + 1))) return std::nullopt;
    return std::string(prefix);
}

bool same(const key_hash& a, const key_hash& b) noexcept { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

std::optional<std::vector<std::string>> parse_scopes(std::string_view text, std::string* why) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view scope = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (std::find(std::begin(known_scopes), std::end(known_scopes), scope) == std::end(known_scopes)) {
            if (why) *why = "unknown scope '" + std::string(scope) + "' (jobs:read, jobs:write, storage:read, storage:write)";
            return std::nullopt;
        }
        if (std::find(out.begin(), out.end(), scope) == out.end()) out.emplace_back(scope);
    }
    if (out.empty()) {
        if (why) *why = "no scope given";
        return std::nullopt;
    }
    return out;
}

bool valid_tenant(std::string_view t) noexcept {
    return !t.empty() && t.size() <= 128 && std::all_of(t.begin(), t.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    });
}

}  // namespace wharf::apikeys
