// storage stats, storage analytics and presign: per-provider usage from the catalog, usage by
// provider/tier/class/api_key and by day, and presigned URLs from the configured providers
// (storage_providers). `storage orphans` is in storage_orphans.cpp.
#include "commands.hpp"
#include "wharf/core/json.hpp"

#include "wharf/pg/pool.hpp"
#include "wharf/storage/analytics.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/stats_report.hpp"
#include "wharf/storage/presign_cache.hpp"
#include "wharf/storage/quota.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>

namespace wharfctl {
namespace {

namespace s = wharf::storage;

constexpr std::string_view stats_usage = "wharfctl storage stats [--json]";
constexpr std::string_view presign_usage =
    "wharfctl presign <provider> <key> [--expires 3600] [--method get|put] [--json]\n"
    "       wharfctl presign --jobs <id>[,<id>...] [--expires 3600] [--json]";

const wharf::option_spec stats_specs[] = {database_url_option, s::storage_providers_option(), json_option, help_option};
constexpr std::string_view analytics_usage = "wharfctl storage analytics [--days 30] [--json]";
const wharf::option_spec analytics_specs[] = {
    database_url_option,
    {"days", "how many days (UTC) the daily rollup covers, today included: 1 to 366", false, "30"},
    json_option,
    help_option};
const wharf::option_spec presign_specs[] = {
    s::storage_providers_option(),
    database_url_option,
    {"jobs", "bulk: comma-separated job ids; a manifest of every live artifact of them (and of their pipeline steps)"},
    {"expires", "lifetime of the URL in seconds, 1 to 604800 (7 days)", false, "3600"},
    {"method", "get or put", false, "get"},
    json_option,
    help_option};

// --expires, checked (1 s .. 7 days). Throws usage_error.
std::chrono::seconds presign_expiry(const wharf::config& cfg) {
    const auto expires_text = cfg.get_or("expires", "3600");
    std::int64_t seconds = 0;
    try {
        std::size_t used = 0;
        seconds = std::stoll(expires_text, &used);
        if (used != expires_text.size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
        throw usage_error("--expires must be a number of seconds, got '" + expires_text + "'");
    }
    const auto expires = s::checked_presign_expiry(seconds);
    if (!expires) throw usage_error("--expires: " + expires.error().message);
    return *expires;
}

// The seed's "bulk download": every live artifact of the jobs (a pipeline's: of its steps too),
// each with a presigned GET URL, as one JSON manifest.
boost::asio::awaitable<int> run_presign_jobs(invocation inv, const wharf::config& cfg) {
    expect_positionals(cfg, 0, presign_usage);
    const auto expires = presign_expiry(cfg);
    std::vector<std::string> ids;
    const std::string list = cfg.get_or("jobs", "");
    for (std::size_t at = 0; at <= list.size();) {
        auto comma = list.find(',', at);
        if (comma == std::string::npos) comma = list.size();
        std::string id = list.substr(at, comma - at);
        if (!id.empty()) ids.push_back(std::move(id));
        at = comma + 1;
    }
    if (ids.empty() || ids.size() > 10'000) throw usage_error("--jobs takes 1 to 10,000 comma-separated job ids");
    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    auto db = open_database(inv.executor, cfg);
    struct artifact {
        std::string job, provider, key, sha256;
        std::uint64_t size = 0;
    };
    auto read = [ids](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::string array = "{";
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (i) array += ',';
            array += '"';
            for (char ch : ids[i]) {
                if (ch == '"' || ch == '\\') array += '\\';
                array += ch;
            }
            array += '"';
        }
        array += '}';
        std::vector<artifact> out;
        std::vector<std::string> found;
        for (const auto& r : tx.exec_params(
                 "WITH wanted AS (SELECT unnest($1::text[]) AS id), "
                 "owners AS (SELECT id AS job, id AS owner FROM wanted UNION "
                 "           SELECT j.id, j.parent_id FROM jobs j JOIN wanted w ON j.parent_id = w.id) "
                 "SELECT o.owner, b.provider, b.key, b.size, COALESCE(b.sha256, '') FROM owners o "
                 "JOIN objects b ON b.job_id = o.job AND b.deleted_at IS NULL ORDER BY o.owner, b.key LIMIT 1000000",
                 array))
            out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[4].as<std::string>(),
                           r[3].as<std::uint64_t>()});
        for (const auto& r : tx.exec_params("SELECT DISTINCT w.id FROM unnest($1::text[]) AS w(id) JOIN jobs j ON j.id = w.id",
                                            array))
            found.push_back(r[0].as<std::string>());
        return std::pair{out, found};
    };
    std::exception_ptr failed;
    std::vector<artifact> artifacts;
    std::vector<std::string> known;
    try {
        auto [a, k] = co_await db->run(std::move(read));
        artifacts = std::move(a);
        known = std::move(k);
    } catch (...) {
        failed = std::current_exception();
    }
    db->shutdown();
    if (failed) std::rethrow_exception(failed);
    nlohmann::json jobs = nlohmann::json::object();
    for (const auto& id : ids) jobs[id] = nlohmann::json::array();
    std::vector<std::string> unconfigured;
    for (const auto& a : artifacts) {
        const auto* p = providers.find(a.provider);
        if (!p) {
            unconfigured.push_back(a.provider + ":" + a.key);
            continue;
        }
        std::string url;
        try {
            url = p->presign(s::http_method::get, a.key, expires);
        } catch (const s::error& e) {
            url.clear();
            unconfigured.push_back(a.provider + ":" + a.key + " (" + e.what() + ")");
            continue;
        }
        jobs[a.job].push_back({{"provider", a.provider}, {"key", a.key}, {"size", a.size}, {"sha256", a.sha256}, {"url", url}});
    }
    std::vector<std::string> missing;
    for (const auto& id : ids)
        if (std::find(known.begin(), known.end(), id) == known.end() && jobs[id].empty()) missing.push_back(id);
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json({{"expires_in", expires.count()},
                                       {"jobs", jobs},
                                       {"unknown_jobs", missing},
                                       {"not_presigned", unconfigured}},
                                      2)
                  << "\n";
    } else {
        for (const auto& [id, list_of] : jobs.items())
            for (const auto& a : list_of) std::cout << id << "\t" << a["key"].get<std::string>() << "\t" << a["url"].get<std::string>() << "\n";
        for (const auto& id : missing) std::cerr << "no job " << id << "\n";
        for (const auto& u : unconfigured) std::cerr << "not presigned: " << u << "\n";
    }
    co_return missing.empty() && unconfigured.empty() ? exit_ok : exit_failed;
}

