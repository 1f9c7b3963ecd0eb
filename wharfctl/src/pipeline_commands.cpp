// Pipeline and cancel commands: pipeline submit (a `pipeline` job, through enqueue), and cancel
// of a job or a whole pipeline.
#include "commands.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/pipeline/store.hpp"
#include "wharf/queue/operations.hpp"
#include "wharf/redis/connection.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace wharfctl {
namespace {

namespace p = wharf::pipeline;
using json = nlohmann::json;

constexpr std::string_view submit_usage =
    "wharfctl pipeline submit --source URL|/path|provider:key [--id ID] [--video-id V] [--renditions 360p,720p] "
    "[--fan-out] [--provider P] [--api-key KEY] [--json]";

constexpr wharf::option_spec submit_specs[] = {
    redis_url_option,
    database_url_option,
    {"source", "what to process: an http(s) URL, an absolute local path, or provider:key of a stored object"},
    {"source_sha256", "for a stored source: its SHA-256, if known (lets a duplicate finish at once)"},
    {"id", "the pipeline id (default: the stream entry id); its steps are <id>:<step>"},
    {"video_id", "outputs go under processed/<video-id>/ (default: the pipeline id)"},
    {"renditions", "comma-separated renditions (default: the transcode ladder)"},
    {"fan_out", "one transcode job per rendition", true},
    {"provider", "store everything on this provider"},
    {"api_key", "the tenant the pipeline belongs to"},
    {"payload", "the whole submission as JSON instead of the flags above"},
    json_option,
    help_option,
};

json submission_payload(const wharf::config& cfg) {
    if (auto text = cfg.get("payload")) {
        for (const char* flag : {"source", "video_id", "renditions", "fan_out", "provider", "source_sha256"})
            if (cfg.get(flag)) throw usage_error(std::string{"give --payload or --"} + flag + ", not both");
        auto parsed = wharf::parse_json(*text);
        if (!parsed) throw usage_error("--payload: not JSON: " + parsed.error);
        return std::move(parsed.value);
    }
    const auto source = cfg.get("source");
    if (!source) throw usage_error("--source is required (or --payload)");
    json payload = json::object();
    if (source->starts_with("http://") || source->starts_with("https://")) {
        payload["source"] = json{{"url", *source}};
    } else if (source->starts_with("/")) {
        payload["source"] = *source;
    } else if (const auto colon = source->find(':'); colon != std::string::npos && colon > 0) {
        json stored{{"provider", source->substr(0, colon)}, {"key", source->substr(colon + 1)}};
        if (auto sha = cfg.get("source_sha256")) stored["sha256"] = *sha;
        payload["source"] = std::move(stored);
    } else {
        throw usage_error("--source: an http(s) URL, an absolute path, or provider:key");
    }
    if (cfg.get("source_sha256") && !payload["source"].is_object())
        throw usage_error("--source-sha256 applies to a stored source (provider:key)");
    if (auto v = cfg.get("video_id")) payload["video_id"] = *v;
    if (auto r = cfg.get("renditions")) {
        json list = json::array();
        for (std::size_t at = 0; at <= r->size();) {
            auto comma = r->find(',', at);
            if (comma == std::string::npos) comma = r->size();
            if (comma > at) list.push_back(r->substr(at, comma - at));
            at = comma + 1;
        }
        payload["renditions"] = std::move(list);
    }
    if (cfg.enabled("fan_out")) payload["fan_out"] = true;
    if (auto prov = cfg.get("provider")) payload["provider"] = *prov;
    return payload;
}

constexpr std::string_view cancel_usage = "wharfctl cancel <id> [--queue Q] [--json]";
constexpr wharf::option_spec cancel_specs[] = {
    redis_url_option,
    database_url_option,
    {"queue", "the job's queue (needed when queues share the id, or before the job has a row)"},
    json_option,
    help_option,
};

}  // namespace

