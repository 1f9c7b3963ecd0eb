// cleanup <task>: runs a maintenance task now, here (the `cleanup` job type runs the same code
// when a schedule enqueues it), and prints what it did.
#include "commands.hpp"

#include "wharf/core/json.hpp"
#include "wharf/maintenance/tasks.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/storage/registry.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace wharfctl {
namespace {

namespace m = wharf::maintenance;
using json = nlohmann::json;

constexpr std::string_view usage =
    "wharfctl cleanup stuck-jobs|job-retention|stale-multipart|temp-objects|temp-files|failed-jobs|reconcile [--dry-run] [--older-than D] "
    "[--limit N] [--batch N] [--retention queue=D,...] [--scratch-dir DIR] [--json]";

const wharf::option_spec specs[] = {
    redis_url_option,
    database_url_option,
    wharf::storage::storage_providers_option(),
    {"dry_run", "count what the task would do; change nothing", true},
    {"older_than", "stuck-jobs: running longer than this (default 24h); job-retention: ended longer ago (default "
                   "30d); stale-multipart: opened longer ago (default 24h); temp-objects: stored longer ago (default 24h); temp-files: not written for (default 24h); failed-jobs: ended longer ago (default 7d); reconcile: the grace (default 2m)"},
    {"limit", "rows per run at most (default 100000)"},
    {"batch", "rows per transaction (default 500)"},
    {"retention", "job-retention: per-queue retentions, e.g. noop=1d,upload=90d"},
    {"scratch_dir", "temp-files: the workers' scratch_dir on this host"},
    json_option,
    help_option,
};

}  // namespace

boost::asio::awaitable<int> run_cleanup(invocation inv) {
    const auto cfg = load_storage_config(inv.args, specs);
    if (cfg.enabled("help") || cfg.positional().empty()) {
        print_help(usage,
                   "stuck-jobs: a job running longer than --older-than whose stream entry no worker renews\n"
                   "becomes failed (\"Job timeout - stuck in processing\"); a job a live worker holds is kept.\n"
                   "job-retention: deletes the rows of jobs that ended longer ago than the retention (a\n"
                   "pipeline's rows together, never a running one's). stale-multipart: aborts the multipart\n"
                   "uploads no live job owns (as `storage orphans --abort`). temp-objects: deletes the temp/\n"
                   "objects of pipelines and jobs that are over, at the provider and in the catalog (usage\n"
                   "follows). temp-files: removes what no running or retry-waiting job owns in a worker's\n"
                   "--scratch-dir and nothing wrote for --older-than (every worker also does it hourly).\n"
                   "failed-jobs: deletes the stored objects of jobs (and pipelines) that ended failed or dead\n"
                   "longer ago than --older-than and marks them cleaned_up. reconcile: re-enqueues the jobs\n"
                   "PostgreSQL has queued or running that Redis lost (found missing twice, --older-than apart).\n"
                   "Each run is recorded in maintenance_runs.",
                   specs);
        co_return cfg.enabled("help") ? exit_ok : exit_usage;
    }
    expect_positionals(cfg, 1, usage);
    std::string task = cfg.positional()[0];
    for (auto& c : task)
        if (c == '-') c = '_';
    json payload{{"task", task}};
    if (cfg.enabled("dry_run")) payload["dry_run"] = true;
    if (auto v = cfg.get("older_than")) payload["older_than"] = *v;
    if (cfg.get("limit")) payload["limit"] = cfg.integer("limit", 0);
    if (cfg.get("batch")) payload["batch"] = cfg.integer("batch", 0);
    if (auto r = cfg.get("retention")) {
        json per = json::object();
        for (std::size_t at = 0; at < r->size();) {
            auto comma = r->find(',', at);
            if (comma == std::string::npos) comma = r->size();
            const auto item = r->substr(at, comma - at);
            const auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--retention: queue=duration, comma-separated");
            per[item.substr(0, eq)] = item.substr(eq + 1);
            at = comma + 1;
        }
        payload["retention"] = std::move(per);
    }
    m::task_request request;
    try {
        request = m::parse_request(payload);
    } catch (const m::task_error& e) {
        throw usage_error(e.what());
    }
    if (auto dir = cfg.get("scratch_dir")) request.options.scratch_dir = std::filesystem::absolute(*dir);
    if (request.task == "temp_files" && !request.options.scratch_dir)
        throw usage_error("temp-files needs --scratch-dir (the workers' scratch_dir on this host)");
    auto db = open_database(inv.executor, cfg);
    auto redis = open_redis(inv.executor, cfg);
    std::unique_ptr<wharf::storage::registry> providers;
    if (request.task == "stale_multipart" || request.task == "temp_objects" || request.task == "failed_jobs")
        providers = std::make_unique<wharf::storage::registry>(wharf::storage::provider_configs_from(cfg), inv.executor);
    auto run = m::run_task(*db, *redis, providers.get(), request, std::nullopt);
    const json result = co_await std::move(run);
    redis->close();
    db->shutdown();
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(result, 2) << "\n";
    } else {
        for (const auto& [key, value] : result.items()) std::cout << key << ": " << value.dump() << "\n";
    }
    co_return exit_ok;
}

}  // namespace wharfctl
