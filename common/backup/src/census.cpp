// The census of a database (see census.hpp).
#include "wharf/backup/census.hpp"

#include "wharf/core/json.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <optional>
#include <stdexcept>

namespace wharf::backup {

census take_census(pqxx::dbtransaction& tx) {
    tx.exec0("SET LOCAL TimeZone = 'UTC'");
    tx.exec0("SET LOCAL DateStyle = 'ISO, YMD'");
    tx.exec0("SET LOCAL extra_float_digits = 1");
    census out;
    const auto tables = tx.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    for (const auto& row : tables) {
        const std::string name = row[0].as<std::string>();
        const std::string table = "public." + tx.quote_name(name);
        // hash_record_extended hashes each column with its type's own hash (no text conversion:
        // 3x cheaper on the jobs table than hashing row::text); a table with a column type that has
        // no hash function (json, point, ...) falls back to the row's text, in a subtransaction so
        // the refusal does not end ours.
        std::optional<pqxx::row> r;
        try {
            pqxx::subtransaction sub(tx, "census");
            r = sub.exec1("SELECT count(*), coalesce(sum(hash_record_extended(t, 0)), 0)::text FROM " + table + " t");
            sub.commit();
        } catch (const pqxx::sql_error&) {
            r = tx.exec1("SELECT count(*), 'text:' || coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM " + table +
                         " t");
        }
        out[name] = table_count{(*r)[0].as<std::uint64_t>(), (*r)[1].as<std::string>()};
    }
    return out;
}

nlohmann::json to_json(const census& c) {
    nlohmann::json tables = nlohmann::json::object();
    for (const auto& [name, count] : c) tables[name] = {{"rows", count.rows}, {"checksum", count.checksum}};
    return tables;
}

census census_from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw std::invalid_argument("the backup's census is not an object");
    census out;
    for (const auto& [name, v] : j.items()) {
        if (!v.is_object() || !v.contains("rows") || !v["rows"].is_number_unsigned() || !v.contains("checksum") ||
            !v["checksum"].is_string())
            throw std::invalid_argument("the backup's census entry for '" + name + "' is malformed");
        out[name] = table_count{v["rows"].get<std::uint64_t>(), v["checksum"].get<std::string>()};
    }
    return out;
}

census census_from_manifest(std::string_view text) {
    const auto parsed = parse_json(text, json_limits{16u << 20, 8});
    if (!parsed) throw std::invalid_argument("the backup's manifest is not JSON: " + parsed.error);
    if (!parsed.value.is_object() || !parsed.value.contains("tables"))
        throw std::invalid_argument("the backup's manifest has no tables");
    return census_from_json(parsed.value["tables"]);
}

std::vector<std::string> census_differences(const census& expected, const census& got) {
    std::vector<std::string> out;
    for (const auto& [name, want] : expected) {
        const auto it = got.find(name);
        if (it == got.end()) {
            out.push_back("table " + name + " is missing");
        } else if (it->second.rows != want.rows) {
            out.push_back("table " + name + ": " + std::to_string(it->second.rows) + " rows, the backup had " +
                          std::to_string(want.rows));
        } else if (it->second.checksum != want.checksum) {
            out.push_back("table " + name + ": same row count (" + std::to_string(want.rows) + "), different rows");
        }
    }
    for (const auto& [name, count] : got)
        if (!expected.contains(name)) out.push_back("table " + name + " was not in the backup");
    return out;
}

}  // namespace wharf::backup
