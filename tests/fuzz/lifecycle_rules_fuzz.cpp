// Lifecycle rules (lifecycle_rules: inline JSON) through the real loader: every bad document ends
// in wharf::config_error; an accepted one keeps its invariants, and decide() never expires an
// object without an expiry rule, never tiers one under min_size, never goes warmer.
#include "fuzz_support.hpp"

#include "wharf/core/config.hpp"
#include "wharf/lifecycle/rules.hpp"

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace l = wharf::lifecycle;
    const std::string text(wharf::fuzz::text(data, size));
    // Only JSON-looking text: anything else is taken as a file name.
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') return 0;
    const std::array<wharf::option_spec, 1> specs = {l::lifecycle_rules_option()};
    l::rule_set rules;
    try {
        const auto cfg = wharf::config::load(std::vector<std::string>{"--lifecycle-rules", text}, {}, specs);
        rules = l::rules_from(cfg);
    } catch (const wharf::config_error&) {
        return 0;
    }
    WHARF_FUZZ_CHECK(rules.rules.size() <= l::max_rules);
    for (const auto& r : rules.rules) {
        WHARF_FUZZ_CHECK(!r.prefix.empty());
        WHARF_FUZZ_CHECK(r.warm_after || r.cold_after || r.expire_after);
        if (r.warm_after && r.cold_after) WHARF_FUZZ_CHECK(*r.cold_after > *r.warm_after);
    }
    // Every rule's own prefix as a key, at a few ages, sizes and tiers.
    static constexpr std::string_view tiers[] = {"hot", "warm", "cold"};
    for (const auto& r : rules.rules) {
        for (const std::int64_t age : {0LL, 3600LL, 86400LL * 30, 86400LL * 400, 86400LL * 36600}) {
            for (const std::uint64_t sz : {std::uint64_t{0}, rules.min_tier_size, std::uint64_t{1} << 40}) {
                for (std::size_t t = 0; t < 3; ++t) {
                    const l::object_facts o{r.prefix, r.api_key, sz, tiers[t], std::chrono::seconds(age)};
                    const auto a = l::decide(rules, o);
                    const l::rule* g = l::governing_rule(rules, o.key, o.api_key);
                    WHARF_FUZZ_CHECK(g != nullptr);
                    if (a == l::action::expire) WHARF_FUZZ_CHECK(g->expire_after && o.age >= *g->expire_after);
                    if (a == l::action::to_warm) WHARF_FUZZ_CHECK(t == 0 && sz >= rules.min_tier_size);
                    if (a == l::action::to_cold) WHARF_FUZZ_CHECK(t < 2 && sz >= rules.min_tier_size);
                }
            }
        }
    }
    return 0;
}