boost::asio::awaitable<int> run_storage_stats(invocation inv, const wharf::config& cfg) {
    auto db = open_database(inv.executor, cfg);
    const auto configured = s::provider_configs_from(cfg);
    // Built before it is awaited: GCC 12 mishandles temporaries in a co_await full-expression.
    auto load = db->run([](pqxx::connection& c) { return s::load_stats(c); });
    auto rows = co_await std::move(load);
    db->shutdown();
    const auto doc = s::stats_report(std::move(rows), configured);
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(doc, 2) << "\n";
        co_return exit_ok;
    }
    std::cout << fmt::format("{:<20} {:>14} {:>10} {:>14} {:>7}  {:<5} {}\n", "PROVIDER", "USED", "FILES", "AVAILABLE",
                             "USED%", "FULL", "LAST UPDATED");
    for (const auto& p : doc["providers"]) {
        std::cout << fmt::format("{:<20} {:>14} {:>10} {:>14} {:>6.2f}%  {:<5} {}\n", p["provider"].get<std::string>(),
                                 s::human_bytes(p["total_size_bytes"].get<std::uint64_t>()),
                                 p["file_count"].get<std::uint64_t>(),
                                 s::human_bytes(p["available_bytes"].get<std::uint64_t>()),
                                 p["used_percentage"].get<double>(), p["is_full"].get<bool>() ? "yes" : "no",
                                 p["last_updated"].is_null() ? "-" : p["last_updated"].get<std::string>());
    }
    std::cout << fmt::format("total: {} in {} files\n", s::human_bytes(doc["total_size_bytes"].get<std::uint64_t>()),
                             doc["total_file_count"].get<std::uint64_t>());
    co_return exit_ok;
}

