// Per-API-key storage quotas (pure checks; the numbers come from the api_keys table) and the
// byte formatting shared by quota messages, alerts and `wharfctl storage stats`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace wharf::storage {

// "1.50 GiB", "512 B" (binary units, two decimals above bytes).
std::string human_bytes(std::uint64_t bytes);

// Exactly "quota exceeded: used X of Y (h(X) of h(Y))", X and Y in bytes.
std::string quota_exceeded_message(std::uint64_t used_bytes, std::uint64_t quota_bytes);

// The refusal message when `used + additional` would pass `quota` (nullopt quota = unlimited),
// nullopt when the upload fits. Overflow-safe.
std::optional<std::string> quota_violation(std::uint64_t used_bytes, std::optional<std::uint64_t> quota_bytes,
                                           std::uint64_t additional_bytes);

}  // namespace wharf::storage
