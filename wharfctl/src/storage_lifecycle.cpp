// storage lifecycle plan: what the lifecycle rules (wharf/lifecycle/rules.hpp) would do to the
// catalog's live objects now -- per provider, objects and bytes to keep, to move to warm or cold,
// to expire -- before anything acts on them.
#include "commands.hpp"
#include "progress_view.hpp"

#include "wharf/core/json.hpp"
#include "wharf/lifecycle/plan.hpp"
#include "wharf/pg/pool.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace wharfctl {
namespace {

namespace l = wharf::lifecycle;

constexpr std::string_view lifecycle_usage = "wharfctl storage lifecycle plan [--lifecycle-rules FILE|JSON] [--json]";

const wharf::option_spec lifecycle_specs[] = {database_url_option, l::lifecycle_rules_option(), json_option, help_option};

std::string cell(const nlohmann::json& c) {
    return fmt::format("{} ({})", c["objects"].get<std::uint64_t>(), human_bytes(c["bytes"].get<double>()));
}

}  // namespace

boost::asio::awaitable<int> run_storage_lifecycle(invocation inv) {
    const auto cfg = load_storage_config(inv.args, lifecycle_specs);
    if (cfg.enabled("help")) {
        print_help(lifecycle_usage,
                   "Shows what the lifecycle rules would do to the catalog's live objects now: per provider, the\n"
                   "objects and bytes to keep, to move to the warm or the cold tier, and to expire, by each object's\n"
                   "age since it was first stored and its tier; objects below min_size are not tiered. Changes\n"
                   "nothing. --json prints {examined, below_min_size, min_size, providers: [{provider, keep,\n"
                   "to_warm, to_cold, expire}], totals} with {objects, bytes} in each.",
                   lifecycle_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, lifecycle_usage);
    if (cfg.positional()[0] != "plan")
        throw usage_error("unknown lifecycle subcommand '" + cfg.positional()[0] + "'; usage: " + std::string(lifecycle_usage));
    const l::rule_set rules = l::rules_from(cfg);
    auto db = open_database(inv.executor, cfg);
    std::exception_ptr failure;
    l::lifecycle_plan plan;
    try {
        auto fn = [&rules](pqxx::connection& c) { return l::plan_lifecycle(c, rules); };
        plan = co_await db->run(std::move(fn));
    } catch (...) {
        failure = std::current_exception();
    }
    db->shutdown();
    if (failure) std::rethrow_exception(failure);
    const auto doc = l::to_json(plan, rules);
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(doc, 2) << "\n";
        co_return exit_ok;
    }
    std::cout << fmt::format("{:<20} {:>22} {:>22} {:>22} {:>22}\n", "provider", "keep", "to warm", "to cold", "expire");
    for (const auto& p : doc["providers"])
        std::cout << fmt::format("{:<20} {:>22} {:>22} {:>22} {:>22}\n", p["provider"].get<std::string>(), cell(p["keep"]),
                                 cell(p["to_warm"]), cell(p["to_cold"]), cell(p["expire"]));
    const auto& t = doc["totals"];
    std::cout << fmt::format("{:<20} {:>22} {:>22} {:>22} {:>22}\n", "total", cell(t["keep"]), cell(t["to_warm"]),
                             cell(t["to_cold"]), cell(t["expire"]));
    std::cout << fmt::format("{} objects examined; {} old enough to tier but under min_size ({})\n", plan.examined,
                             plan.below_min_size, human_bytes(static_cast<double>(rules.min_tier_size)));
    co_return exit_ok;
}

}  // namespace wharfctl
