// API keys: "wk_<prefix>_<secret>", 8 and 32 base62 characters from the OS's CSPRNG (190 bits of
// secret). Only the SHA-256 of the whole key is stored; the prefix finds the row, the hashes are
// compared in constant time. Pure.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::apikeys {

using key_hash = std::array<unsigned char, 32>;

struct issued_key {
    std::string key;     // shown once, to whoever created it
    std::string prefix;  // stored, shown by `wharfctl apikeys list`
    key_hash hash{};
};

// A fresh key. Throws std::runtime_error when the CSPRNG fails.
issued_key generate();

// The prefix of a well-formed key; nullopt for anything else (the caller answers 401).
std::optional<std::string> prefix_of(std::string_view key);

key_hash hash_of(std::string_view key);

// Constant-time comparison (CRYPTO_memcmp).
bool same(const key_hash& a, const key_hash& b) noexcept;

// The scopes a key may hold.
inline constexpr std::string_view known_scopes[] = {"jobs:read", "jobs:write", "storage:read", "storage:write"};
// "jobs:read,storage:read" -> the list; nullopt and *why for an unknown or empty scope.
std::optional<std::vector<std::string>> parse_scopes(std::string_view text, std::string* why);
// A tenant name: 1-128 of [A-Za-z0-9._:@-] (the api_credentials CHECK).
bool valid_tenant(std::string_view tenant) noexcept;

}  // namespace wharf::apikeys
