// Queue commands: enqueue (Redis, plus the job's 'queued' row when a database is configured),
// queues, dead list|retry|purge (Redis only).
#include "commands.hpp"
#include "progress_view.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/duration.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/producer/submit.hpp"
#include "wharf/queue/operations.hpp"
#include "wharf/redis/connection.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace wharfctl {
namespace {

namespace q = wharf::queue;
using json = nlohmann::json;
using namespace std::chrono;

std::string checked_queue(const std::string& name) {
    if (!q::valid_queue_name(name))
        throw usage_error("queue name '" + name + "': 1-64 characters of [a-z0-9_-]");
    return name;
}

constexpr std::string_view enqueue_usage =
    "wharfctl enqueue <queue> --payload JSON [--id ID] [--api-key KEY] [--delay 30s | --run-at RFC3339] "
    "[--max-attempts N] [--timeout 60s] [--json]";

constexpr wharf::option_spec enqueue_specs[] = {
    redis_url_option,
    database_url_option,
    {"payload", "the job's payload: a JSON object (required)"},
    {"id", "idempotency id, 1-128 characters of [A-Za-z0-9._:-] (default: the stream entry id)"},
    {"api_key", "the tenant the job belongs to"},
    {"delay", "run no earlier than this long from now (e.g. 30s, 5m)"},
    {"run_at", "run no earlier than this RFC 3339 time"},
    {"max_attempts", "attempts before the job is dead-lettered (1-100)"},
    {"timeout", "per-attempt timeout (e.g. 60s; at most 7 days)"},
    json_option,
    help_option,
};

}  // namespace

