// jobs delete: finished jobs deleted with their stored objects (usage given back), in batches,
// after a confirmation -- maintenance::delete_jobs does the work (common/maintenance).
#include "commands.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/maintenance/tasks.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/queue/keys.hpp"
#include "wharf/storage/quota.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace wharfctl {
namespace {

namespace m = wharf::maintenance;
namespace s = wharf::storage;

constexpr std::string_view delete_usage =
    "wharfctl jobs delete [<id>...] [--queue Q] [--status failed,dead] [--older-than 30d] [--limit 10000] "
    "[--dry-run] [--yes] [--json]";

const wharf::option_spec delete_specs[] = {
    database_url_option,
    s::storage_providers_option(),
    {"queue", "the queue of the ids given, or the queue to select from", false, ""},
    {"status", "select finished jobs with these statuses (succeeded, failed, dead, cancelled, cleaned_up; "
               "comma-separated)", false, ""},
    {"older_than", "select jobs that finished longer ago than this (e.g. 30d)", false, ""},
    {"limit", "select at most this many jobs", false, "10000"},
    {"batch", "jobs per batch (each batch's rows go in one transaction)", false, "500"},
    {"dry_run", "count what would be deleted, delete nothing", true},
    {"yes", "do not ask for confirmation", true},
    json_option,
    help_option};

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at <= text.size();) {
        auto comma = text.find(',', at);
        if (comma == std::string::npos) comma = text.size();
        if (comma > at) out.push_back(text.substr(at, comma - at));
        at = comma + 1;
    }
    return out;
}

std::string summary(const nlohmann::json& r, bool dry_run) {
    return fmt::format("{} {} job{} ({} pipeline{}) and {} object{} ({}){}", dry_run ? "would delete" : "deleted",
                       r["deleted_jobs"].get<std::int64_t>(), r["deleted_jobs"].get<std::int64_t>() == 1 ? "" : "s",
                       r["deleted_pipelines"].get<std::int64_t>(), r["deleted_pipelines"].get<std::int64_t>() == 1 ? "" : "s",
                       r["deleted_objects"].get<std::int64_t>(), r["deleted_objects"].get<std::int64_t>() == 1 ? "" : "s",
                       s::human_bytes(r["freed_bytes"].get<std::uint64_t>()),
                       r["skipped"].empty() ? "" : fmt::format("; {} skipped", r["skipped"].size()));
}

std::int64_t number(const wharf::config& cfg, const char* key, std::int64_t fallback, std::int64_t max) {
    const auto text = cfg.get_or(key, std::to_string(fallback));
    try {
        std::size_t used = 0;
        const auto v = std::stoll(text, &used);
        if (used == text.size() && v >= 1 && v <= max) return v;
    } catch (const std::exception&) {
    }
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    throw usage_error("--" + flag + " must be a number from 1 to " + std::to_string(max) + ", got '" + text + "'");
}

}  // namespace