boost::asio::awaitable<int> run_storage_analytics(invocation inv, const wharf::config& cfg) {
    const auto days_text = cfg.get_or("days", "30");
    int days = 0;
    try {
        std::size_t used = 0;
        days = std::stoi(days_text, &used);
        if (used != days_text.size()) days = 0;
    } catch (const std::exception&) {
        days = 0;
    }
    if (days < 1 || days > 366) throw usage_error("--days must be a number from 1 to 366, got '" + days_text + "'");
    auto db = open_database(inv.executor, cfg);
    auto load = db->run([days](pqxx::connection& c) { return s::load_analytics(c, days); });
    const auto a = co_await std::move(load);
    db->shutdown();
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(s::analytics_report(a), 2) << "\n";
        co_return exit_ok;
    }
    std::cout << fmt::format("{:<20} {:<6} {:<10} {:>10} {:>14}\n", "PROVIDER", "TIER", "CLASS", "OBJECTS", "BYTES");
    for (const auto& g : a.groups)
        std::cout << fmt::format("{:<20} {:<6} {:<10} {:>10} {:>14}\n", g.provider, g.tier, g.prefix_class, g.objects,
                                 s::human_bytes(g.bytes));
    std::cout << fmt::format("\n{:<32} {:>10} {:>14} {:>14}\n", "API KEY", "OBJECTS", "BYTES", "QUOTA");
    for (const auto& t : a.tenants)
        std::cout << fmt::format("{:<32} {:>10} {:>14} {:>14}\n", t.api_key.value_or("(none)"), t.objects,
                                 s::human_bytes(t.bytes), t.quota_bytes ? s::human_bytes(*t.quota_bytes) : "-");
    std::cout << fmt::format("\n{:<10} {:>10} {:>14} {:>8} {:>14} {:>8} {:>14}\n", "DAY (UTC)", "OBJECTS", "BYTES",
                             "+OBJ", "+BYTES", "-OBJ", "-BYTES");
    for (const auto& d : a.days)
        std::cout << fmt::format("{:<10} {:>10} {:>14} {:>8} {:>14} {:>8} {:>14}\n", d.day, d.objects,
                                 s::human_bytes(d.bytes), d.added_objects, s::human_bytes(d.added_bytes),
                                 d.removed_objects, s::human_bytes(d.removed_bytes));
    co_return exit_ok;
}

}  // namespace

wharf::config load_storage_config(const std::vector<std::string>& args, std::span<const wharf::option_spec> specs) {
    static constexpr const char* from_environment[] = {"WHARF_REDIS_URL", "WHARF_DATABASE_URL", "WHARF_CONFIG",
                                                       "WHARF_STORAGE_PROVIDERS", "WHARF_LIFECYCLE_RULES"};
    std::map<std::string, std::string> env;
    for (const char* name : from_environment)
        if (const char* v = std::getenv(name)) env.emplace(name, v);
    return wharf::config::load(args, env, specs);
}

