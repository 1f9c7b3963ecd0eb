// What a lifecycle run would do to the catalog's live objects (`wharfctl storage lifecycle plan`):
// counts and bytes per provider and action, from the rules (rules.hpp) and each row's age and tier.
#pragma once

#include "wharf/lifecycle/rules.hpp"
#include "wharf/pg/pool.hpp"  // the pqxx::connection declaration

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace wharf::lifecycle {

struct plan_line {
    std::string provider;
    action what = action::keep;
    std::uint64_t objects = 0, bytes = 0;
};

struct lifecycle_plan {
    std::vector<plan_line> lines;  // by provider, then action (keep included)
    std::uint64_t examined = 0;
    std::uint64_t below_min_size = 0;  // would have been tiered but are smaller than min_size
};

// Reads the live rows in pages (blocking: inside pg::pool::run).
lifecycle_plan plan_lifecycle(pqxx::connection& c, const rule_set& rules);

// {examined, below_min_size, min_size, providers: [{provider, keep: {objects, bytes}, to_warm,
//  to_cold, expire}], totals: {keep, to_warm, to_cold, expire}}. Pure.
nlohmann::json to_json(const lifecycle_plan& p, const rule_set& rules);

}  // namespace wharf::lifecycle
