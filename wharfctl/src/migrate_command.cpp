// migrate: applies migrations/NNNN_name.sql (wharf::pg::migrate) on a thread of its own, since
// libpqxx blocks.
#include "commands.hpp"
#include "wharf/core/json.hpp"

#include "wharf/core/redact.hpp"
#include "wharf/pg/migrate.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

namespace wharfctl {
namespace {

constexpr std::string_view migrate_usage = "wharfctl migrate [--migrations-dir DIR] [--json]";
constexpr wharf::option_spec migrate_specs[] = {database_url_option, wharf::pg::migrations_dir_option, json_option,
                                                help_option};

}  // namespace

boost::asio::awaitable<int> run_migrate(invocation inv) {
    const auto cfg = load_config(inv.args, migrate_specs);
    if (cfg.enabled("help")) {
        print_help(migrate_usage,
                   "Applies the pending migrations in version order, each in its own transaction. Safe when\n"
                   "many processes run it at once: they wait for each other and find the work done.",
                   migrate_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, migrate_usage);
    const std::string url = database_url(cfg);
    const auto dir = wharf::pg::migrations_dir(cfg);

    boost::asio::thread_pool blocking{1};
    const auto report = co_await boost::asio::co_spawn(
        blocking, [&]() -> boost::asio::awaitable<wharf::pg::migrate_report> { co_return wharf::pg::migrate(url, dir); },
        boost::asio::use_awaitable);
    blocking.join();

    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(nlohmann::json{{"applied", report.applied}, {"already_applied", report.already_applied}}, 2)
                  << "\n";
    } else {
        for (const auto& name : report.applied) std::cout << "applied " << name << "\n";
        std::cout << (report.applied.empty() ? "up to date: " : "now at: ")
                  << report.applied.size() + report.already_applied.size() << " migrations applied\n";
    }
    co_return exit_ok;
}

}  // namespace wharfctl
