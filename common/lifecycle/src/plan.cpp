// See wharf/lifecycle/plan.hpp.
#include "wharf/lifecycle/plan.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <map>
#include <utility>

namespace wharf::lifecycle {
namespace {

constexpr std::int64_t page_rows = 10'000;
constexpr action all_actions[] = {action::keep, action::to_warm, action::to_cold, action::expire};

}  // namespace

lifecycle_plan plan_lifecycle(pqxx::connection& c, const rule_set& rules) {
    std::map<std::pair<std::string, action>, plan_line> lines;
    lifecycle_plan out;
    std::int64_t after = 0;
    for (;;) {
        pqxx::read_transaction tx(c, "lifecycle_plan");
        const auto rows = tx.exec_params(
            "SELECT id, provider, key, api_key, size, tier, GREATEST(0, EXTRACT(EPOCH FROM now() - created_at))::bigint "
            "FROM objects WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
            after, page_rows);
        for (const auto& row : rows) {
            after = row[0].as<std::int64_t>();
            const auto key = row[2].as<std::string>();
            const auto tier = row[5].as<std::string>();
            object_facts o;
            o.key = key;
            if (!row[3].is_null()) o.api_key = row[3].as<std::string>();
            o.size = row[4].as<std::uint64_t>();
            o.tier = tier;
            o.age = std::chrono::seconds(row[6].as<std::int64_t>());
            const action a = decide(rules, o);
            if (a == action::keep && o.size < rules.min_tier_size) {
                rule_set unbounded = rules;  // would it have been tiered at any size?
                unbounded.min_tier_size = 0;
                if (decide(unbounded, o) != action::keep) ++out.below_min_size;
            }
            auto provider = row[1].as<std::string>();
            auto& line = lines[{provider, a}];
            line.provider = std::move(provider);
            line.what = a;
            ++line.objects;
            line.bytes += o.size;
            ++out.examined;
        }
        if (rows.size() < static_cast<std::size_t>(page_rows)) break;
    }
    for (auto& [k, line] : lines) out.lines.push_back(std::move(line));
    return out;
}

nlohmann::json to_json(const lifecycle_plan& p, const rule_set& rules) {
    const auto empty = [] { return nlohmann::json{{"objects", 0}, {"bytes", 0}}; };
    nlohmann::json totals = nlohmann::json::object();
    for (const action a : all_actions) totals[std::string(to_string(a))] = empty();
    std::map<std::string, nlohmann::json> providers;
    for (const auto& line : p.lines) {
        auto& entry = providers[line.provider];
        if (entry.is_null()) {
            entry = {{"provider", line.provider}};
            for (const action a : all_actions) entry[std::string(to_string(a))] = empty();
        }
        const std::string name{to_string(line.what)};
        entry[name] = {{"objects", line.objects}, {"bytes", line.bytes}};
        totals[name]["objects"] = totals[name]["objects"].get<std::uint64_t>() + line.objects;
        totals[name]["bytes"] = totals[name]["bytes"].get<std::uint64_t>() + line.bytes;
    }
    nlohmann::json list = nlohmann::json::array();
    for (auto& [name, entry] : providers) list.push_back(std::move(entry));
    return {{"examined", p.examined},
            {"below_min_size", p.below_min_size},
            {"min_size", rules.min_tier_size},
            {"providers", std::move(list)},
            {"totals", std::move(totals)}};
}

}  // namespace wharf::lifecycle