boost::asio::awaitable<int> run_jobs(invocation inv) {
    if (inv.args.empty() || inv.args[0] == "--help" || inv.args[0] == "-h") {
        const bool asked = !inv.args.empty();
        (asked ? std::cout : std::cerr) << "usage: wharfctl jobs delete [flags] (--help for its flags)\n\nsubcommands:\n"
                                        << "  delete   delete finished jobs with their stored objects\n";
        co_return asked ? exit_ok : exit_usage;
    }
    if (inv.args[0] != "delete") throw usage_error("unknown jobs subcommand '" + inv.args[0] + "' (delete)");
    const std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
    const auto cfg = load_storage_config(rest, delete_specs);
    if (cfg.enabled("help")) {
        print_help(delete_usage,
                   "Deletes finished jobs with their stored objects: the objects at their providers and in the\n"
                   "catalog (usage given back), then the jobs' rows (a pipeline's with its steps), batch by\n"
                   "batch. Jobs are named by id (with --queue when an id is in several queues) or selected by\n"
                   "--status / --older-than (/ --queue). Unfinished jobs, pipeline steps and jobs an object of\n"
                   "which could not be deleted are skipped and listed. It first counts what would go and asks\n"
                   "for confirmation (on a terminal; elsewhere --yes is needed). Exit status 1 when a job was\n"
                   "skipped. --json prints the result {examined_jobs, deleted_jobs, deleted_pipelines,\n"
                   "deleted_objects, freed_bytes, skipped: [{queue, id, reason}], ...}.",
                   delete_specs);
        co_return exit_ok;
    }
    const auto& ids = cfg.positional();
    const auto queue = cfg.get("queue");
    if (queue && !queue->empty() && !wharf::queue::valid_queue_name(*queue))
        throw usage_error("--queue '" + *queue + "' is not a queue name");
    const auto status_text = cfg.get_or("status", "");
    const auto older_text = cfg.get_or("older_than", "");
    if (ids.empty() && status_text.empty() && older_text.empty())
        throw usage_error("name the jobs (ids) or select them (--status, --older-than); usage: " + std::string(delete_usage));
    if (!ids.empty() && (!status_text.empty() || !older_text.empty()))
        throw usage_error("give ids or --status/--older-than, not both");
    m::job_filter filter;
    if (!older_text.empty()) {
        const auto d = wharf::parse_duration(older_text);
        if (!d) throw usage_error("--older-than must be a duration such as 30d, got '" + older_text + "'");
        filter.older_than = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
    filter.statuses = split_commas(status_text);
    if (queue && !queue->empty()) filter.queue = *queue;
    const auto limit = number(cfg, "limit", 10000, 1'000'000);
    const auto batch = number(cfg, "batch", 500, 10'000);
    const bool json_out = cfg.enabled("json");

    auto db = open_database(inv.executor, cfg);
    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    std::vector<m::job_ref> jobs;
    nlohmann::json unresolved = nlohmann::json::array();
    if (!ids.empty()) {
        for (const auto& id : ids) {
            if (filter.queue) {
                jobs.push_back({*filter.queue, id});
                continue;
            }
            auto loading = wharf::pg::load_jobs_with_id(*db, id);
            const auto rows = co_await std::move(loading);
            if (rows.size() == 1) {
                jobs.push_back({rows.front().queue, id});
            } else {
                std::string why = rows.empty() ? "no such job" : "the id is in several queues: give --queue";
                unresolved.push_back({{"queue", nullptr}, {"id", id}, {"reason", why}});
            }
        }
    } else {
        try {
            auto selecting = m::select_finished_jobs(*db, filter, static_cast<std::size_t>(limit));
            jobs = co_await std::move(selecting);
        } catch (const m::task_error& e) {
            db->shutdown();
            throw usage_error(std::string("--status: ") + e.what());
        }
    }
    auto counting = m::delete_jobs(*db, providers, jobs, true, static_cast<std::size_t>(batch));
    auto result = co_await std::move(counting);
    bool go = !cfg.enabled("dry_run") && result["deleted_jobs"].get<std::int64_t>() > 0;
    if (go && !cfg.enabled("yes")) {
        if (!::isatty(STDIN_FILENO)) {
            db->shutdown();
            std::cerr << "wharfctl: " << summary(result, true) << "; add --yes to delete (no terminal to ask on)\n";
            co_return exit_usage;
        }
        std::cerr << summary(result, true) << ". Delete? [y/N] " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        go = answer == "y" || answer == "Y" || answer == "yes";
        if (!go) std::cerr << "nothing deleted\n";
    }
    if (go) {
        auto deleting = m::delete_jobs(*db, providers, jobs, false, static_cast<std::size_t>(batch));
        result = co_await std::move(deleting);
    }
    db->shutdown();
    for (auto& u : unresolved) result["skipped"].push_back(std::move(u));
    if (json_out) {
        std::cout << wharf::dump_json(result, 2) << "\n";
    } else {
        for (const auto& sk : result["skipped"])
            std::cout << fmt::format("skipped {}:{}: {}\n", sk["queue"].is_null() ? "?" : sk["queue"].get<std::string>(),
                                     sk["id"].get<std::string>(), sk["reason"].get<std::string>());
        std::cout << summary(result, !go) << "\n";
    }
    co_return result["skipped"].empty() ? exit_ok : exit_failed;
}

}  // namespace wharfctl
