// storage promote: a temp/ object becomes permanent under its permanent key (seed 002's
// move-to-permanent) -- a server-side copy, the catalog row renamed with its class in one
// transaction (usage unchanged), the temp key removed: worker::move_stored, the code a pipeline's
// publish and wharf-api's POST /api/v1/uploads/{id}/permanent use.
#include "commands.hpp"

#include "jobs/storing.hpp"
#include "wharf/core/json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <iostream>

namespace wharfctl {
namespace {

namespace s = wharf::storage;

constexpr std::string_view promote_usage = "wharfctl storage promote <provider> <temp/...key> [--to <key>] [--json]";

const wharf::option_spec promote_specs[] = {
    database_url_option,
    s::storage_providers_option(),
    {"to", "the permanent key (default: the temp key with temp/ changed to videos/)", false, ""},
    json_option,
    help_option};

}  // namespace

boost::asio::awaitable<int> run_storage_promote(invocation inv) {
    const auto cfg = load_storage_config(inv.args, promote_specs);
    if (cfg.enabled("help")) {
        print_help(promote_usage,
                   "Makes a temp/ object permanent: copied on its provider to the permanent key (server-side),\n"
                   "its catalog row renamed and its class changed in one transaction (usage unchanged), then the\n"
                   "temp key removed. Safe to run again after a failure: an object already promoted is reported\n"
                   "as such (exit 0). --json prints {provider, from, to, size, sha256, already}.",
                   promote_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 2, promote_usage);
    const auto& provider_name = cfg.positional()[0];
    const auto& from_key = cfg.positional()[1];
    if (!from_key.starts_with("temp/")) throw usage_error("the key must be a temp/ key, got '" + from_key + "'");
    std::string to_key = cfg.get_or("to", "");
    if (to_key.empty()) to_key = "videos/" + from_key.substr(5);
    if (to_key.starts_with("temp/")) throw usage_error("--to must be a permanent key, not under temp/");
    if (auto why = wharf::worker::key_layout_violation(to_key)) throw usage_error("--to " + to_key + ": " + *why);

    auto db = open_database(inv.executor, cfg);
    wharf::worker::storage_services services{
        std::make_unique<s::registry>(s::provider_configs_from(cfg), inv.executor), *db, s::smtp_settings{}};
    auto* provider = services.providers().find(provider_name);
    if (!provider) {
        db->shutdown();
        throw usage_error("no configured storage provider named '" + provider_name + "'");
    }
    auto finding = db->run([p = provider_name, b = provider->bucket(), from_key, to_key](pqxx::connection& c) {
        return std::pair{s::find_object(c, p, b, from_key), s::find_object(c, p, b, to_key)};
    });
    const auto [from, already] = co_await std::move(finding);
    nlohmann::json out{{"provider", provider_name}, {"from", from_key}, {"to", to_key}};
    int status = exit_ok;
    if (from) {
        wharf::worker::job_context ctx;  // the row keeps the job that stored it
        ctx.id = from->record.job_id.value_or("wharfctl");
        ctx.queue = from->record.job_queue.value_or("wharfctl");
        ctx.api_key = from->record.api_key;
        ctx.executor = inv.executor;
        ctx.report_progress = [](nlohmann::json) {};
        auto moving = wharf::worker::move_stored(services, ctx, *from, to_key, std::chrono::seconds(3600));
        const auto moved = co_await std::move(moving);
        out.update({{"size", moved.record.size}, {"sha256", moved.record.sha256}, {"already", false}});
    } else if (already) {
        out.update({{"size", already->record.size}, {"sha256", already->record.sha256}, {"already", true}});
    } else {
        status = exit_failed;
    }
    db->shutdown();
    if (status != exit_ok) {
        std::cerr << "wharfctl: no object " << provider_name << ":" << from_key << " in the catalog (nor at " << to_key
                  << ")\n";
        co_return status;
    }
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(out, 2) << "\n";
    } else {
        std::cout << fmt::format("{} {}:{} -> {} ({} bytes)\n", out["already"].get<bool>() ? "already promoted:" : "promoted",
                                 provider_name, from_key, to_key, out["size"].get<std::uint64_t>());
    }
    co_return exit_ok;
}

}  // namespace wharfctl
