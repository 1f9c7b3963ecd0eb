// storage migrate: objects moved from one provider to another with a manifest in PostgreSQL, so a
// run killed anywhere is finished by running it again -- the `migrate-objects` job type's code
// (worker/jobs/migrate_objects.hpp), run here in-process with a progress line on a terminal.
#include "commands.hpp"
#include "progress_view.hpp"

#include "jobs/migrate_objects.hpp"
#include "wharf/core/json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <unistd.h>

namespace wharfctl {
namespace {

namespace s = wharf::storage;
namespace w = wharf::worker;

constexpr std::string_view migrate_usage =
    "wharfctl storage migrate --from <provider> --to <provider> [--prefix P] [--api-key K] [--concurrency 8] "
    "[--dry-run] [--json]";

const wharf::option_spec migrate_specs[] = {
    database_url_option,
    s::storage_providers_option(),
    {"from", "the provider to move objects from"},
    {"to", "the provider to move them to"},
    {"prefix", "only keys starting with this", false, ""},
    {"api_key", "only objects charged to this api_key", false, ""},
    {"concurrency", "objects in flight (1..64)", false, "8"},
    {"scratch_dir", "where each object passes through on its way", false, "./.data/tmp"},
    {"dry_run", "show what would move (objects, bytes, room at the destination), move nothing", true},
    json_option,
    help_option};

std::string plan_text(const w::migration_request& r, const w::migration_plan& p) {
    std::string out = fmt::format("would move {} objects ({}) from {} to {}; {} free there{}", p.objects,
                                  human_bytes(static_cast<double>(p.bytes)), r.from, r.to,
                                  human_bytes(static_cast<double>(p.destination_free)),
                                  p.bytes > p.destination_free ? " -- NOT ENOUGH ROOM" : "");
    if (p.resumes) out += fmt::format("\nresumes migration {} ({} objects done already)", *p.resumes, p.already_done);
    return out;
}

}  // namespace

boost::asio::awaitable<int> run_storage_migrate(invocation inv) {
    const auto cfg = load_storage_config(inv.args, migrate_specs);
    if (cfg.enabled("help")) {
        print_help(migrate_usage,
                   "Moves every live object of --from (under --prefix, of --api-key) to --to: copied through the\n"
                   "scratch directory, its SHA-256 checked against the catalog's, verified at the destination, then\n"
                   "its catalog row and both providers' usage switched in one transaction (the row keeps its age,\n"
                   "tenant and tier), then the source deleted. A manifest in PostgreSQL (object_migrations) makes\n"
                   "a run killed anywhere resumable: run the same command again. Objects that failed are listed\n"
                   "and tried again by the next run. Exit 0 when every object moved, 1 when some failed.\n"
                   "--json prints {id, objects, bytes, moved, moved_bytes, completed, done_before, skipped, failed,\n"
                   "complete, failures: [{key, error}]} (completed: switched by an earlier run that was killed\n"
                   "before deleting the source); with --dry-run: {dry_run, objects, bytes, destination_free, fits,\n"
                   "resumes, already_done}.",
                   migrate_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, migrate_usage);
    w::migration_request r;
    r.from = cfg.get_or("from", "");
    r.to = cfg.get_or("to", "");
    if (r.from.empty() || r.to.empty()) throw usage_error("--from and --to are required; usage: " + std::string(migrate_usage));
    r.prefix = cfg.get_or("prefix", "");
    if (auto key = cfg.get_or("api_key", ""); !key.empty()) r.api_key = key;
    const std::string concurrency = cfg.get_or("concurrency", "8");
    char* end = nullptr;
    const long n = std::strtol(concurrency.c_str(), &end, 10);
    if (concurrency.empty() || *end != '\0' || n < 1 || n > 64) throw usage_error("--concurrency must be 1..64");
    r.concurrency = static_cast<std::size_t>(n);

    auto db = open_database(inv.executor, cfg);
    w::storage_job_options options;
    options.scratch_dir = cfg.get_or("scratch_dir", "./.data/tmp");
    w::storage_services services{std::make_unique<s::registry>(s::provider_configs_from(cfg), inv.executor), *db,
                                 s::smtp_settings{}, options};
    try {
        w::check_migration_request(services, r);
    } catch (const w::permanent_error& e) {
        db->shutdown();
        throw usage_error(e.what());
    }
    const bool json_out = cfg.enabled("json");
    if (cfg.enabled("dry_run")) {
        auto planning = w::plan_migration(services, r);
        const auto plan = co_await std::move(planning);
        db->shutdown();
        if (json_out)
            std::cout << wharf::dump_json(w::to_json(plan), 2) << "\n";
        else
            std::cout << plan_text(r, plan) << "\n";
        co_return exit_ok;
    }

    const bool live = ::isatty(STDERR_FILENO) != 0;
    const auto started = std::chrono::steady_clock::now();
    auto last_draw = started - std::chrono::seconds(1);
    auto draw = [&](const w::migration_report& rep, bool final) {
        const auto now = std::chrono::steady_clock::now();
        if (!live || (!final && now - last_draw < std::chrono::milliseconds(200))) return;
        last_draw = now;
        const std::uint64_t done = rep.done_before + rep.moved + rep.completed + rep.skipped + rep.failed;
        const double seconds = std::chrono::duration<double>(now - started).count();
        const double fraction = rep.objects ? static_cast<double>(done) / static_cast<double>(rep.objects) : 1.0;
        std::cerr << "\r" << bar(fraction, 24)
                  << fmt::format(" {}/{} objects  {} moved  {}/s  {} failed", done, rep.objects,
                                 human_bytes(static_cast<double>(rep.moved_bytes)),
                                 human_bytes(seconds > 0 ? static_cast<double>(rep.moved_bytes) / seconds : 0), rep.failed)
                  << "\x1b[K" << (final ? "\n" : "") << std::flush;
    };
    auto progress = [&draw](const w::migration_report& rep) { draw(rep, false); };
    std::exception_ptr failure;
    w::migration_report report;
    try {
        auto migrating = w::migrate_objects(services, inv.executor, r, progress);
        report = co_await std::move(migrating);
        draw(report, true);
    } catch (...) {
        failure = std::current_exception();
    }
    db->shutdown();
    if (failure) std::rethrow_exception(failure);
    if (json_out) {
        std::cout << wharf::dump_json(w::to_json(report), 2) << "\n";
    } else {
        std::cout << fmt::format("migration {}: {} -> {}: {} objects ({}) moved by this run, {} finished after an "
                                 "earlier run's switch, {} done before, {} skipped, {} failed\n",
                                 report.id, r.from, r.to, report.moved, human_bytes(static_cast<double>(report.moved_bytes)),
                                 report.completed, report.done_before, report.skipped, report.failed);
        for (const auto& f : report.failures) std::cout << "  failed " << f.key << ": " << f.error << "\n";
        if (report.failed > report.failures.size())
            std::cout << "  ... and " << report.failed - report.failures.size()
                      << " more (object_migration_items has them all)\n";
    }
    co_return report.complete() ? exit_ok : exit_failed;
}

}  // namespace wharfctl
