// The placement policy: weighted random choice among providers with room for the object.
#include "wharf/storage/placement.hpp"

#include "wharf/storage/quota.hpp"

#include <fmt/format.h>

#include <vector>

namespace wharf::storage {
namespace {

bool can_take(const provider_capacity& p, std::uint64_t size) {
    return p.used_bytes < p.limit_bytes && size <= p.limit_bytes - p.used_bytes;
}

std::string describe(const provider_capacity& p) {
    return fmt::format("{}: {} of {} used", p.name, human_bytes(p.used_bytes), human_bytes(p.limit_bytes));
}

}  // namespace

boost::system::result<std::size_t, refusal> choose_provider(std::span<const provider_capacity> providers,
                                                         std::uint64_t object_size,
                                                         std::optional<std::string_view> requested,
                                                         std::mt19937_64& rng) {
    if (requested) {
        for (std::size_t i = 0; i < providers.size(); ++i) {
            if (providers[i].name != *requested) continue;
            if (can_take(providers[i], object_size)) return i;
            return refusal{errc::all_providers_full,
                         fmt::format("storage provider \"{}\" cannot take {} ({})", *requested,
                                     human_bytes(object_size), describe(providers[i]))};
        }
        std::string names;
        for (const auto& p : providers) names += (names.empty() ? "" : ", ") + p.name;
        return refusal{errc::not_found, fmt::format("unknown storage provider \"{}\" (configured: {})", *requested,
                                                  names.empty() ? "none" : names)};
    }

    // Weights as doubles: exact enough for a random choice and immune to overflow when many
    // huge limits are summed.
    std::vector<std::size_t> candidates;
    std::vector<double> cumulative;
    double total = 0;
    for (std::size_t i = 0; i < providers.size(); ++i) {
        if (!can_take(providers[i], object_size)) continue;
        total += static_cast<double>(providers[i].limit_bytes - providers[i].used_bytes);
        candidates.push_back(i);
        cumulative.push_back(total);
    }
    if (candidates.empty()) {
        std::string why;
        for (const auto& p : providers) why += (why.empty() ? "" : "; ") + describe(p);
        return refusal{errc::all_providers_full,
                     fmt::format("all storage providers are full: cannot place {} ({})", human_bytes(object_size),
                                 why.empty() ? "no provider configured" : why)};
    }
    const double draw = std::uniform_real_distribution<double>(0.0, total)(rng);
    for (std::size_t c = 0; c < candidates.size(); ++c) {
        if (draw < cumulative[c]) return candidates[c];
    }
    return candidates.back();  // draw == total after rounding
}

}  // namespace wharf::storage
