// Job commands: status (PostgreSQL's jobs table).
#include "commands.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/pipeline/store.hpp"

#include "wharf/core/duration.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

namespace wharfctl {
namespace {

using json = nlohmann::json;

constexpr std::string_view status_usage = "wharfctl status <id> [--queue Q] [--wait [--wait-timeout D]] [--json]";
constexpr wharf::option_spec queue_option{"queue", "the job's queue (needed when queues share the id)"};
constexpr wharf::option_spec wait_option{"wait", "wait until the job is over (succeeded, failed, dead or cancelled)", true};
constexpr wharf::option_spec wait_timeout_option{"wait_timeout", "give up waiting after this long (e.g. 30m; 0: never)",
                                                 false, "0"};
constexpr wharf::option_spec status_specs[] = {database_url_option, queue_option, wait_option, wait_timeout_option,
                                               json_option, help_option};
// How often --wait reads the row: one indexed read on one connection, so cheap for the database
// and for a machine that is busy with the job itself.
constexpr auto wait_poll_interval = std::chrono::milliseconds(100);

json optional_text(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// result and progress are stored JSON: embed them as JSON, or as text if they somehow are not.
json optional_json(const std::optional<std::string>& v) {
    if (!v) return nullptr;
    // Written by a worker, but read with limits all the same: a row is outside input to wharfctl.
    constexpr wharf::json_limits limits{.max_bytes = 64 * 1024 * 1024, .max_depth = 128};
    auto parsed = wharf::parse_json(*v, limits);
    return parsed ? std::move(parsed.value) : json(*v);
}

// The job's row: by (queue, id), or by id alone when it names one job.
boost::asio::awaitable<wharf::pg::job_row> load_one(wharf::pg::pool& db, const std::string& id,
                                                    const std::optional<std::string>& queue) {
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

}  // namespace

boost::asio::awaitable<int> run_status(invocation inv) {
    const auto cfg = load_config(inv.args, status_specs);
    if (cfg.enabled("help")) {
        print_help(status_usage,
                   "Shows a job's row in PostgreSQL: status, attempts, epoch (times it was taken),\n"
                   "last error, result, progress and timestamps. A job is its queue and its id; without\n"
                   "--queue the id must name one job. Exits 1 when there is no such job.\n"
                   "--wait reads the row every 100 ms until the job is over, then shows it; the exit\n"
                   "status is then 0 only if it succeeded (1 if it failed, died, was cancelled, or\n"
                   "--wait-timeout passed first). A script's \"submit, then wait\" without a poll loop.",
                   status_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, status_usage);
    const std::string id = cfg.positional()[0];
    const auto queue = cfg.get("queue");
    const bool wait = cfg.enabled("wait");
    const auto wait_timeout = wharf::parse_duration(cfg.get("wait_timeout").value_or("0"));
    if (!wait_timeout) throw usage_error("--wait-timeout: \"" + *cfg.get("wait_timeout") + "\" is not a duration (e.g. 30s, 10m)");
    auto db = open_database(inv.executor, cfg);
    auto loading = load_one(*db, id, queue);
    std::optional<wharf::pg::job_row> row = co_await std::move(loading);
    bool timed_out = false;
    if (wait) {
        const auto deadline = std::chrono::steady_clock::now() + *wait_timeout;
        boost::asio::steady_timer timer(inv.executor);
        while (!wharf::pg::is_final(row->status)) {
            if (wait_timeout->count() > 0 && std::chrono::steady_clock::now() >= deadline) {
                timed_out = true;
                break;
            }
            timer.expires_after(wait_poll_interval);
            co_await timer.async_wait(boost::asio::use_awaitable);
            auto again = load_one(*db, id, row->queue);
            row = co_await std::move(again);
        }
    }
    db->shutdown();
    // With --wait, the exit status says how the job ended: 0 only for succeeded.
    const int exit_status = !wait || row->status == wharf::pg::job_status::succeeded ? exit_ok : exit_failed;
    if (timed_out)
        std::cerr << "wharfctl: job " << id << " is still " << wharf::pg::to_string(row->status) << " after "
                  << cfg.get("wait_timeout").value_or("") << "\n";
    // A pipeline's steps, each with its own job's state.
    json steps = nullptr;
    if (row->queue == wharf::pipeline::queue_name) {
        auto db2 = open_database(inv.executor, cfg);
        auto load = db2->run([&id](pqxx::connection& c) { return wharf::pipeline::load_pipeline(c, id); });
        const auto pipeline = co_await std::move(load);
        if (pipeline) {
            steps = json::array();
            for (const auto& [name, st] : pipeline->steps) {
                json step{{"step", name}, {"queue", st.queue}, {"job", st.job_id},
                          {"status", std::string{wharf::pipeline::to_string(st.state)}}, {"progress", nullptr}};
                if (st.error) step["error"] = *st.error;
                auto job = co_await wharf::pg::load_job(*db2, st.queue, st.job_id);
                if (job) {
                    step["status"] = std::string{wharf::pg::to_string(job->status)};
                    step["progress"] = optional_json(job->progress_json);
                    step["attempts"] = job->attempts;
                }
                steps.push_back(std::move(step));
            }
        }
        db2->shutdown();
    }

    if (cfg.enabled("json")) {
        const json out{{"id", row->id},
                       {"queue", row->queue},
                       {"status", std::string{wharf::pg::to_string(row->status)}},
                       {"attempts", row->attempts},
                       {"max_attempts", row->max_attempts},
                       {"epoch", row->epoch},
                       {"error", optional_text(row->error)},
                       {"result", optional_json(row->result_json)},
                       {"progress", optional_json(row->progress_json)},
                       {"api_key", optional_text(row->api_key)},
                       {"parent_id", optional_text(row->parent_id)},
                       {"created_at", row->created_at},
                       {"updated_at", row->updated_at},
                       {"started_at", optional_text(row->started_at)},
                       {"finished_at", optional_text(row->finished_at)},
                       {"run_at", optional_text(row->run_at)},
                       {"steps", steps}};
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