boost::asio::awaitable<int> run_storage(invocation inv) {
    if (inv.args.empty() || inv.args[0] == "--help" || inv.args[0] == "-h") {
        const bool asked = !inv.args.empty();
        (asked ? std::cout : std::cerr) << "usage: wharfctl storage stats|analytics|get|promote|migrate|lifecycle|compress|orphans [flags] (--help on each)\n\nsubcommands:\n"
                                        << "  stats     per-provider and total usage from the catalog\n"
                                        << "  analytics usage by provider, tier, class and api_key, and by day\n"
                                        << "  get       an object's content into a file (decoded; SHA-256 checked)\n"
                                        << "  promote   make a temp/ object permanent (move-to-permanent)\n"
                                        << "  migrate   move objects from one provider to another (resumable)\n"
                                        << "  lifecycle the lifecycle rules: plan, apply (tier and expire now), backstop (S3)\n"
                                        << "  compress  store old jobs' compressible artifacts gzip-encoded\n"
                                        << "  orphans   multipart uploads left open by crashed jobs (--abort to abort them)\n";
        co_return asked ? exit_ok : exit_usage;
    }
    const std::string sub = inv.args[0];
    std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
    if (sub == "promote") {
        auto promote = run_storage_promote(invocation{std::move(rest), inv.executor});
        co_return co_await std::move(promote);
    }
    if (sub == "migrate") {
        auto migrate = run_storage_migrate(invocation{std::move(rest), inv.executor});
        co_return co_await std::move(migrate);
    }
    if (sub == "lifecycle") {
        auto lifecycle = run_storage_lifecycle(invocation{std::move(rest), inv.executor});
        co_return co_await std::move(lifecycle);
    }
    if (sub == "compress") {
        auto compress = run_storage_compress(invocation{std::move(rest), inv.executor});
        co_return co_await std::move(compress);
    }
    if (sub == "get") {
        auto get = run_storage_get(invocation{std::move(rest), inv.executor});
        co_return co_await std::move(get);
    }
    if (sub == "orphans") {
        auto orphans = run_storage_orphans(invocation{std::move(rest), inv.executor});
        co_return co_await std::move(orphans);
    }
    if (sub == "analytics") {
        const auto cfg = load_storage_config(rest, analytics_specs);
        if (cfg.enabled("help")) {
            print_help(analytics_usage,
                       "Prints what is stored now by provider, tier and prefix class, the 100 largest api_keys\n"
                       "with their quotas, and for each of the last --days days (UTC) the live objects and bytes\n"
                       "at its end and what was added and removed that day -- from the catalog, whose rows keep\n"
                       "their history. --json prints {totals, by_provider, by_api_key, daily}.",
                       analytics_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 0, analytics_usage);
        auto analytics = run_storage_analytics(std::move(inv), cfg);
        co_return co_await std::move(analytics);
    }
    if (sub != "stats")
        throw usage_error("unknown storage subcommand '" + sub + "' (stats, analytics, get, promote, migrate, lifecycle, compress, orphans); usage: " +
                          std::string(stats_usage));
    const auto cfg = load_storage_config(rest, stats_specs);
    if (cfg.enabled("help")) {
        print_help(stats_usage,
                   "Prints each provider's usage (bytes, files, available, percentage, full flag) and the totals,\n"
                   "from the storage_stats table. --json prints {providers:[...],total_size_bytes,total_size_gb,\n"
                   "total_file_count}; *_gb values are GiB (2^30 bytes) rounded to two decimals.",
                   stats_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, stats_usage);
    auto stats = run_storage_stats(std::move(inv), cfg);
    co_return co_await std::move(stats);
}

boost::asio::awaitable<int> run_presign(invocation inv) {
    const auto cfg = load_storage_config(inv.args, presign_specs);
    if (cfg.enabled("help")) {
        print_help(presign_usage,
                   "Prints a presigned URL for an object of a configured provider (storage_providers). The\n"
                   "default lifetime is one hour; more than 7 days is refused.",
                   presign_specs);
        co_return exit_ok;
    }
    if (cfg.get("jobs")) {
        auto bulk = run_presign_jobs(std::move(inv), cfg);
        co_return co_await std::move(bulk);
    }
    expect_positionals(cfg, 2, presign_usage);
    const auto& provider_name = cfg.positional()[0];
    const auto& key = cfg.positional()[1];
    if (auto why = s::invalid_key_reason(key)) throw usage_error("bad key: " + *why);

    const auto expires = presign_expiry(cfg);
    const auto method_text = cfg.get_or("method", "get");
    if (method_text != "get" && method_text != "put") throw usage_error("--method must be get or put");
    const auto method = method_text == "get" ? s::http_method::get : s::http_method::put;

    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    const auto* p = providers.find(provider_name);
    if (!p) {
        std::string names;
        for (const auto& n : providers.names()) names += (names.empty() ? "" : ", ") + n;
        throw failure("unknown storage provider '" + provider_name + "' (configured: " + names + ")");
    }
    std::string url;
    try {
        url = p->presign(method, key, expires);
    } catch (const s::error& e) {
        throw failure(e.what());
    }
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(nlohmann::json{{"provider", provider_name}, {"key", key}, {"method", method_text},
                                    {"expires_in", expires.count()}, {"url", url}}
                         , 2)
                  << "\n";
    } else {
        std::cout << url << "\n";
    }
    co_return exit_ok;
}

}  // namespace wharfctl
