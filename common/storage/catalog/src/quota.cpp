// Quota checks and human-readable byte counts.
#include "wharf/storage/quota.hpp"

#include <fmt/format.h>

#include <array>

namespace wharf::storage {

std::string human_bytes(std::uint64_t bytes) {
    static constexpr std::array<const char*, 7> units{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return fmt::format("{} B", bytes);
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < units.size()) {
        value /= 1024.0;
        ++unit;
    }
    return fmt::format("{:.2f} {}", value, units[unit]);
}

std::string quota_exceeded_message(std::uint64_t used_bytes, std::uint64_t quota_bytes) {
    return fmt::format("quota exceeded: used {} of {} ({} of {})", used_bytes, quota_bytes, human_bytes(used_bytes),
                       human_bytes(quota_bytes));
}

std::optional<std::string> quota_violation(std::uint64_t used_bytes, std::optional<std::uint64_t> quota_bytes,
                                           std::uint64_t additional_bytes) {
    if (!quota_bytes) return std::nullopt;
    // used + additional > quota, written so it cannot wrap.
    if (used_bytes > *quota_bytes || additional_bytes > *quota_bytes - used_bytes)
        return quota_exceeded_message(used_bytes, *quota_bytes);
    return std::nullopt;
}

}  // namespace wharf::storage
