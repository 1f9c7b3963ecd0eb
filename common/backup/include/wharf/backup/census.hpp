// The census of a database that a backup's manifest records and a restore drill checks: every
// table of the schema `public` (wharf's tables), its row count and an order-independent checksum
// of its rows -- the sum of hash_record_extended(row, 0), PostgreSQL's own per-type hashes (stable
// across versions: hash partitioning relies on them), or of hashtextextended(row::text, 0) for a
// table with a column type that has no hash -- taken in the same snapshot as the dump, so the
// restored copy must match it exactly.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pqxx {
class dbtransaction;
}

namespace wharf::backup {

struct table_count {
    std::uint64_t rows = 0;
    std::string checksum;  // a decimal number
    friend bool operator==(const table_count&, const table_count&) = default;
};
using census = std::map<std::string, table_count>;  // table name -> count

// Blocking. Sets TimeZone UTC and DateStyle ISO for the transaction first (a row's text depends on
// them), so call it at the start of the transaction whose snapshot is meant.
census take_census(pqxx::dbtransaction& tx);

nlohmann::json to_json(const census& c);
// Throws std::invalid_argument for a manifest that is not a census.
census census_from_json(const nlohmann::json& j);
// The census in a backup's manifest as PostgreSQL returns it ({"tables": {...}}), parsed with size
// and depth limits (16 MiB, 8 levels). Throws std::invalid_argument.
census census_from_manifest(std::string_view text);

// What differs, one readable line per table; empty when they match. Pure.
std::vector<std::string> census_differences(const census& expected, const census& got);

}  // namespace wharf::backup
