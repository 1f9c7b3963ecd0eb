// backup list | run | restore | verify | drill | prune: database backups with tested restores --
// the `backup` and `restore-drill` job types' code (worker/jobs/backup.hpp), run in-process with a
// progress line on a terminal.
#include "commands.hpp"
#include "progress_view.hpp"

#include "jobs/backup.hpp"
#include "wharf/core/json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace wharfctl {
namespace {

namespace s = wharf::storage;
namespace w = wharf::worker;

constexpr std::string_view usage =
    "wharfctl backup list [--all] | run | restore <id> --target <database url> [--yes] | verify <id> | drill [<id>] | "
    "prune [--dry-run]  [--json]";

std::vector<wharf::option_spec> specs() {
    std::vector<wharf::option_spec> v{database_url_option,
                                      s::storage_providers_option(),
                                      {"scratch_dir", "where restores download a backup to check it", false, "./.data/tmp"},
                                      {"target", "restore: the database URL to restore into"},
                                      {"yes", "restore: replace what the target database holds", true},
                                      {"all", "list: deleted backups too", true},
                                      {"dry_run", "prune: list what retention would delete, delete nothing", true},
                                      json_option,
                                      help_option};
    for (const auto& spec : w::backup_option_specs()) v.push_back(spec);
    return v;
}

// Connection and deployment settings from the environment: the database, the providers and the
// backup settings (WHARF_BACKUP_PROVIDER, ...), so `wharfctl backup run` matches the workers'.
wharf::config load_backup_config(const std::vector<std::string>& args, std::span<const wharf::option_spec> specs) {
    static constexpr const char* from_environment[] = {
        "WHARF_DATABASE_URL", "WHARF_CONFIG", "WHARF_STORAGE_PROVIDERS", "WHARF_SCRATCH_DIR", "WHARF_BACKUP_PROVIDER",
        "WHARF_BACKUP_PREFIX", "WHARF_BACKUP_KEEP_DAYS", "WHARF_BACKUP_KEEP_VERIFIED", "WHARF_BACKUP_ZSTD_LEVEL",
        "WHARF_BACKUP_PART_SIZE"};
    std::map<std::string, std::string> env;
    for (const char* name : from_environment)
        if (const char* v = std::getenv(name)) env.emplace(name, v);
    return wharf::config::load(args, env, specs);
}

std::int64_t backup_id(const std::string& text) {
    char* end = nullptr;
    const long long id = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || id < 1) throw usage_error("'" + text + "' is not a backup id");
    return id;
}

std::string when(const std::optional<std::chrono::system_clock::time_point>& t) {
    if (!t) return "-";
    return fmt::format("{:%Y-%m-%d %H:%M}", std::chrono::floor<std::chrono::seconds>(*t));
}

// Draws "<bar> 120.0 MiB dumped  31.0 MiB stored  45.0 MiB/s" on a terminal, at most 5 times a second.
class live_line {
public:
    live_line() : live_(::isatty(STDERR_FILENO) != 0), started_(std::chrono::steady_clock::now()) {}
    void draw(double fraction, const std::string& text, bool final = false) {
        const auto now = std::chrono::steady_clock::now();
        if (!live_ || (!final && now - last_ < std::chrono::milliseconds(200))) return;
        last_ = now;
        std::cerr << "\r" << (fraction >= 0 ? bar(fraction, 24) + " " : std::string()) << text << "\x1b[K"
                  << (final ? "\n" : "") << std::flush;
    }
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    }

private:
    bool live_;
    std::chrono::steady_clock::time_point started_, last_{};
};

void print_list(const std::vector<w::backup_record>& all, bool json_out) {
    if (json_out) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& b : all) out.push_back(w::to_json(b));
        std::cout << wharf::dump_json(out, 2) << "\n";
        return;
    }
    if (all.empty()) {
        std::cout << "no backups\n";
        return;
    }
    std::cout << fmt::format("{:>5}  {:<9}  {:<16}  {:>10}  {:>7}  {:<16}  {}\n", "id", "status", "finished", "size", "seconds",
                             "verified", "object / reason");
    for (const auto& b : all) {
        std::string verified = b.status != "succeeded" ? "-" : b.verified() ? when(b.verified_at) : "UNVERIFIED";
        std::string detail = b.provider + ":" + b.key;
        if (b.status == "failed" && b.error) detail = *b.error;
        if (b.drill_error) detail += "  (last drill failed: " + *b.drill_error + ")";
        std::cout << fmt::format("{:>5}  {:<9}  {:<16}  {:>10}  {:>7}  {:<16}  {}\n", b.id, b.status, when(b.finished_at),
                                 b.size ? human_bytes(static_cast<double>(*b.size)) : "-",
                                 b.seconds ? fmt::format("{:.1f}", *b.seconds) : "-", verified, detail);
    }
}

}  // namespace

