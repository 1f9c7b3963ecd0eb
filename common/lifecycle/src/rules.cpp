// See wharf/lifecycle/rules.hpp.
#include "wharf/lifecycle/rules.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json_setting.hpp"
#include "wharf/storage/registry.hpp"  // parse_byte_size

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>
#include <utility>

namespace wharf::lifecycle {
namespace {

constexpr std::size_t max_text = 1024;

std::optional<std::chrono::seconds> age_field(const nlohmann::json& entry, const char* name, const std::string& where) {
    if (!entry.contains(name)) return std::nullopt;
    const auto& v = entry[name];
    std::optional<std::chrono::milliseconds> d;
    if (v.is_string()) d = parse_duration(v.get<std::string>());
    if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::hours(24 * 36500))
        throw config_error(fmt::format("{}: \"{}\" must be an age such as \"30d\" or \"12h\" (1 s .. 100 years)", where, name));
    return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

std::string text_field(const nlohmann::json& entry, const char* name, const std::string& where) {
    const auto& v = entry[name];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > max_text)
        throw config_error(fmt::format("{}: \"{}\" must be a non-empty string of at most {} bytes", where, name, max_text));
    return v.get<std::string>();
}

int coldness(std::string_view tier) noexcept { return tier == "cold" ? 2 : tier == "warm" ? 1 : 0; }

}  // namespace

rule_set parse_rules(const nlohmann::json& doc, std::string_view origin) {
    if (!doc.is_object()) throw config_error(fmt::format("{}: expected {{\"rules\": [...]}}", origin));
    for (const auto& [name, value] : doc.items()) {
        (void)value;
        if (name != "rules" && name != "min_size")
            throw config_error(fmt::format("{}: unknown field \"{}\" (rules, min_size)", origin, name));
    }
    rule_set out;
    if (doc.contains("min_size")) {
        const auto& v = doc["min_size"];
        std::optional<std::uint64_t> bytes;
        if (v.is_number_unsigned()) bytes = v.get<std::uint64_t>();
        else if (v.is_string()) bytes = storage::parse_byte_size(v.get<std::string>());
        if (!bytes) throw config_error(fmt::format("{}: \"min_size\" must be a size such as 131072 or \"128KiB\"", origin));
        out.min_tier_size = *bytes;
    }
    if (!doc.contains("rules") || !doc["rules"].is_array())
        throw config_error(fmt::format("{}: \"rules\" must be an array", origin));
    const auto& list = doc["rules"];
    if (list.size() > max_rules) throw config_error(fmt::format("{}: more than {} rules", origin, max_rules));
    std::set<std::pair<std::string, std::string>> seen;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& entry = list[i];
        const std::string where = fmt::format("{}: rule #{}", origin, i + 1);
        if (!entry.is_object()) throw config_error(where + " must be an object");
        for (const auto& [name, value] : entry.items()) {
            (void)value;
            if (name != "prefix" && name != "api_key" && name != "warm_after" && name != "cold_after" &&
                name != "expire_after")
                throw config_error(fmt::format("{}: unknown field \"{}\" (prefix, api_key, warm_after, cold_after, "
                                               "expire_after)",
                                               where, name));
        }
        if (!entry.contains("prefix")) throw config_error(where + " needs a \"prefix\"");
        rule r;
        r.prefix = text_field(entry, "prefix", where);
        if (entry.contains("api_key")) r.api_key = text_field(entry, "api_key", where);
        r.warm_after = age_field(entry, "warm_after", where);
        r.cold_after = age_field(entry, "cold_after", where);
        r.expire_after = age_field(entry, "expire_after", where);
        const std::string named = fmt::format("{} ({})", where, r.prefix);
        if (!r.warm_after && !r.cold_after && !r.expire_after)
            throw config_error(named + ": needs warm_after, cold_after or expire_after");
        if (r.warm_after && r.cold_after && *r.cold_after <= *r.warm_after)
            throw config_error(named + ": cold_after must be later than warm_after");
        for (const auto& tier_change : {r.warm_after, r.cold_after})
            if (r.expire_after && tier_change && *tier_change >= *r.expire_after)
                throw config_error(named + ": expire_after must be later than the tier changes (they would never happen)");
        if (!seen.emplace(r.prefix, r.api_key.value_or("")).second)
            throw config_error(named + ": another rule has the same prefix" + (r.api_key ? " and api_key" : ""));
        out.rules.push_back(std::move(r));
    }
    return out;
}

rule_set default_rules() {
    using std::chrono::hours;
    rule_set r;
    r.rules.push_back({"processed/", std::nullopt, hours(24 * 30), hours(24 * 90), std::nullopt});
    r.rules.push_back({"temp/", std::nullopt, std::nullopt, std::nullopt, hours(24)});
    r.rules.push_back({"failed/", std::nullopt, std::nullopt, std::nullopt, hours(24 * 7)});
    return r;
}

wharf::option_spec lifecycle_rules_option() {
    return {"lifecycle_rules",
            "lifecycle rules: a JSON file, or inline JSON {\"min_size\":\"128KiB\",\"rules\":[{\"prefix\",\"api_key\","
            "\"warm_after\",\"cold_after\",\"expire_after\"}]} (default: processed/ warm 30d cold 90d, temp/ expire 1d, "
            "failed/ expire 7d)"};
}

rule_set rules_from(const wharf::config& cfg) {
    const auto value = cfg.get("lifecycle_rules");
    if (!value || value->empty()) return default_rules();
    constexpr json_limits limits{.max_bytes = 1024 * 1024, .max_depth = 8};
    const auto setting = load_json_setting("lifecycle_rules", *value, limits);
    return parse_rules(setting.value, setting.origin);
}

const rule* governing_rule(const rule_set& rules, std::string_view key, const std::optional<std::string>& api_key) {
    const rule* best = nullptr;
    for (const auto& r : rules.rules) {
        if (!key.starts_with(r.prefix)) continue;
        if (r.api_key && r.api_key != api_key) continue;
        if (!best || r.prefix.size() > best->prefix.size() ||
            (r.prefix.size() == best->prefix.size() && r.api_key && !best->api_key))
            best = &r;
    }
    return best;
}

std::string_view to_string(action a) noexcept {
    switch (a) {
    case action::keep: return "keep";
    case action::to_warm: return "to_warm";
    case action::to_cold: return "to_cold";
    case action::expire: return "expire";
    }
    return "keep";
}

action decide(const rule_set& rules, const object_facts& o) {
    const rule* r = governing_rule(rules, o.key, o.api_key);
    if (!r) return action::keep;
    if (r->expire_after && o.age >= *r->expire_after) return action::expire;
    if (o.size < rules.min_tier_size) return action::keep;
    int target = 0;
    if (r->cold_after && o.age >= *r->cold_after) target = 2;
    else if (r->warm_after && o.age >= *r->warm_after) target = 1;
    if (target <= coldness(o.tier)) return action::keep;
    return target == 2 ? action::to_cold : action::to_warm;
}

}  // namespace wharf::lifecycle
