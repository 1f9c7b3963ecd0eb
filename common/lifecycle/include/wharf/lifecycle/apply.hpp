// Applying the lifecycle rules (`wharfctl storage lifecycle apply` and the `lifecycle` job type):
// each live catalog object the rules (rules.hpp) move to a colder tier has its class changed at
// its provider first (provider::set_tier: S3 storage class by copy in place, Azure access tier,
// the local provider's cold folder), then its row's tier (catalog set_object_tier: created_at,
// the object's age, stays); each expired object is deleted at its provider and then its row with
// the usage, by the one deletion of catalog objects (maintenance/catalog_removal.hpp).
//
// No state of its own: every run decides again from the catalog, so a run killed anywhere (kill
// -9) is finished by the next one -- a provider change already made is found done (set_tier is
// idempotent) and only the row follows; an object deleted whose row was not is deleted again
// (absent is no error) and its row goes with its usage once. A rerun after a complete run finds
// nothing to do.
#pragma once

#include "wharf/lifecycle/rules.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wharf::pg {
class pool;
}
namespace wharf::storage {
class registry;
}

namespace wharf::lifecycle {

struct apply_options {
    std::optional<std::string> provider;  // only this provider's objects; empty: every provider
    std::uint64_t limit = 100'000;        // objects changed (tiered or expired) by one run at most
    std::size_t concurrency = 8;          // tier changes in flight, 1..64
    bool dry_run = false;                 // count what would change; change nothing
};

struct apply_count {
    std::uint64_t objects = 0, bytes = 0;
};

struct apply_failure {
    std::string provider, key, error;
};

struct apply_report {
    bool dry_run = false;
    std::uint64_t examined = 0;              // live rows looked at
    apply_count to_warm, to_cold, expired;   // done by this run (a dry run: would be)
    std::uint64_t below_min_size = 0;        // old enough to tier, but under min_size: kept
    std::uint64_t skipped_unconfigured = 0;  // on a provider (or bucket) this process does not have
    std::uint64_t skipped_untiered = 0;      // on a provider without tiers (local without cold_root)
    std::uint64_t skipped_changed = 0;       // deleted, replaced or re-tiered while the run went on
    std::uint64_t failed = 0;                // tried again by the next run
    std::vector<apply_failure> failures;     // the first 100
    bool limit_reached = false;              // stopped at the limit: more is left for the next run
    bool complete() const noexcept { return failed == 0; }
    std::uint64_t changed() const noexcept { return to_warm.objects + to_cold.objects + expired.objects; }
};

// Throws std::invalid_argument for options out of range or an unknown provider.
void check_apply_options(const storage::registry& providers, const apply_options& o);

// Runs the rules over the catalog's live objects (in pages, oldest id first) and applies them.
// `progress` is called as objects are done, on the caller's executor. Throws for what stops the
// whole run (PostgreSQL unreachable); an object that fails is in the report.
boost::asio::awaitable<apply_report> apply_lifecycle(pg::pool& db, const storage::registry& providers,
                                                     const rule_set& rules, apply_options options,
                                                     std::function<void(const apply_report&)> progress = {});

// {dry_run, examined, to_warm: {objects, bytes}, to_cold, expired, below_min_size,
//  skipped_unconfigured, skipped_untiered, skipped_changed, failed, complete, limit_reached,
//  failures: [{provider, key, error}]}. Pure.
nlohmann::json to_json(const apply_report& r);

// The options from a `lifecycle` job's payload: {"provider": "s3-main", "limit": 100000,
// "concurrency": 8, "dry_run": false}; std::invalid_argument naming the field when bad.
apply_options parse_apply_payload(const nlohmann::json& payload);

}  // namespace wharf::lifecycle