boost::asio::awaitable<int> run_enqueue(invocation inv) {
    const auto cfg = load_config(inv.args, enqueue_specs);
    if (cfg.enabled("help")) {
        print_help(enqueue_usage,
                   "Adds a job to <queue>'s stream (or to its delayed set when it is to run later) and prints\n"
                   "the stream entry id and the job id.",
                   enqueue_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, enqueue_usage);
    const std::string queue = checked_queue(cfg.positional()[0]);

    const auto payload_text = cfg.get("payload");
    if (!payload_text) throw usage_error("--payload is required (a JSON object, e.g. --payload '{}')");
    // The envelope's limits apply once it is built (the decoder below); these only bound the parse.
    auto parsed = wharf::parse_json(*payload_text);
    if (!parsed) throw usage_error("--payload: not JSON: " + parsed.error);
    json payload = std::move(parsed.value);
    if (!payload.is_object()) throw usage_error("--payload: must be a JSON object");

    // The envelope is built as a producer would, then read back with the workers' own decoder,
    // so wharfctl accepts exactly what a worker accepts.
    json doc{{"v", q::envelope_version}, {"type", queue}, {"payload", std::move(payload)}};
    if (auto id = cfg.get("id")) doc["id"] = *id;
    if (auto key = cfg.get("api_key")) doc["api_key"] = *key;
    if (cfg.get("max_attempts")) doc["max_attempts"] = cfg.integer("max_attempts", 0);
    if (cfg.get("timeout")) {
        const auto t = cfg.duration("timeout", {});
        doc["timeout_s"] = (t.count() + 999) / 1000;  // whole seconds, rounded up
    }
    if (cfg.get("delay") && cfg.get("run_at")) throw usage_error("give --delay or --run-at, not both");
    if (cfg.get("delay")) {
        const auto delay = cfg.duration("delay", {});
        if (delay > hours(24 * 366 * 10)) throw usage_error("--delay: at most 10 years");
        doc["run_at"] = q::format_rfc3339(system_clock::now() + delay);
    } else if (auto at = cfg.get("run_at")) {
        doc["run_at"] = *at;
    }
    auto decoded = q::decode(wharf::dump_json(doc), queue);
    if (auto* bad = std::get_if<q::decode_error>(&decoded)) {
        // Name the flag, not the envelope field, where they differ.
        std::string reason = bad->reason;
        static constexpr std::pair<std::string_view, std::string_view> flag_of[] = {
            {"max_attempts:", "--max-attempts:"}, {"timeout_s:", "--timeout:"}, {"run_at:", "--run-at:"},
            {"id:", "--id:"},                     {"api_key:", "--api-key:"}};
        for (auto [field, flag] : flag_of)
            if (reason.starts_with(field)) reason = std::string{flag} + reason.substr(field.size());
        throw usage_error(reason);
    }
    auto e = std::get<q::envelope>(std::move(decoded));
    auto redis = open_redis(inv.executor, cfg);
    // With a database configured, the job gets its 'queued' row now, so `wharfctl status` shows it
    // before a worker starts it. The job is enqueued either way: a failure there is a warning.
    std::unique_ptr<wharf::pg::pool> db;
    if (auto url = cfg.get("database_url"); url && !url->empty()) db = open_database(inv.executor, cfg);
    auto submitting = wharf::producer::submit(*redis, db.get(), queue, std::move(e), "wharfctl");
    const auto done = co_await std::move(submitting);
    redis->close();
    if (db) db->shutdown();
    if (done.row_error)
        std::cerr << "wharfctl: warning: job " << done.job_id << " is enqueued, but its 'queued' row was not written: "
                  << *done.row_error << "\n";
    const std::string& job_id = done.job_id;
    const std::string& entry = done.entry_id;
    const bool delayed = done.run_at.has_value();
    if (cfg.enabled("json")) {
        json out{{"queue", queue}, {"job_id", job_id}, {"entry_id", nullptr}, {"run_at", nullptr}};
        if (!entry.empty()) out["entry_id"] = entry;
        if (delayed) out["run_at"] = q::format_rfc3339(*done.run_at);
        std::cout << wharf::dump_json(out, 2) << "\n";
    } else {
        // The id alone on stdout, so `id=$(wharfctl enqueue ...)` works; the sentence for a person
        // at a terminal goes to stderr.
        std::cout << job_id << "\n";
        if (::isatty(STDERR_FILENO)) {
            if (delayed)
                std::cerr << "scheduled job " << job_id << " on " << queue << " for " << q::format_rfc3339(*done.run_at)
                          << "\n";
            else
                std::cerr << "enqueued job " << job_id << " on " << queue << " (entry " << entry << ")\n";
        }
    }
    co_return exit_ok;
}

namespace {

constexpr std::string_view queues_usage = "wharfctl queues [--json | --watch [--interval 1s]]";
constexpr wharf::option_spec queues_specs[] = {
    redis_url_option, json_option,
    {"watch", "redraw the table until interrupted (Ctrl-C)", true},
    {"interval", "how often --watch reads the queues", false, "1s"},
    help_option};

// The table of `wharfctl queues`.
std::string queues_table(const std::vector<q::operations::depth>& rows) {
    std::size_t width = 5;
    for (const auto& r : rows) width = std::max(width, r.queue.size());
    auto pad = [](std::string s, std::size_t w) {
        if (s.size() < w) s.insert(0, w - s.size(), ' ');
        return s;
    };
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::string out = "QUEUE";
    out.resize(width, ' ');
    out += "  " + pad("DEPTH", 10) + "  " + pad("IN-FLIGHT", 10) + "  " + pad("DELAYED", 10) + "  " + pad("DEAD", 10) +
           "  " + pad("OLDEST", 8) + "\n";
    for (const auto& r : rows) {
        std::string name = r.queue;
        name.resize(width, ' ');
        const std::string oldest =
            r.oldest_waiting_ms > 0 ? human_duration(static_cast<double>(now_ms - r.oldest_waiting_ms) / 1000.0) : "-";
        out += name + "  " + pad(std::to_string(r.waiting), 10) + "  " + pad(std::to_string(r.in_flight), 10) + "  " +
               pad(std::to_string(r.delayed), 10) + "  " + pad(std::to_string(r.dead), 10) + "  " + pad(oldest, 8) +
               "\n";
    }
    return out;
}

boost::asio::awaitable<std::vector<q::operations::depth>> read_queues(wharf::redis::connection& redis) {
    std::vector<q::operations::depth> rows;
    auto listing = q::known_queues(redis);
    for (const auto& name : co_await std::move(listing)) {
        if (!q::valid_queue_name(name)) continue;  // not one of ours: someone wrote to the registry
        q::operations ops{redis, name};
        auto stats = ops.stats();
        rows.push_back(co_await std::move(stats));
    }
    co_return rows;
}

}  // namespace

boost::asio::awaitable<int> run_queues(invocation inv) {
    const auto cfg = load_config(inv.args, queues_specs);
    if (cfg.enabled("help")) {
        print_help(queues_usage,
                   "For every queue a worker or producer has used: depth (waiting, not yet delivered),\n"
                   "in-flight (delivered, not acknowledged), delayed (retries and scheduled jobs) and dead.",
                   queues_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, queues_usage);
    auto redis = open_redis(inv.executor, cfg);
    if (cfg.enabled("watch")) {
        if (cfg.enabled("json")) throw usage_error("--watch draws for a person; use --json without it for a script");
        const auto interval = cfg.duration("interval", std::chrono::seconds(1));
        if (interval < std::chrono::milliseconds(100)) throw usage_error("--interval must be at least 100ms");
        const display d = display::for_stdout();
        boost::asio::steady_timer timer(inv.executor);
        std::size_t drawn = 0;
        std::string last;
        for (;;) {
            auto reading = read_queues(*redis);
            const auto rows = co_await std::move(reading);
            const std::string table = queues_table(rows);
            if (d.tty) {
                if (drawn > 0) std::cout << "\x1b[" << drawn << "F\x1b[J";
                std::cout << table << std::flush;
                drawn = static_cast<std::size_t>(std::count(table.begin(), table.end(), '\n'));
            } else if (table != last) {
                std::cout << table << "\n" << std::flush;  // plain: each change, a blank line between
                last = table;
            }
            timer.expires_after(interval);
            co_await timer.async_wait(boost::asio::use_awaitable);
        }
    }
    auto reading = read_queues(*redis);
    const auto rows = co_await std::move(reading);
    redis->close();

    if (cfg.enabled("json")) {
        json list = json::array();
        for (const auto& r : rows)
            list.push_back({{"queue", r.queue},
                            {"depth", r.waiting},
                            {"in_flight", r.in_flight},
                            {"delayed", r.delayed},
                            {"dead", r.dead},
                            {"oldest_waiting_ms", r.oldest_waiting_ms > 0 ? json(r.oldest_waiting_ms) : json(nullptr)}});
        std::cout << wharf::dump_json(json{{"queues", std::move(list)}}, 2) << "\n";
        co_return exit_ok;
    }
    std::cout << queues_table(rows);
    co_return exit_ok;
}

namespace {

constexpr std::string_view dead_usage = "wharfctl dead list|retry|purge <queue> ...";
constexpr std::string_view dead_list_usage = "wharfctl dead list <queue> [--limit N] [--json]";
constexpr std::string_view dead_retry_usage = "wharfctl dead retry <queue> [--id ID]";
constexpr std::string_view dead_purge_usage = "wharfctl dead purge <queue> --yes";

constexpr wharf::option_spec dead_list_specs[] = {
    redis_url_option, {"limit", "at most this many entries, oldest first", false, "50"}, json_option, help_option};
constexpr wharf::option_spec dead_retry_specs[] = {
    redis_url_option, {"id", "retry only the job with this id (default: every dead job of the queue)"},
    help_option};
constexpr wharf::option_spec dead_purge_specs[] = {
    redis_url_option, {"yes", "confirm: the dead letters are deleted for good", true}, help_option};

json dead_entry_json(const q::operations::dead_entry& d) {
    return {{"entry_id", d.entry_id}, {"job_id", d.job_id},       {"reason", d.reason},
            {"attempts", d.attempts}, {"failed_at", d.failed_at}, {"job", d.job_text}};
}

}  // namespace

boost::asio::awaitable<int> run_dead(invocation inv) {
    if (inv.args.empty() || inv.args[0] == "--help") {
        if (!inv.args.empty()) {
            std::cout << "usage: " << dead_usage << "\n\n  " << dead_list_usage << "\n  " << dead_retry_usage
                      << "\n  " << dead_purge_usage << "\n";
            co_return exit_ok;
        }
        throw usage_error("missing subcommand; usage: " + std::string{dead_usage});
    }
    const std::string sub = inv.args[0];
    std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());

    if (sub == "list") {
        const auto cfg = load_config(rest, dead_list_specs);
        if (cfg.enabled("help")) {
            print_help(dead_list_usage, "Lists a queue's dead letters: job id, attempts, when and why it failed.",
                       dead_list_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 1, dead_list_usage);
        const std::string queue = checked_queue(cfg.positional()[0]);
        const auto limit = cfg.integer("limit", 50);
        if (limit < 1 || limit > 100000) throw usage_error("--limit must be from 1 to 100000");
        auto redis = open_redis(inv.executor, cfg);
        q::operations ops{*redis, queue};
        const auto entries = co_await ops.dead_list(static_cast<std::size_t>(limit));
        redis->close();
        if (cfg.enabled("json")) {
            json list = json::array();
            for (const auto& d : entries) list.push_back(dead_entry_json(d));
            std::cout << wharf::dump_json(json{{"queue", queue}, {"entries", std::move(list)}}, 2) << "\n";
        } else {
            for (const auto& d : entries)
                std::cout << d.entry_id << "  job " << d.job_id << "  attempts " << d.attempts << "  failed "
                          << d.failed_at << "\n    " << d.reason << "\n";
            if (entries.empty()) std::cout << "no dead letters in " << queue << "\n";
        }
        co_return exit_ok;
    }
    if (sub == "retry") {
        const auto cfg = load_config(rest, dead_retry_specs);
        if (cfg.enabled("help")) {
            print_help(dead_retry_usage,
                       "Puts dead jobs back on the queue to run again from attempt 1 (a job id that already\n"
                       "ran is allowed to run again).",
                       dead_retry_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 1, dead_retry_usage);
        const std::string queue = checked_queue(cfg.positional()[0]);
        const auto id = cfg.get("id");
        auto redis = open_redis(inv.executor, cfg);
        q::operations ops{*redis, queue};
        const auto n = co_await ops.dead_retry(id);
        redis->close();
        if (id && n == 0) throw failure("no dead job with id " + *id + " in " + queue);
        std::cout << "retried " << n << " dead job" << (n == 1 ? "" : "s") << " on " << queue << "\n";
        co_return exit_ok;
    }
    if (sub == "purge") {
        const auto cfg = load_config(rest, dead_purge_specs);
        if (cfg.enabled("help")) {
            print_help(dead_purge_usage, "Deletes every dead letter of a queue.", dead_purge_specs);
            co_return exit_ok;
        }
        expect_positionals(cfg, 1, dead_purge_usage);
        const std::string queue = checked_queue(cfg.positional()[0]);
        if (!cfg.enabled("yes")) throw usage_error("refusing to purge " + queue + "'s dead letters without --yes");
        auto redis = open_redis(inv.executor, cfg);
        q::operations ops{*redis, queue};
        const auto n = co_await ops.dead_purge();
        redis->close();
        std::cout << "purged " << n << " dead job" << (n == 1 ? "" : "s") << " from " << queue << "\n";
        co_return exit_ok;
    }
    throw usage_error("unknown subcommand '" + sub + "'; usage: " + std::string{dead_usage});
}

}  // namespace wharfctl
