// apikeys: the public API's keys (wharf-api) -- create (the key is printed once; only its SHA-256
// is kept), list, revoke.
#include "commands.hpp"

#include "wharf/apikeys/store.hpp"
#include "wharf/core/json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/registry.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace wharfctl {
namespace {

using json = nlohmann::json;
namespace ak = wharf::apikeys;

constexpr std::string_view apikeys_usage =
    "wharfctl apikeys create --tenant T [--scopes jobs:read,jobs:write,storage:read,storage:write] "
    "[--rate 50] [--quota 10GiB] [--name N] [--json] | list [--json] | revoke <prefix>";
constexpr wharf::option_spec create_specs[] = {
    database_url_option,
    {"tenant", "whose jobs and storage the key reaches (the envelopes' api_key)"},
    {"scopes", "comma-separated: jobs:read, jobs:write, storage:read, storage:write", false,
     "jobs:read,jobs:write,storage:read,storage:write"},
    {"rate", "requests per second the key may make (more get 429)", false, "50"},
    {"quota", "also set the tenant's storage quota (bytes, or with a unit: 10GiB)"},
    {"name", "a note to tell keys apart in the list"},
    json_option,
    help_option};
constexpr wharf::option_spec list_specs[] = {database_url_option, json_option, help_option};
constexpr wharf::option_spec revoke_specs[] = {database_url_option, help_option};

}  // namespace

boost::asio::awaitable<int> run_apikeys(invocation inv) {
    if (inv.args.empty() || inv.args[0] == "--help") {
        std::cout << "usage: " << apikeys_usage << "\n";
        co_return inv.args.empty() ? exit_usage : exit_ok;
    }
    const std::string sub = inv.args[0];
    std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
    if (sub == "create") {
        const auto cfg = load_config(rest, create_specs);
        if (cfg.enabled("help")) {
            print_help(apikeys_usage,
                       "Creates an API key for wharf-api and prints it once: only its SHA-256 and its prefix\n"
                       "are stored. Keep it secret; revoke it with `wharfctl apikeys revoke <prefix>`.",
                       create_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 0, apikeys_usage);
        ak::new_key k;
        k.tenant = cfg.get_or("tenant", "");
        if (!ak::valid_tenant(k.tenant)) throw usage_error("--tenant: 1 to 128 of A-Z a-z 0-9 . _ : @ -");
        std::string why;
        auto scopes = ak::parse_scopes(cfg.get_or("scopes", "jobs:read,jobs:write,storage:read,storage:write"), &why);
        if (!scopes) throw usage_error("--scopes: " + why);
        k.scopes = std::move(*scopes);
        const auto rate = cfg.integer("rate", 50);
        if (rate < 1 || rate > 100'000) throw usage_error("--rate must be from 1 to 100000");
        k.rate_per_second = static_cast<std::int32_t>(rate);
        k.name = cfg.get_or("name", "");
        if (k.name.size() > 200) throw usage_error("--name: at most 200 characters");
        std::optional<std::uint64_t> quota;
        if (auto q = cfg.get("quota")) {
            quota = wharf::storage::parse_byte_size(*q);
            if (!quota) throw usage_error("--quota: \"" + *q + "\" is not a size (e.g. 10GiB)");
        }
        auto db = open_database(inv.executor, cfg);
        auto creating = db->run([&k](pqxx::connection& c) { return ak::create(c, k); });
        const auto issued = co_await std::move(creating);
        if (quota) {
            auto setting = db->run([&k, &quota](pqxx::connection& c) { wharf::storage::set_quota(c, k.tenant, quota); });
            co_await std::move(setting);
        }
        db->shutdown();
        if (cfg.enabled("json")) {
            std::cout << wharf::dump_json(json{{"key", issued.key}, {"prefix", issued.prefix}, {"tenant", k.tenant},
                                               {"scopes", k.scopes}},
                                          2)
                      << "\n";
        } else {
            std::cout << issued.key << "\n";
            std::cerr << "API key " << issued.prefix << " for tenant " << k.tenant
                      << " (shown once: only its hash is kept)\n";
        }
        co_return exit_ok;
    }
    if (sub == "list") {
        const auto cfg = load_config(rest, list_specs);
        if (cfg.enabled("help")) {
            print_help(apikeys_usage, "Lists the keys: prefix, tenant, scopes, rate, created, revoked.", list_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 0, apikeys_usage);
        auto db = open_database(inv.executor, cfg);
        auto listing = db->run([](pqxx::connection& c) { return ak::list(c); });
        const auto keys = co_await std::move(listing);
        db->shutdown();
        if (cfg.enabled("json")) {
            json out = json::array();
            for (const auto& k : keys)
                out.push_back({{"prefix", k.prefix}, {"tenant", k.tenant}, {"name", k.name}, {"scopes", k.scopes},
                               {"rate_per_second", k.rate_per_second}, {"created_at", k.created_at},
                               {"revoked_at", k.revoked_at ? json(*k.revoked_at) : json(nullptr)}});
            std::cout << wharf::dump_json(json{{"keys", std::move(out)}}, 2) << "\n";
        } else {
            for (const auto& k : keys) {
                std::string scopes;
                for (const auto& s : k.scopes) scopes += (scopes.empty() ? "" : ",") + s;
                std::cout << k.prefix << "  " << k.tenant << "  " << scopes << "  " << k.rate_per_second << "/s  "
                          << (k.revoked_at ? "revoked " + *k.revoked_at : "active") << "  " << k.name << "\n";
            }
        }
        co_return exit_ok;
    }
    if (sub == "revoke") {
        const auto cfg = load_config(rest, revoke_specs);
        if (cfg.enabled("help")) {
            print_help(apikeys_usage, "Revokes a key by its prefix: it gets 401 from then on.", revoke_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 1, apikeys_usage);
        const std::string prefix = cfg.positional()[0];
        auto db = open_database(inv.executor, cfg);
        auto revoking = db->run([&prefix](pqxx::connection& c) { return ak::revoke(c, prefix); });
        const bool found = co_await std::move(revoking);
        db->shutdown();
        if (!found) throw failure("no API key with prefix " + prefix);
        std::cout << "revoked " << prefix << "\n";
        co_return exit_ok;
    }
    throw usage_error("unknown apikeys subcommand '" + sub + "'; usage: " + std::string(apikeys_usage));
}

}  // namespace wharfctl
