// Job commands: status (PostgreSQL's jobs table).
#include "commands.hpp"
#include "progress_view.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/job_json.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/pipeline/store.hpp"

#include "wharf/core/duration.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

namespace wharfctl {
namespace {

using json = nlohmann::json;

constexpr std::string_view status_usage =
    "wharfctl status <id> [--queue Q] [--wait | --watch] [--wait-timeout D] [--json]";
constexpr wharf::option_spec queue_option{"queue", "the job's queue (needed when queues share the id)"};
constexpr wharf::option_spec wait_option{"wait", "wait until the job is over (succeeded, failed, dead or cancelled)", true};
constexpr wharf::option_spec wait_timeout_option{"wait_timeout", "give up waiting after this long (e.g. 30m; 0: never)",
                                                 false, "0"};
constexpr wharf::option_spec watch_option{
    "watch", "redraw the job's progress (and a pipeline's steps) until it is over; exits like --wait", true};
constexpr wharf::option_spec status_specs[] = {database_url_option, queue_option, wait_option, watch_option,
                                               wait_timeout_option, json_option, help_option};
// --wait and --watch exit with the outcome: 0 succeeded, 1 failed, dead or cleaned up,
// 4 cancelled, 5 still not over when --wait-timeout passed.
constexpr int exit_cancelled = 4;
constexpr int exit_still_running = 5;
// How often --wait reads the row: one indexed read on one connection, so cheap for the database
// and for a machine that is busy with the job itself.
constexpr auto wait_poll_interval = std::chrono::milliseconds(100);

json optional_json(const std::optional<std::string>& v) { return wharf::pg::stored_json(v); }

// The job's row: by (queue, id), or by id alone when it names one job.
// By value: a coroutine's reference parameters outlive nothing (`row->queue` converts to a
// temporary optional that is gone before the first co_await).
boost::asio::awaitable<wharf::pg::job_row> load_one(wharf::pg::pool& db, std::string id,
                                                    std::optional<std::string> queue) {
    if (queue) {
        auto loading = wharf::pg::load_job(db, *queue, id);
        auto row = co_await std::move(loading);
        if (!row) throw failure("no job with id " + id + " in queue " + *queue);
        co_return std::move(*row);
    }
    auto loading = wharf::pg::load_jobs_with_id(db, id);
    auto rows = co_await std::move(loading);
    if (rows.empty()) throw failure("no job with id " + id);
    if (rows.size() > 1) {
        std::string queues;
        for (const auto& r : rows) queues += (queues.empty() ? "" : ", ") + r.queue;
        throw usage_error("job id " + id + " is in several queues (" + queues + "): say which with --queue");
    }
    co_return std::move(rows.front());
}

// A pipeline's steps, each with its own job's state (null for a job that is not a pipeline).
boost::asio::awaitable<json> load_steps(wharf::pg::pool& db, const wharf::pg::job_row& row) {
    if (row.queue != wharf::pipeline::queue_name) co_return nullptr;
    const std::string id = row.id;
    auto load = db.run([&id](pqxx::connection& c) { return wharf::pipeline::load_pipeline(c, id); });
    const auto pipeline = co_await std::move(load);
    if (!pipeline) co_return nullptr;
    json steps = json::array();
    for (const auto& [name, st] : pipeline->steps) {
        json step{{"step", name}, {"queue", st.queue}, {"job", st.job_id},
                  {"status", std::string{wharf::pipeline::to_string(st.state)}}, {"progress", nullptr}};
        if (st.error) step["error"] = *st.error;
        auto loading = wharf::pg::load_job(db, st.queue, st.job_id);
        auto job = co_await std::move(loading);
        if (job) {
            step["status"] = std::string{wharf::pg::to_string(job->status)};
            step["progress"] = optional_json(job->progress_json);
            step["attempts"] = job->attempts;
        }
        steps.push_back(std::move(step));
    }
    co_return steps;
}

int outcome_exit(wharf::pg::job_status s) {
    using st = wharf::pg::job_status;
    if (s == st::succeeded) return exit_ok;
    if (s == st::cancelled) return exit_cancelled;
    return exit_failed;
}

// --watch's block: the job's line, then a pipeline's steps.
std::vector<std::string> watch_lines(const wharf::pg::job_row& row, const json& steps,
                                     std::map<std::string, std::optional<progress_sample>>& samples,
                                     const display& d) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::string> lines;
    std::string head = row.id + " (" + row.queue + ")  " + status_word(std::string{wharf::pg::to_string(row.status)}, d) +
                       "  attempt " + std::to_string(row.attempts) + "/" + std::to_string(row.max_attempts);
    if (row.progress_json && !wharf::pg::is_final(row.status)) {
        const auto text = describe_progress(optional_json(row.progress_json), samples[row.queue + "/" + row.id], now, d);
        if (!text.empty()) head += "  " + text;
    }
    lines.push_back(std::move(head));
    if (steps.is_array()) {
        for (const auto& st : steps) {
            std::string l = "  " + st["step"].get<std::string>();
            l.resize(std::max<std::size_t>(l.size() + 1, 14), ' ');
            const std::string status = st["status"].get<std::string>();
            l += status_word(status, d);
            if (st.contains("error")) {
                l += "  " + st["error"].get<std::string>();
            } else if (!st["progress"].is_null() && status == "running") {
                const auto key = st["queue"].get<std::string>() + "/" + st["job"].get<std::string>();
                const auto text = describe_progress(st["progress"], samples[key], now, d);
                if (!text.empty()) l += "  " + text;
            }
            lines.push_back(std::move(l));
        }
    }
    return lines;
}

}  // namespace

