// Schedule commands: schedules list | next <name> [N] | pause <name> | resume <name> |
// trigger <name> | apply FILE [--prune] (the tables of common/schedule/store.hpp).
#include "commands.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/queue/envelope.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/schedule/store.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <charconv>
#include <iostream>

namespace wharfctl {
namespace {

namespace ws = wharf::schedule;
using json = nlohmann::json;

constexpr std::string_view usage =
    "wharfctl schedules list | next <name> [N] | pause <name> | resume <name> | trigger <name> | apply FILE [--prune]";

constexpr wharf::option_spec specs[] = {
    redis_url_option,
    database_url_option,
    {"prune", "apply: delete the schedules the file does not name", true},
    json_option,
    help_option,
};

std::string time_text(ws::micros t) {
    return wharf::queue::format_rfc3339(std::chrono::system_clock::time_point{t.time_since_epoch()});
}
std::string time_text(ws::sys_seconds t) { return wharf::queue::format_rfc3339(std::chrono::system_clock::time_point{t}); }

// The next fire after the cursor (or after `now`, whichever is later), for listings.
std::optional<ws::sys_seconds> next_of(const ws::schedule_row& s, ws::micros now) {
    const auto from = std::chrono::floor<std::chrono::seconds>(std::max(s.cursor, now));
    return ws::next_fire(ws::cron::parse(s.def.cron), ws::find_zone(s.def.time_zone), from);
}

json schedule_json(const ws::schedule_row& s, const std::optional<ws::last_fire>& last, ws::micros now) {
    json out{{"name", s.def.name},
             {"cron", s.def.cron},
             {"time_zone", s.def.time_zone},
             {"queue", s.def.queue},
             {"overlap", ws::to_string(s.def.overlap)},
             {"catch_up", ws::to_string(s.def.mode)},
             {"catch_up_window_s", s.def.window.count()},
             {"jitter_s", s.def.jitter.count()},
             {"paused", s.def.paused},
             {"missed", s.missed},
             {"coalesced", s.coalesced},
             {"skipped", s.skipped},
             {"next_fire", nullptr},
             {"last_fire", nullptr}};
    if (auto n = next_of(s, now)) out["next_fire"] = time_text(*n);
    if (last) {
        out["last_fire"] = json{{"slot", time_text(last->slot)}, {"job_id", last->job_id}, {"fire", last->outcome},
                                {"job_status", last->job_status ? json(*last->job_status) : json(nullptr)}};
    }
    return out;
}

const std::string& name_arg(const wharf::config& cfg) {
    if (cfg.positional().size() < 2) throw usage_error("a schedule name is required; usage: " + std::string{usage});
    return cfg.positional()[1];
}

[[noreturn]] void no_such(const std::string& name) { throw failure("no schedule named '" + name + "'"); }

}  // namespace

boost::asio::awaitable<int> run_schedules(invocation inv) {
    const auto cfg = load_config(inv.args, specs);
    if (cfg.enabled("help") || cfg.positional().empty()) {
        print_help(usage,
                   "Schedules fire jobs onto queues by cron (wharf-scheduler runs them). list: each schedule with\n"
                   "its next fire, last fire and that job's status, and its missed/coalesced/skipped counts.\n"
                   "next: the next N fires (default 5). pause/resume: stop and restart firing (a resumed\n"
                   "schedule catches up by its catch-up policy). trigger: fire once now. apply: write the\n"
                   "schedules of a JSON file (an array, as the scheduler's `schedules` setting).",
                   specs);
        co_return cfg.enabled("help") ? exit_ok : exit_usage;
    }
    const auto& verb = cfg.positional()[0];
    const bool as_json = cfg.enabled("json");
    auto db = open_database(inv.executor, cfg);

    if (verb == "list") {
        expect_positionals(cfg, 1, usage);
        auto read = [](pqxx::connection& c) {
            std::vector<std::pair<ws::schedule_row, std::optional<ws::last_fire>>> out;
            for (auto& s : ws::load_schedules(c)) {
                auto last = ws::load_last_fire(c, s.def.name);
                out.emplace_back(std::move(s), std::move(last));
            }
            return std::make_pair(ws::database_now(c), std::move(out));
        };
        const auto listed = co_await db->run(std::move(read));
        json all = json::array();
        for (const auto& [s, last] : listed.second) all.push_back(schedule_json(s, last, listed.first));
        if (as_json) {
            std::cout << wharf::dump_json(all, 2) << "\n";
        } else if (all.empty()) {
            std::cout << "no schedules\n";
        } else {
            for (const auto& s : all) {
                std::cout << s["name"].get<std::string>() << "  " << s["cron"].get<std::string>() << " ("
                          << s["time_zone"].get<std::string>() << ") -> " << s["queue"].get<std::string>()
                          << (s["paused"].get<bool>() ? "  PAUSED" : "") << "\n    next "
                          << (s["next_fire"].is_null() ? std::string{"-"} : s["next_fire"].get<std::string>());
                if (!s["last_fire"].is_null()) {
                    const auto& l = s["last_fire"];
                    std::cout << "  last " << l["slot"].get<std::string>() << " " << l["job_id"].get<std::string>()
                              << " (" << (l["job_status"].is_null() ? l["fire"].get<std::string>()
                                                                     : l["job_status"].get<std::string>())
                              << ")";
                }
                std::cout << "  missed " << s["missed"] << ", coalesced " << s["coalesced"] << ", skipped "
                          << s["skipped"] << "\n";
            }
        }
        db->shutdown();
        co_return exit_ok;
    }
    if (verb == "next") {
        if (cfg.positional().size() > 3) throw usage_error("usage: " + std::string{usage});
        const auto name = name_arg(cfg);
        std::size_t n = 5;
        if (cfg.positional().size() == 3) {
            const auto& text = cfg.positional()[2];
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
            if (ec != std::errc{} || end != text.data() + text.size() || n < 1 || n > 1000)
                throw usage_error("next: N must be 1-1000");
        }
        auto read = [name](pqxx::connection& c) { return std::make_pair(ws::database_now(c), ws::load_schedule(c, name)); };
        const auto found = co_await db->run(std::move(read));
        db->shutdown();
        if (!found.second) no_such(name);
        const auto& s = *found.second;
        const auto expr = ws::cron::parse(s.def.cron);
        const auto& zone = ws::find_zone(s.def.time_zone);
        auto at = std::chrono::floor<std::chrono::seconds>(std::max(s.cursor, found.first));
        json fires = json::array();
        for (std::size_t i = 0; i < n; ++i) {
            const auto next = ws::next_fire(expr, zone, at);
            if (!next) break;
            fires.push_back(time_text(*next));
            at = *next;
        }
        if (as_json) {
            std::cout << wharf::dump_json(json{{"name", name}, {"next", fires}}, 2) << "\n";
        } else {
            for (const auto& f : fires) std::cout << f.get<std::string>() << "\n";
        }
        co_return exit_ok;
    }
    if (verb == "pause" || verb == "resume") {
        expect_positionals(cfg, 2, usage);
        const auto name = name_arg(cfg);
        const bool paused = verb == "pause";
        auto write = [name, paused](pqxx::connection& c) { return ws::set_paused(c, name, paused); };
        const bool found = co_await db->run(std::move(write));
        db->shutdown();
        if (!found) no_such(name);
        if (as_json) std::cout << wharf::dump_json(json{{"name", name}, {"paused", paused}}, 2) << "\n";
        else std::cout << name << (paused ? " paused\n" : " resumed\n");
        co_return exit_ok;
    }
    if (verb == "trigger") {
        expect_positionals(cfg, 2, usage);
        const auto name = name_arg(cfg);
        auto write = [name](pqxx::connection& c) { return ws::trigger(c, name); };
        const auto fired = co_await db->run(std::move(write), false);
        if (!fired) {
            db->shutdown();
            no_such(name);
        }
        // The fire is recorded; a scheduler completes it should this XADD fail.
        auto redis = open_redis(inv.executor, cfg);
        co_await ws::enqueue_fire(*redis, *fired);
        redis->close();
        auto mark = [f = *fired](pqxx::connection& c) { ws::mark_enqueued(c, f); };
        co_await db->run(std::move(mark));
        db->shutdown();
        if (as_json)
            std::cout << wharf::dump_json(json{{"name", name}, {"job_id", fired->job_id}, {"queue", fired->queue}}, 2) << "\n";
        else
            std::cout << "fired " << fired->job_id << " on " << fired->queue << "\n";
        co_return exit_ok;
    }
    if (verb == "apply") {
        expect_positionals(cfg, 2, usage);
        const auto& file = cfg.positional()[1];
        auto parsed = wharf::parse_json_file(file, {.max_bytes = 4 * 1024 * 1024, .max_depth = 32});
        if (!parsed) throw usage_error(file + ": " + parsed.error);
        std::vector<ws::definition> defs;
        try {
            defs = ws::parse_definitions(wharf::dump_json(parsed.value));
        } catch (const ws::definition_error& e) {
            throw usage_error(file + ": " + e.what());
        }
        const bool prune = cfg.enabled("prune");
        auto write = [defs = std::move(defs), prune](pqxx::connection& c) { return ws::apply_definitions(c, defs, prune); };
        const auto summary = co_await db->run(std::move(write), false);
        db->shutdown();
        if (as_json) {
            std::cout << wharf::dump_json(json{{"added", summary.added}, {"changed", summary.changed},
                                               {"unchanged", summary.unchanged}, {"removed", summary.removed}},
                                          2)
                      << "\n";
        } else {
            std::cout << summary.added.size() << " added, " << summary.changed.size() << " changed, "
                      << summary.unchanged.size() << " unchanged, " << summary.removed.size() << " removed\n";
        }
        co_return exit_ok;
    }
    throw usage_error("unknown subcommand '" + verb + "'; usage: " + std::string{usage});
}

}  // namespace wharfctl
