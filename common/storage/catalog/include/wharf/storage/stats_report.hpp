// Storage usage in the seeds' shape (`wharfctl storage stats --json`, wharf-api's
// GET /api/storage/stats): {providers: [{provider, total_size_bytes, total_size_gb, file_count,
// available_bytes, available_gb, used_percentage, is_full, last_updated}], total_size_bytes,
// total_size_gb, total_file_count}. Pure.
#pragma once

#include "wharf/storage/catalog.hpp"
#include "wharf/storage/registry.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace wharf::storage {

// Every provider in the catalog and every configured one (a configured provider that has stored
// nothing yet has no row), by name.
nlohmann::json stats_report(std::vector<provider_stats> rows, const std::vector<provider_config>& configured);

}  // namespace wharf::storage
