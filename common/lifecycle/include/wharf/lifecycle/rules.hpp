// Lifecycle rules: which stored objects go to a colder tier or expire, by key prefix (and
// optionally api_key) and age since the object was first stored (objects.created_at, which a
// move between providers or a tier change keeps). Pure: the parser and the decision; plan.hpp
// applies them to the catalog.
//
// Configuration (option lifecycle_rules: a JSON file or inline JSON):
//   {"min_size": "128KiB",                       objects below it are never tiered (expiry applies)
//    "rules": [{"prefix": "processed/", "warm_after": "30d", "cold_after": "90d"},
//              {"prefix": "temp/", "expire_after": "1d"},
//              {"prefix": "failed/", "expire_after": "7d"},
//              {"prefix": "videos/", "api_key": "tenant-1", "cold_after": "30d"}]}
// The rule that governs an object is the one with the longest matching prefix; of two with the
// same prefix, the one naming the object's api_key wins over one for every key. Without the
// option, the rules above (minus the tenant's) apply.
#pragma once

#include "wharf/core/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::lifecycle {

struct rule {
    std::string prefix;                  // non-empty
    std::optional<std::string> api_key;  // only this tenant's objects
    std::optional<std::chrono::seconds> warm_after, cold_after, expire_after;
};

struct rule_set {
    std::vector<rule> rules;
    std::uint64_t min_tier_size = 128 * 1024;
};

// At most this many rules; a prefix or api_key of at most 1024 bytes.
inline constexpr std::size_t max_rules = 1000;

// Throws config_error naming `origin`, the rule and the field: unknown fields, a rule without an
// action, cold_after not after warm_after, an expiry before a tier change, duplicates.
rule_set parse_rules(const nlohmann::json& doc, std::string_view origin);
rule_set default_rules();
wharf::option_spec lifecycle_rules_option();
// From the option (inline JSON, or a file; default_rules() when unset). Throws config_error.
rule_set rules_from(const wharf::config& cfg);

const rule* governing_rule(const rule_set& rules, std::string_view key, const std::optional<std::string>& api_key);

enum class action { keep, to_warm, to_cold, expire };
std::string_view to_string(action a) noexcept;

struct object_facts {
    std::string_view key;
    std::optional<std::string> api_key;
    std::uint64_t size = 0;
    std::string_view tier = "hot";  // hot | warm | cold
    std::chrono::seconds age{0};    // since first stored
};

// What the governing rule asks for now: expire once past expire_after; else the coldest tier
// whose age has passed, when that is colder than the object's tier and the object is not below
// min_size. Never a warmer tier.
action decide(const rule_set& rules, const object_facts& object);

}  // namespace wharf::lifecycle