boost::asio::awaitable<int> run_status(invocation inv) {
    const auto cfg = load_config(inv.args, status_specs);
    if (cfg.enabled("help")) {
        print_help(status_usage,
                   "Shows a job's row in PostgreSQL: status, attempts, epoch (times it was taken),\n"
                   "last error, result, progress and timestamps. A job is its queue and its id; without\n"
                   "--queue the id must name one job. Exits 1 when there is no such job.\n"
                   "--wait reads the row every 100 ms until the job is over, then shows it; the exit\n"
                   "status then tells the outcome: 0 succeeded, 1 failed, dead or cleaned up,\n"
                   "4 cancelled, 5 --wait-timeout passed first. A script's \"submit, then wait\".\n"
                   "--watch redraws the job's progress (bytes, rate and ETA of transfers; percent, fps\n"
                   "and speed of transcodes; a pipeline's steps) until it is over, and exits the same\n"
                   "way. Bars only on a terminal, plain lines when it changes otherwise; NO_COLOR honoured.",
                   status_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, status_usage);
    const std::string id = cfg.positional()[0];
    const auto queue = cfg.get("queue");
    const bool watch = cfg.enabled("watch");
    const bool wait = cfg.enabled("wait") || watch;
    if (watch && cfg.enabled("json")) throw usage_error("--watch draws for a person; use --wait --json for a script");
    const auto wait_timeout = wharf::parse_duration(cfg.get("wait_timeout").value_or("0"));
    if (!wait_timeout) throw usage_error("--wait-timeout: \"" + *cfg.get("wait_timeout") + "\" is not a duration (e.g. 30s, 10m)");
    auto db = open_database(inv.executor, cfg);
    auto loading = load_one(*db, id, queue);
    std::optional<wharf::pg::job_row> row = co_await std::move(loading);
    bool timed_out = false;
    json steps = nullptr;
    if (wait) {
        const auto deadline = std::chrono::steady_clock::now() + *wait_timeout;
        boost::asio::steady_timer timer(inv.executor);
        const display d = display::for_stdout();
        std::map<std::string, std::optional<progress_sample>> samples;
        std::size_t drawn = 0;             // lines of the last frame (terminal)
        std::string last_plain;            // the last block printed (plain)
        auto last_plain_at = std::chrono::steady_clock::time_point{};
        for (;;) {
            if (watch) {
                auto loading_steps = load_steps(*db, *row);
                steps = co_await std::move(loading_steps);
                const auto lines = watch_lines(*row, steps, samples, d);
                std::string block;
                for (const auto& l : lines) block += l + "\n";
                if (d.tty) {
                    // Back to the top of the last frame, clear to the end, draw.
                    if (drawn > 0) std::cout << "\x1b[" << drawn << "F\x1b[J";
                    std::cout << block << std::flush;
                    drawn = lines.size();
                } else {
                    // Plain: a block when the state changes, or every 5 s while it runs.
                    const auto now = std::chrono::steady_clock::now();
                    std::string state{wharf::pg::to_string(row->status)};
                    if (row->progress_json) state += "|" + optional_json(row->progress_json).value("phase", std::string());
                    if (steps.is_array())
                        for (const auto& st : steps) state += "|" + st["status"].get<std::string>();
                    if (state != last_plain || now - last_plain_at >= std::chrono::seconds(5)) {
                        std::cout << block << std::flush;
                        last_plain = state;
                        last_plain_at = now;
                    }
                }
            }
            if (wharf::pg::is_final(row->status)) break;
            if (wait_timeout->count() > 0 && std::chrono::steady_clock::now() >= deadline) {
                timed_out = true;
                break;
            }
            timer.expires_after(watch ? std::chrono::milliseconds(500) : wait_poll_interval);
            co_await timer.async_wait(boost::asio::use_awaitable);
            auto again = load_one(*db, id, row->queue);
            row = co_await std::move(again);
        }
    }
    if (!watch) {
        auto loading_steps = load_steps(*db, *row);
        steps = co_await std::move(loading_steps);
    }
    db->shutdown();
    // With --wait or --watch, the exit status says how the job ended.
    const int exit_status = !wait ? exit_ok : timed_out ? exit_still_running : outcome_exit(row->status);
    if (timed_out)
        std::cerr << "wharfctl: job " << id << " is still " << wharf::pg::to_string(row->status) << " after "
                  << cfg.get("wait_timeout").value_or("") << "\n";
    if (watch) {
        if (row->error) std::cout << "error: " << *row->error << "\n";
        co_return exit_status;
    }

    if (cfg.enabled("json")) {
        json out = wharf::pg::job_json(*row);
        out["steps"] = steps;
        std::cout << wharf::dump_json(out, 2) << "\n";
        co_return exit_status;
    }
    auto line = [](std::string_view label, std::string_view value) {
        std::string l{label};
        l.resize(13, ' ');
        std::cout << l << value << "\n";
    };
    line("id:", row->id);
    line("queue:", row->queue);
    line("status:", wharf::pg::to_string(row->status));
    line("attempts:", std::to_string(row->attempts) + " of " + std::to_string(row->max_attempts));
    line("epoch:", std::to_string(row->epoch));
    if (row->error) line("error:", *row->error);
    if (row->result_json) {
        // A pipeline's result lists every artifact: --json has it whole.
        if (row->result_json->size() <= 400) line("result:", *row->result_json);
        else line("result:", std::to_string(row->result_json->size()) + " bytes of JSON (--json shows it)");
    }
    if (row->progress_json) line("progress:", *row->progress_json);
    if (row->api_key) line("api key:", *row->api_key);
    if (row->parent_id) line("parent:", *row->parent_id);
    line("created:", row->created_at);
    line("updated:", row->updated_at);
    if (row->run_at) line("run at:", *row->run_at);
    if (row->started_at) line("started:", *row->started_at);
    if (row->finished_at) line("finished:", *row->finished_at);
    if (steps.is_array()) {
        std::cout << "steps:\n";
        for (const auto& st : steps) {
            std::string l = "  " + st["step"].get<std::string>();
            l.resize(22, ' ');
            l += st["status"].get<std::string>();
            l.resize(34, ' ');
            l += st["queue"].get<std::string>() + " job " + st["job"].get<std::string>();
            if (st.contains("error")) l += "  (" + st["error"].get<std::string>() + ")";
            else if (!st["progress"].is_null()) l += "  " + wharf::dump_json(st["progress"]);
            std::cout << l << "\n";
        }
    }
    co_return exit_status;
}

}  // namespace wharfctl