boost::asio::awaitable<int> run_backup(invocation inv) {
    const auto all_specs = specs();
    const auto cfg = load_backup_config(inv.args, all_specs);
    if (cfg.enabled("help") || cfg.positional().empty()) {
        print_help(usage,
                   "Backups of the job-state database: pg_dump (custom format) streamed through zstd into a multipart\n"
                   "upload at the backup provider (--backup-provider; default the first configured), recorded in the\n"
                   "backups table with size, SHA-256, server and schema version and a census of every table.\n"
                   "  list            every backup; one never restored by a drill shows UNVERIFIED\n"
                   "  run             back up now, then apply retention (never after a failed backup)\n"
                   "  restore <id>    download, check size and SHA-256, then pg_restore into --target in one\n"
                   "                  transaction; a target with tables is refused without --yes (then replaced)\n"
                   "  verify <id>     download, check size and SHA-256, decompress it whole; exit 1 when damaged\n"
                   "  drill [<id>]    restore the latest (or given) backup into a scratch database, compare it with\n"
                   "                  the manifest, mark it verified, drop the scratch database; exit 1 on a difference\n"
                   "  prune           apply retention: older than --backup-keep-days, keeping the newest backup and\n"
                   "                  the newest --backup-keep-verified drilled ones; --dry-run lists\n"
                   "Restore without wharf: zstd -d < backup.dump.zst | pg_restore -d <url>.",
                   all_specs);
        co_return cfg.enabled("help") ? exit_ok : exit_usage;
    }
    const std::string verb = cfg.positional().front();
    const bool json_out = cfg.enabled("json");
    auto db = open_database(inv.executor, cfg);
    w::storage_job_options options;
    options.scratch_dir = cfg.get_or("scratch_dir", "./.data/tmp");
    auto providers = std::make_unique<s::registry>(s::provider_configs_from(cfg), inv.executor);
    w::backup_settings settings = w::backup_settings_from(cfg, *providers);
    settings.database_url = database_url(cfg);
    w::storage_services services{std::move(providers), *db, s::smtp_settings{}, options};
    live_line line;
    int code = exit_ok;
    std::exception_ptr failure;
    try {
        if (verb == "list") {
            expect_positionals(cfg, 1, usage);
            auto listing = w::list_backups(services, cfg.enabled("all"));
            print_list(co_await std::move(listing), json_out);
        } else if (verb == "run") {
            expect_positionals(cfg, 1, usage);
            w::backup_progress progress = [&line](std::uint64_t dumped, std::uint64_t stored) {
                const double secs = line.seconds();
                line.draw(-1, fmt::format("{} dumped  {} stored  {}/s", human_bytes(static_cast<double>(dumped)),
                                          human_bytes(static_cast<double>(stored)),
                                          human_bytes(secs > 0 ? static_cast<double>(dumped) / secs : 0)));
            };
            auto running = w::run_backup(services, settings, progress);
            const w::backup_outcome out = co_await std::move(running);
            line.draw(-1, "done", true);
            if (json_out) {
                nlohmann::json j = w::to_json(out.backup);
                j["retention"] = w::to_json(out.retention);
                std::cout << wharf::dump_json(j, 2) << "\n";
            } else {
                const auto& b = out.backup;
                std::cout << fmt::format("backup {} succeeded: {} dumped, {} stored at {}:{} in {:.1f} s (sha256 {})\n",
                                         b.id, human_bytes(static_cast<double>(b.dump_bytes.value_or(0))),
                                         human_bytes(static_cast<double>(b.size.value_or(0))), b.provider, b.key,
                                         b.seconds.value_or(0), b.sha256.value_or(""));
                for (const auto& d : out.retention.deleted)
                    std::cout << fmt::format("retention: deleted backup {} ({})\n", d.id, d.reason);
            }
        } else if (verb == "restore") {
            expect_positionals(cfg, 2, usage);
            const auto id = backup_id(cfg.positional()[1]);
            const std::string target = cfg.get_or("target", "");
            if (target.empty()) throw usage_error("restore needs --target <database url>; usage: " + std::string(usage));
            w::transfer_progress progress = [&line](std::uint64_t done, std::uint64_t total) {
                line.draw(total ? static_cast<double>(done) / static_cast<double>(total) : 0,
                          fmt::format("downloading {} / {}", human_bytes(static_cast<double>(done)),
                                      human_bytes(static_cast<double>(total))));
            };
            auto restoring = w::restore_backup(services, settings, id, target, cfg.enabled("yes"), progress);
            const auto report = co_await std::move(restoring);
            line.draw(1, "restored", true);
            if (json_out)
                std::cout << wharf::dump_json({{"id", report.id}, {"dump_bytes", report.dump_bytes}, {"seconds", report.seconds}}, 2)
                          << "\n";
            else
                std::cout << fmt::format("backup {} restored ({} of dump) in {:.1f} s\n", report.id,
                                         human_bytes(static_cast<double>(report.dump_bytes)), report.seconds);
        } else if (verb == "verify") {
            expect_positionals(cfg, 2, usage);
            const auto id = backup_id(cfg.positional()[1]);
            auto verifying = w::verify_backup(services, settings, id);
            const auto report = co_await std::move(verifying);
            if (json_out)
                std::cout << wharf::dump_json(w::to_json(report), 2) << "\n";
            else if (report.ok)
                std::cout << fmt::format("backup {} is intact: {} stored, SHA-256 as recorded, {} of dump\n", id,
                                         human_bytes(static_cast<double>(report.backup.size.value_or(0))),
                                         human_bytes(static_cast<double>(report.dump_bytes)));
            else
                std::cout << fmt::format("backup {} is DAMAGED: {}\n", id, report.problem);
            if (!report.ok) code = exit_failed;
        } else if (verb == "drill") {
            if (cfg.positional().size() > 2) expect_positionals(cfg, 2, usage);
            std::optional<std::int64_t> id;
            if (cfg.positional().size() == 2) id = backup_id(cfg.positional()[1]);
            line.draw(-1, "restoring into a scratch database...");
            auto drilling = w::restore_drill(services, settings, id);
            const auto report = co_await std::move(drilling);
            line.draw(-1, "", true);
            if (json_out) {
                std::cout << wharf::dump_json(w::to_json(report), 2) << "\n";
            } else if (report.passed) {
                std::cout << fmt::format("restore drill of backup {} passed: restored in {:.1f} s, every table as in "
                                         "the manifest; marked verified\n",
                                         report.backup.id, report.restore_seconds);
            } else {
                std::cout << fmt::format("restore drill of backup {} FAILED:\n", report.backup.id);
                for (const auto& p : report.problems) std::cout << "  " << p << "\n";
            }
            if (!report.passed) code = exit_failed;
        } else if (verb == "prune") {
            expect_positionals(cfg, 1, usage);
            auto pruning = w::apply_retention(services, settings, cfg.enabled("dry_run"));
            const auto report = co_await std::move(pruning);
            if (json_out) {
                std::cout << wharf::dump_json(w::to_json(report), 2) << "\n";
            } else {
                if (report.deleted.empty()) std::cout << "retention: nothing to delete\n";
                for (const auto& d : report.deleted)
                    std::cout << fmt::format("{} backup {} ({})\n", report.dry_run ? "would delete" : "deleted", d.id,
                                             d.reason);
            }
        } else {
            throw usage_error("unknown backup subcommand '" + verb + "'; usage: " + std::string(usage));
        }
    } catch (const w::permanent_error& e) {
        failure = std::make_exception_ptr(wharfctl::failure(e.what()));
    } catch (...) {
        failure = std::current_exception();
    }
    db->shutdown();
    if (failure) std::rethrow_exception(failure);
    co_return code;
}

}  // namespace wharfctl
