// Storage analytics (seed 001's "storage analytics dashboard data", `wharfctl storage analytics`):
// what is stored now by provider, tier and prefix class and by api_key, and the live objects and
// bytes at the end of each of the last N days (UTC) with what was added and removed that day. All
// from the catalog: its rows keep their history (a deleted object keeps its row with deleted_at),
// so the past is exact without a separate rollup table, and a move or a tier change (one row,
// updated in place) is not counted as an add.
#pragma once

#include "wharf/pg/pool.hpp"  // the pqxx::connection declaration

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace wharf::storage {

struct usage_group {
    std::string provider, tier, prefix_class;
    std::uint64_t objects = 0, bytes = 0;
};

struct tenant_usage {
    std::optional<std::string> api_key;  // nullopt: objects stored without one
    std::uint64_t objects = 0, bytes = 0;
    std::optional<std::uint64_t> quota_bytes;
};

struct daily_usage {
    std::string day;  // YYYY-MM-DD (UTC)
    std::uint64_t objects = 0, bytes = 0;  // live at the end of the day
    std::uint64_t added_objects = 0, added_bytes = 0, removed_objects = 0, removed_bytes = 0;
};

struct analytics {
    std::vector<usage_group> groups;    // by provider, tier, prefix class
    std::vector<tenant_usage> tenants;  // the 100 largest, by bytes
    std::vector<daily_usage> days;      // oldest first, today last
};

// days: 1 to 366.
analytics load_analytics(pqxx::connection& c, int days);

// {totals: {objects, bytes}, by_provider: [{provider, tier, prefix_class, objects, bytes}],
//  by_api_key: [{api_key, objects, bytes, quota_bytes}], daily: [{day, objects, bytes,
//  added_objects, added_bytes, removed_objects, removed_bytes}]}. Pure.
nlohmann::json analytics_report(const analytics& a);

}  // namespace wharf::storage
