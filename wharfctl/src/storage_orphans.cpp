// storage orphans: multipart uploads left open at the providers -- recorded ones whose job is
// final or gone, and ones a provider lists that nobody recorded -- listed, and with --abort
// aborted (and their journal rows removed). The rule is storage::find_orphans.
#include "commands.hpp"
#include "wharf/core/json.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/orphan_sweep.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <iostream>

namespace wharfctl {
namespace {

namespace s = wharf::storage;

constexpr std::string_view orphans_usage = "wharfctl storage orphans [--abort] [--older-than 24h] [--json]";

const wharf::option_spec orphans_specs[] = {
    database_url_option,
    s::storage_providers_option(),
    {"abort", "abort the orphaned uploads and remove their journal rows", true},
    {"older_than", "only uploads opened before this long ago (e.g. 24h, 90m, 0s)", false, "24h"},
    json_option,
    help_option};

std::string utc(std::chrono::system_clock::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

}  // namespace

boost::asio::awaitable<int> run_storage_orphans(invocation inv) {
    const auto cfg = load_storage_config(inv.args, orphans_specs);
    if (cfg.enabled("help")) {
        print_help(orphans_usage,
                   "Lists the multipart uploads left open at the configured providers: those recorded in the\n"
                   "multipart_uploads table whose job is final or has no row, and those a provider lists\n"
                   "(S3 ListMultipartUploads, Azure blobs with only uncommitted blocks, stale local temp\n"
                   "files) that no row records. Uploads of queued or running jobs are never touched. With\n"
                   "--abort each one is aborted and its row removed. Exit status 1 when an abort or a listing\n"
                   "failed. --json prints {orphans:[{provider,bucket,key,upload_id,job_id,reason,since,state,\n"
                   "error}],aborted,failed,errors}.",
                   orphans_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, orphans_usage);
    const auto older_text = cfg.get_or("older_than", "24h");
    const auto older = wharf::parse_duration(older_text);
    if (!older) throw usage_error("--older-than must be a duration such as 24h, 90m or 0s, got '" + older_text + "'");
    const bool abort = cfg.enabled("abort");

    auto db = open_database(inv.executor, cfg);
    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    auto sweep = s::sweep_orphaned_uploads(*db, providers, std::chrono::duration_cast<std::chrono::seconds>(*older), abort);
    const auto swept = co_await std::move(sweep);
    db->shutdown();
    const auto& outcomes = swept.orphans;
    const auto aborted = swept.aborted, failed = swept.failed;
    const auto& errors = swept.errors;

    if (cfg.enabled("json")) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& r : outcomes) {
            list.push_back({{"provider", r.o.provider},
                            {"bucket", r.o.bucket},
                            {"key", r.o.key},
                            {"upload_id", r.o.upload_id},
                            {"job_id", r.o.job_id ? nlohmann::json(*r.o.job_id) : nlohmann::json(nullptr)},
                            {"reason", r.o.reason},
                            {"since", utc(r.o.since)},
                            {"state", r.state},
                            {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)}});
        }
        std::cout
            << wharf::dump_json(nlohmann::json{{"orphans", list}, {"aborted", aborted}, {"failed", failed}, {"errors", errors}}, 2)
            << "\n";
    } else {
        if (!outcomes.empty())
            std::cout << fmt::format("{:<16} {:<40} {:<24} {:<20} {:<16} {:<20} {}\n", "PROVIDER", "KEY", "UPLOAD ID",
                                     "JOB", "REASON", "SINCE", "STATE");
        for (const auto& r : outcomes) {
            std::cout << fmt::format("{:<16} {:<40} {:<24} {:<20} {:<16} {:<20} {}{}\n", r.o.provider, r.o.key,
                                     r.o.upload_id, r.o.job_id.value_or("-"), r.o.reason, utc(r.o.since), r.state,
                                     r.error.empty() ? "" : " (" + r.error + ")");
        }
        std::cout << fmt::format("{} orphaned upload{} older than {}", outcomes.size(), outcomes.size() == 1 ? "" : "s",
                                 older_text);
        if (abort)
            std::cout << fmt::format(": {} aborted, {} failed", aborted, failed);
        else if (!outcomes.empty())
            std::cout << " (--abort aborts them)";
        std::cout << "\n";
    }
    for (const auto& e : errors) std::cerr << "wharfctl storage orphans: " << e << "\n";
    co_return errors.empty() && failed == 0 ? exit_ok : exit_failed;
}

}  // namespace wharfctl
