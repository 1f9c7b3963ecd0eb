// storage lifecycle plan | apply | backstop: the lifecycle rules (wharf/lifecycle/rules.hpp) --
// what they would do to the catalog's live objects now (plan), doing it (apply: the `lifecycle`
// job type's code, common/lifecycle/apply.hpp, run here with a progress line on a terminal), and
// writing them as an S3 bucket's own lifecycle configuration (backstop).
#include "commands.hpp"
#include "progress_view.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/lifecycle/apply.hpp"
#include "wharf/lifecycle/backstop.hpp"
#include "wharf/lifecycle/plan.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/provider_metrics.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/storage/s3/provider.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <iostream>

#include <unistd.h>

namespace wharfctl {
namespace {

namespace l = wharf::lifecycle;
namespace s = wharf::storage;

constexpr std::string_view lifecycle_usage = "wharfctl storage lifecycle plan|apply|backstop [flags] (--help on each)";
constexpr std::string_view plan_usage = "wharfctl storage lifecycle plan [--lifecycle-rules FILE|JSON] [--json]";
constexpr std::string_view apply_usage =
    "wharfctl storage lifecycle apply [--dry-run] [--provider P] [--limit N] [--concurrency 8] "
    "[--lifecycle-rules FILE|JSON] [--json]";
constexpr std::string_view backstop_usage =
    "wharfctl storage lifecycle backstop --provider P [--abort-incomplete-after 7d] [--dry-run] "
    "[--lifecycle-rules FILE|JSON] [--json]";

const wharf::option_spec plan_specs[] = {database_url_option, l::lifecycle_rules_option(), json_option, help_option};

const wharf::option_spec apply_specs[] = {
    database_url_option,
    s::storage_providers_option(),
    l::lifecycle_rules_option(),
    {"provider", "only this provider's objects", false, ""},
    {"limit", "objects changed (tiered or expired) by this run at most", false, "100000"},
    {"concurrency", "tier changes in flight (1..64)", false, "8"},
    {"dry_run", "count what would change, change nothing", true},
    json_option,
    help_option};

const wharf::option_spec backstop_specs[] = {
    s::storage_providers_option(),
    l::lifecycle_rules_option(),
    {"provider", "the S3 provider whose bucket gets the configuration"},
    {"abort_incomplete_after", "abort multipart uploads left open this long (whole days)", false, "7d"},
    {"dry_run", "print the configuration's XML, send nothing", true},
    json_option,
    help_option};

std::string cell(const nlohmann::json& c) {
    return fmt::format("{} ({})", c["objects"].get<std::uint64_t>(), human_bytes(c["bytes"].get<double>()));
}

std::uint64_t positive(const wharf::config& cfg, std::string_view key, std::string_view fallback, std::uint64_t max) {
    const std::string text = cfg.get_or(std::string(key), std::string(fallback));
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || text[0] == '-' || n < 1 || n > max)
        throw usage_error(fmt::format("--{} must be 1..{}", key, max));
    return n;
}

boost::asio::awaitable<int> run_plan(invocation inv) {
    const auto cfg = load_storage_config(inv.args, plan_specs);
    if (cfg.enabled("help")) {
        print_help(plan_usage,
                   "Shows what the lifecycle rules would do to the catalog's live objects now: per provider, the\n"
                   "objects and bytes to keep, to move to the warm or the cold tier, and to expire, by each object's\n"
                   "age since it was first stored and its tier; objects below min_size are not tiered. Changes\n"
                   "nothing. --json prints {examined, below_min_size, min_size, providers: [{provider, keep,\n"
                   "to_warm, to_cold, expire}], totals} with {objects, bytes} in each.",
                   plan_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, plan_usage);
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
    std::cout << fmt::format("{:<20} {:>22} {:>22} {:>22} {:>22}\n", "provider", "keep", "to warm", "to cold",
                             "expire");
    for (const auto& p : doc["providers"])
        std::cout << fmt::format("{:<20} {:>22} {:>22} {:>22} {:>22}\n", p["provider"].get<std::string>(),
                                 cell(p["keep"]), cell(p["to_warm"]), cell(p["to_cold"]), cell(p["expire"]));
    const auto& t = doc["totals"];
    std::cout << fmt::format("{:<20} {:>22} {:>22} {:>22} {:>22}\n", "total", cell(t["keep"]), cell(t["to_warm"]),
                             cell(t["to_cold"]), cell(t["expire"]));
    std::cout << fmt::format("{} objects examined; {} old enough to tier but under min_size ({})\n", plan.examined,
                             plan.below_min_size, human_bytes(static_cast<double>(rules.min_tier_size)));
    co_return exit_ok;
}

std::string report_text(const l::apply_report& r) {
    const auto count = [](const l::apply_count& c) {
        return fmt::format("{} ({})", c.objects, human_bytes(static_cast<double>(c.bytes)));
    };
    std::string out = fmt::format(
        "{}{} objects examined: {} to warm, {} to cold, {} expired; {} under min_size kept; skipped: {} on providers "
        "not configured here, {} on providers without tiers, {} changed meanwhile; {} failed{}\n",
        r.dry_run ? "dry run (nothing changed): " : "", r.examined, count(r.to_warm), count(r.to_cold),
        count(r.expired), r.below_min_size, r.skipped_unconfigured, r.skipped_untiered, r.skipped_changed, r.failed,
        r.limit_reached ? "; stopped at --limit, run again for the rest" : "");
    for (const auto& f : r.failures) out += fmt::format("  failed {}:{}: {}\n", f.provider, f.key, f.error);
    if (r.failed > r.failures.size()) out += fmt::format("  ... and {} more\n", r.failed - r.failures.size());
    return out;
}

boost::asio::awaitable<int> run_apply(invocation inv) {
    const auto cfg = load_storage_config(inv.args, apply_specs);
    if (cfg.enabled("help")) {
        print_help(apply_usage,
                   "Applies the lifecycle rules to the catalog's live objects now -- the `lifecycle` job type's code.\n"
                   "An object due for a colder tier changes class at its provider first (S3: a copy in place with\n"
                   "the storage class, metadata kept; Azure: Set Blob Tier; local: moved to the provider's\n"
                   "cold_root), then its catalog row's tier (its age, created_at, stays). An expired object is\n"
                   "deleted at its provider, then its row with the usage. A run killed anywhere is finished by\n"
                   "running it again; a second run right after a complete one changes nothing. Objects on a\n"
                   "provider without tiers (local without cold_root) are only expired. Exit 0 when nothing\n"
                   "failed, 1 otherwise (failed objects listed; the next run tries them again).\n"
                   "--json prints {dry_run, examined, to_warm, to_cold, expired ({objects, bytes} each),\n"
                   "below_min_size, skipped_unconfigured, skipped_untiered, skipped_changed, failed, complete,\n"
                   "limit_reached, failures: [{provider, key, error}]}.",
                   apply_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, apply_usage);
    const l::rule_set rules = l::rules_from(cfg);
    l::apply_options options;
    if (auto p = cfg.get_or("provider", ""); !p.empty()) options.provider = p;
    options.limit = positive(cfg, "limit", "100000", std::uint64_t{1} << 40);
    options.concurrency = positive(cfg, "concurrency", "8", 64);
    options.dry_run = cfg.enabled("dry_run");
    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    try {
        l::check_apply_options(providers, options);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
    auto db = open_database(inv.executor, cfg);

    const bool live = ::isatty(STDERR_FILENO) != 0 && !cfg.enabled("json");
    const auto started = std::chrono::steady_clock::now();
    auto last_draw = started - std::chrono::seconds(1);
    std::uint64_t total = 0;
    auto draw = [&](const l::apply_report& r, bool final) {
        const auto now = std::chrono::steady_clock::now();
        if (!live || (!final && now - last_draw < std::chrono::milliseconds(200))) return;
        last_draw = now;
        const double fraction =
            total ? std::min(1.0, static_cast<double>(r.examined) / static_cast<double>(total)) : 1.0;
        const double seconds = std::chrono::duration<double>(now - started).count();
        std::cerr << "\r" << bar(fraction, 24)
                  << fmt::format(" {}/{} examined  {} to warm  {} to cold  {} expired  {:.0f}/s  {} failed", r.examined,
                                 total, r.to_warm.objects, r.to_cold.objects, r.expired.objects,
                                 seconds > 0 ? static_cast<double>(r.changed()) / seconds : 0.0, r.failed)
                  << "\x1b[K" << (final ? "\n" : "") << std::flush;
    };
    std::exception_ptr failure;
    l::apply_report report;
    try {
        if (live) {
            auto count = [only = options.provider](pqxx::connection& c) {
                pqxx::read_transaction tx(c, "lifecycle_count");
                const char* p = only ? only->c_str() : nullptr;
                return tx
                    .exec_params1(
                        "SELECT count(*) FROM objects WHERE deleted_at IS NULL AND ($1::text IS NULL OR provider = $1)",
                        p)[0]
                    .as<std::uint64_t>();
            };
            total = co_await db->run(std::move(count));
        }
        auto progress = [&draw](const l::apply_report& r) { draw(r, false); };
        auto applying = l::apply_lifecycle(*db, providers, rules, options, progress);
        report = co_await std::move(applying);
        draw(report, true);
    } catch (...) {
        failure = std::current_exception();
    }
    db->shutdown();
    if (failure) std::rethrow_exception(failure);
    if (cfg.enabled("json"))
        std::cout << wharf::dump_json(l::to_json(report), 2) << "\n";
    else
        std::cout << report_text(report);
    co_return report.complete() ? exit_ok : exit_failed;
}

boost::asio::awaitable<int> run_backstop(invocation inv) {
    const auto cfg = load_storage_config(inv.args, backstop_specs);
    if (cfg.enabled("help")) {
        print_help(backstop_usage,
                   "Writes the lifecycle rules as the S3 bucket's own lifecycle configuration\n"
                   "(PutBucketLifecycleConfiguration, with its Content-MD5): per rule, Transitions to the tiers'\n"
                   "storage classes for objects above min_size and an Expiration, ages rounded up to whole days;\n"
                   "plus AbortIncompleteMultipartUpload after --abort-incomplete-after. It replaces the bucket's\n"
                   "configuration. Rules S3 cannot express (one api_key's; a prefix another rule narrows) are left\n"
                   "out and listed. A net for when no wharf run applies the rules: the next run finds what S3 did\n"
                   "and brings the catalog along. AWS refuses transitions to STANDARD_IA before 30 days.\n"
                   "--dry-run prints the XML and sends nothing. --json prints {provider, bucket, s3_rules, left_out:\n"
                   "[{prefix, api_key, reason}], xml, sent}.",
                   backstop_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, backstop_usage);
    const std::string name = cfg.get_or("provider", "");
    if (name.empty()) throw usage_error("--provider is required; usage: " + std::string(backstop_usage));
    const auto abort_after = wharf::parse_duration(cfg.get_or("abort_incomplete_after", "7d"));
    if (!abort_after || *abort_after < std::chrono::hours(24) || *abort_after > std::chrono::hours(24 * 3650))
        throw usage_error("--abort-incomplete-after must be whole days such as 7d (1d .. 3650d)");
    const l::rule_set rules = l::rules_from(cfg);
    const auto configs = s::provider_configs_from(cfg);
    const s::provider_config* pc = nullptr;
    for (const auto& c : configs)
        if (c.name == name) pc = &c;
    if (!pc) throw usage_error(fmt::format("unknown storage provider '{}'", name));
    if (pc->kind != "s3")
        throw usage_error(
            fmt::format("provider '{}' is {}: backstop writes S3 lifecycle configurations only (Azure's "
                        "lifecycle management policy is set on the account, by its management API)",
                        name, pc->kind));
    const s::registry providers(configs, inv.executor);
    s::provider* provider = &s::unwrapped(providers.at(name));  // the S3 call below needs the backend itself
    const auto profile =
        s::s3::parse_profile(pc->settings.value("profile", "generic")).value_or(s::s3::profile::generic);
    l::s3_backstop backstop;
    try {
        backstop = l::s3_lifecycle_configuration(
            rules, profile, l::whole_days(std::chrono::duration_cast<std::chrono::seconds>(*abort_after)));
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
    const bool dry = cfg.enabled("dry_run");
    if (!dry) {
        auto putting = s::s3::put_bucket_lifecycle(*provider, backstop.xml);
        co_await std::move(putting);
    }
    if (cfg.enabled("json")) {
        nlohmann::json left = nlohmann::json::array();
        for (const auto& r : backstop.left_out)
            left.push_back({{"prefix", r.prefix},
                            {"api_key", r.api_key ? nlohmann::json(*r.api_key) : nlohmann::json()},
                            {"reason", r.reason}});
        std::cout << wharf::dump_json({{"provider", name},
                                       {"bucket", provider->bucket()},
                                       {"s3_rules", backstop.s3_rules},
                                       {"left_out", std::move(left)},
                                       {"xml", backstop.xml},
                                       {"sent", !dry}},
                                      2)
                  << "\n";
        co_return exit_ok;
    }
    if (dry) std::cout << backstop.xml;
    for (const auto& r : backstop.left_out)
        std::cerr << fmt::format("left out: the rule for \"{}\"{}: {}\n", r.prefix,
                                 r.api_key ? " (api_key " + *r.api_key + ")" : std::string(), r.reason);
    if (!dry)
        std::cout << fmt::format("bucket {} of {}: lifecycle configuration of {} rules written\n", provider->bucket(),
                                 name, backstop.s3_rules);
    co_return exit_ok;
}

}  // namespace

boost::asio::awaitable<int> run_storage_lifecycle(invocation inv) {
    const std::string sub = inv.args.empty() ? std::string() : inv.args.front();
    if (sub == "plan" || sub == "apply" || sub == "backstop") {
        inv.args.erase(inv.args.begin());
        if (sub == "plan") {
            auto planning = run_plan(std::move(inv));
            co_return co_await std::move(planning);
        }
        if (sub == "apply") {
            auto applying = run_apply(std::move(inv));
            co_return co_await std::move(applying);
        }
        auto writing = run_backstop(std::move(inv));
        co_return co_await std::move(writing);
    }
    if (sub == "--help" || sub == "-h") {
        std::cout << "usage: " << lifecycle_usage
                  << "\n\nsubcommands:\n"
                     "  plan      what the lifecycle rules would tier or expire now (changes nothing)\n"
                     "  apply     tier and expire now, at the providers and in the catalog\n"
                     "  backstop  write the rules as an S3 bucket's own lifecycle configuration\n";
        co_return exit_ok;
    }
    throw usage_error("unknown lifecycle subcommand '" + sub +
                      "' (plan, apply, backstop); usage: " + std::string(lifecycle_usage));
}

}  // namespace wharfctl