boost::asio::awaitable<int> run_pipeline(invocation inv) {
    if (inv.args.empty() || inv.args[0] == "--help") {
        std::cout << "usage: wharfctl pipeline submit ...    (wharfctl pipeline submit --help)\n"
                     "Submits a pipeline: download (or upload) -> transcode -> publish. Follow it with\n"
                     "`wharfctl status <id>`; stop it with `wharfctl cancel <id>`.\n";
        co_return inv.args.empty() ? exit_usage : exit_ok;
    }
    if (inv.args[0] != "submit") throw usage_error("unknown subcommand '" + inv.args[0] + "'; usage: " + std::string{submit_usage});
    std::vector<std::string> rest(inv.args.begin() + 1, inv.args.end());
    const auto cfg = load_config(rest, submit_specs);
    if (cfg.enabled("help")) {
        print_help(submit_usage,
                   "Enqueues a `pipeline` job. Its steps run as jobs of their own queues (download or\n"
                   "upload, transcode, publish) on whichever workers run those queues. The payload is\n"
                   "checked here as a worker checks it.",
                   submit_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 0, submit_usage);
    json payload = submission_payload(cfg);
    // Checked as the worker will check it, with the id the job will have (a default id is the
    // stream entry id, a valid pipeline id by construction).
    const auto id = cfg.get("id").value_or("1700000000000-0");
    auto checked = p::parse_spec(payload, id, cfg.get("api_key"));
    if (auto* why = std::get_if<std::string>(&checked)) throw usage_error(*why);

    // The rest is `wharfctl enqueue pipeline`.
    invocation enqueue{{"pipeline", "--payload", wharf::dump_json(payload)}, inv.executor};
    for (const char* flag : {"id", "api_key", "redis_url", "database_url"}) {
        if (auto v = cfg.get(flag)) {
            std::string name = flag;
            for (auto& c : name)
                if (c == '_') c = '-';
            enqueue.args.push_back("--" + name);
            enqueue.args.push_back(*v);
        }
    }
    if (cfg.enabled("json")) enqueue.args.push_back("--json");
    co_return co_await run_enqueue(std::move(enqueue));
}

boost::asio::awaitable<int> run_cancel(invocation inv) {
    const auto cfg = load_config(inv.args, cancel_specs);
    if (cfg.enabled("help")) {
        print_help(cancel_usage,
                   "Cancels a job: a running one is stopped by its worker within a couple of seconds (a\n"
                   "transcode's ffmpeg too), a queued one never starts; its status becomes cancelled. For a\n"
                   "pipeline, its running steps stop, no further step starts, and its temp objects are\n"
                   "removed. Exits 1 when the job already finished otherwise.",
                   cancel_specs);
        co_return exit_ok;
    }
    expect_positionals(cfg, 1, cancel_usage);
    const std::string id = cfg.positional()[0];
    auto queue = cfg.get("queue");
    auto db = open_database(inv.executor, cfg);
    std::vector<wharf::pg::job_row> rows;
    if (queue) {
        if (auto row = co_await wharf::pg::load_job(*db, *queue, id)) rows.push_back(std::move(*row));
    } else {
        rows = co_await wharf::pg::load_jobs_with_id(*db, id);
        if (rows.empty()) {
            db->shutdown();
            throw failure("no job with id " + id + " (give --queue to cancel a job that has no row yet)");
        }
        if (rows.size() > 1) {
            db->shutdown();
            std::string queues;
            for (const auto& r : rows) queues += (queues.empty() ? "" : ", ") + r.queue;
            throw usage_error("job id " + id + " is in several queues (" + queues + "): say which with --queue");
        }
        queue = rows.front().queue;
    }
    json out{{"queue", *queue}, {"id", id}};
    auto redis = open_redis(inv.executor, cfg);

    if (*queue == p::queue_name) {
        auto cancel = db->run([&id](pqxx::connection& c) { return p::cancel_pipeline(c, id); });
        const p::transition t = co_await std::move(cancel);
        if (t.known) {
            co_await p::apply(*redis, t);
            redis->close();
            db->shutdown();
            std::vector<std::string> stopping;
            for (const auto& s : t.cancel) stopping.push_back(s.job_id);
            out["pipeline"] = std::string{p::to_string(t.st.status)};
            out["stopping"] = stopping;
            if (!t.finished && t.st.status != p::pipeline_state::cancelled) {
                if (cfg.enabled("json")) std::cout << wharf::dump_json(out, 2) << "\n";
                throw failure("pipeline " + id + " already " + std::string{p::to_string(t.st.status)});
            }
            if (cfg.enabled("json")) {
                std::cout << wharf::dump_json(out, 2) << "\n";
            } else {
                std::cout << "cancelled pipeline " << id;
                if (!stopping.empty()) {
                    std::cout << "; stopping";
                    for (const auto& s : stopping) std::cout << " " << s;
                }
                std::cout << "\n";
            }
            co_return exit_ok;
        }
    }
    db->shutdown();
    if (!rows.empty() && wharf::pg::is_final(rows.front().status)) {
        redis->close();
        const auto status = wharf::pg::to_string(rows.front().status);
        if (rows.front().status == wharf::pg::job_status::cancelled) {
            std::cout << "job " << id << " of " << *queue << " is cancelled already\n";
            co_return exit_ok;
        }
        throw failure("job " + id + " of " + *queue + " already " + std::string{status});
    }
    wharf::queue::operations ops{*redis, *queue};
    co_await ops.request_cancel(id);
    redis->close();
    out["cancel"] = "asked";
    if (cfg.enabled("json")) {
        std::cout << wharf::dump_json(out, 2) << "\n";
    } else {
        std::cout << "cancel asked for job " << id << " of " << *queue << ": a running job stops within seconds, "
                  << "a queued one will not start\n";
    }
    co_return exit_ok;
}

}  // namespace wharfctl
