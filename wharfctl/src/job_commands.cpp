// Job commands: status (PostgreSQL's jobs table).
#include "commands.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/pipeline/store.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace wharfctl {
namespace {

using json = nlohmann::json;

constexpr std::string_view status_usage = "wharfctl status <id> [--queue Q] [--json]";
constexpr wharf::option_spec queue_option{"queue", "the job's queue (needed when queues share the id)"};
constexpr wharf::option_spec status_specs[] = {database_url_option, queue_option, json_option, help_option};

json optional_text(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// result and progress are stored JSON: embed them as JSON, or as text if they somehow are not.
json optional_json(const std::optional<std::string>& v) {
    if (!v) return nullptr;
    // Written by a worker, but read with limits all the same: a row is outside input to wharfctl.
    constexpr wharf::json_limits limits{.max_bytes = 64 * 1024 * 1024, .max_depth = 128};
    auto parsed = wharf::parse_json(*v, limits);
    return parsed ? std::move(parsed.value) : json(*v);
}

}  // namespace

boost::asio::awaitable<int> run_status(invocation inv) {
    const auto cfg = load_config(inv.args, status_specs);
    if (cfg.enabled("help")) {
        print_help(status_usage,
                   "Shows a job's row in PostgreSQL: status, attempts, epoch (times it was taken),\n"
                   "last error, result, progress and timestamps. A job is its queue and its id; without\n"
                   "--queue the id must name one job. Exits 1 when there is no such job.",
                   status_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, status_usage);
    const std::string id = cfg.positional()[0];
    const auto queue = cfg.get("queue");
    auto db = open_database(inv.executor, cfg);
    std::optional<wharf::pg::job_row> row;
    if (queue) {
        row = co_await wharf::pg::load_job(*db, *queue, id);
        db->shutdown();
        if (!row) throw failure("no job with id " + id + " in queue " + *queue);
    } else {
        auto rows = co_await wharf::pg::load_jobs_with_id(*db, id);
        db->shutdown();
        if (rows.empty()) throw failure("no job with id " + id);
        if (rows.size() > 1) {
            std::string queues;
            for (const auto& r : rows) queues += (queues.empty() ? "" : ", ") + r.queue;
            throw usage_error("job id " + id + " is in several queues (" + queues + "): say which with --queue");
        }
        row = std::move(rows.front());
    }
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
        co_return exit_ok;
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
    co_return exit_ok;
}

}  // namespace wharfctl
