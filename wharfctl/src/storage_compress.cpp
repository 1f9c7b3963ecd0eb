// storage compress: the compression of old jobs (wharf/lifecycle/compress.hpp), the `compress` job
// type's code, run here with a progress line on a terminal.
#include "commands.hpp"
#include "progress_view.hpp"

#include "wharf/core/json.hpp"
#include "wharf/lifecycle/compress.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

#include <unistd.h>

namespace wharfctl {
namespace {

namespace l = wharf::lifecycle;
namespace s = wharf::storage;

constexpr std::string_view compress_usage =
    "wharfctl storage compress [--dry-run] [--provider P] [--older-than-days 90] [--limit N] [--json]";

const wharf::option_spec compress_specs[] = {
    database_url_option,
    s::storage_providers_option(),
    {"provider", "only this provider's objects", false, ""},
    {"older_than_days", "jobs finished at least this many days ago", false, "90"},
    {"limit", "objects examined by this run at most", false, "10000"},
    {"dry_run", "count the candidates of a compressible type; read and change nothing", true},
    json_option,
    help_option};

std::uint64_t number(const wharf::config& cfg, std::string_view key, std::string_view fallback, std::uint64_t lo,
                     std::uint64_t hi) {
    const std::string text = cfg.get_or(std::string(key), std::string(fallback));
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || text[0] == '-' || n < lo || n > hi)
        throw usage_error(fmt::format("--{} must be {}..{}", key, lo, hi));
    return n;
}

std::string report_text(const l::compress_report& r) {
    std::string out = fmt::format(
        "{}{} objects examined: {} compressed ({} -> {}{}); left: {} media or unknown type, {} saving too little, "
        "{} on providers not configured here, {} changed meanwhile; {} failed{}\n",
        r.dry_run ? "dry run (nothing changed): " : "", r.examined, r.compressed,
        human_bytes(static_cast<double>(r.bytes_before)), human_bytes(static_cast<double>(r.bytes_after)),
        r.finished ? fmt::format(", {} finished after an interrupted run", r.finished) : std::string(),
        r.skipped_type, r.skipped_ratio, r.skipped_provider, r.skipped_changed, r.failed,
        r.limit_reached ? "; stopped at --limit, run again for the rest" : "");
    for (const auto& f : r.failures) out += fmt::format("  failed {}:{}: {}\n", f.provider, f.key, f.error);
    if (r.failed > r.failures.size()) out += fmt::format("  ... and {} more\n", r.failed - r.failures.size());
    return out;
}

}  // namespace

boost::asio::awaitable<int> run_storage_compress(invocation inv) {
    const auto cfg = load_storage_config(inv.args, compress_specs);
    if (cfg.enabled("help")) {
        print_help(compress_usage,
                   "Stores the compressible artifacts (metadata, playlists, captions, transcripts, logs -- by key\n"
                   "and content type; never media) of jobs that finished --older-than-days ago gzip-encoded, under\n"
                   "the same keys -- the `compress` job type's code. Each object's gzip bytes are decoded and\n"
                   "hashed before they replace the original, and read back and checked again before its catalog\n"
                   "row (size, encoding) and the usage change, in one transaction. An object whose trial\n"
                   "compression saves under 10% is left and not tried again until it is replaced. Readers get the\n"
                   "original bytes: `wharfctl storage get`, the workers, and presigned URLs (Content-Encoding:\n"
                   "gzip; curl needs --compressed). The local provider keeps no encoding: its objects are left.\n"
                   "A run killed anywhere is finished by running it again. Exit 0 when nothing failed, 1\n"
                   "otherwise. --json prints {dry_run, examined, compressed, finished, bytes_before, bytes_after,\n"
                   "skipped_type, skipped_ratio, skipped_provider, skipped_changed, failed, complete,\n"
                   "limit_reached, failures: [{provider, key, error}]}.",
                   compress_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, compress_usage);
    l::compress_options options;
    if (auto p = cfg.get_or("provider", ""); !p.empty()) options.provider = p;
    options.older_than = std::chrono::hours(24 * number(cfg, "older_than_days", "90", 0, 36500));
    options.limit = number(cfg, "limit", "10000", 1, std::uint64_t{1} << 40);
    options.dry_run = cfg.enabled("dry_run");
    options.scratch_dir = std::filesystem::temp_directory_path() / "wharfctl-compress";
    const s::registry providers(s::provider_configs_from(cfg), inv.executor);
    try {
        l::check_compress_options(providers, options);
    } catch (const std::invalid_argument& e) {
        throw usage_error(e.what());
    }
    auto db = open_database(inv.executor, cfg);
    const bool live = ::isatty(STDERR_FILENO) != 0 && !cfg.enabled("json");
    auto last_draw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto draw = [&](const l::compress_report& r, bool final) {
        const auto now = std::chrono::steady_clock::now();
        if (!live || (!final && now - last_draw < std::chrono::milliseconds(200))) return;
        last_draw = now;
        std::cerr << fmt::format("\r{} examined  {} compressed  {} -> {}  {} failed", r.examined, r.compressed,
                                 human_bytes(static_cast<double>(r.bytes_before)),
                                 human_bytes(static_cast<double>(r.bytes_after)), r.failed)
                  << "\x1b[K" << (final ? "\n" : "") << std::flush;
    };
    std::exception_ptr failure;
    l::compress_report report;
    try {
        auto progress = [&draw](const l::compress_report& r) { draw(r, false); };
        auto running = l::compress_old_jobs(*db, providers, options, progress);
        report = co_await std::move(running);
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

}  // namespace wharfctl
