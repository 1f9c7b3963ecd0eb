// wharf-api's routes: each checks its input (a 400 names the field), the key's scope (403), that
// the job is the key's tenant's (another tenant's job is the same 404 as a job that does not
// exist), then does what wharfctl would.
#include "service.hpp"

#include "rate_limit.hpp"
#include "replies.hpp"
#include "uploads.hpp"

#include "jobs/storing.hpp"
#include "router.hpp"

#include "wharf/core/duration.hpp"
#include "wharf/core/json.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/job_json.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/pipeline/plan.hpp"
#include "wharf/pipeline/store.hpp"
#include "wharf/producer/submit.hpp"
#include "wharf/queue/keys.hpp"
#include "wharf/queue/operations.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/storage/catalog.hpp"
#include "wharf/storage/registry.hpp"
#include "wharf/storage/stats_report.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <variant>

namespace wharf::api {

namespace {

using json = nlohmann::json;
using http::json_error;
using http::server_request;
using http::server_response;
using boost::asio::awaitable;

// Request bodies: JSON objects of at most this size and depth (the server refuses larger bodies
// before reading them).
constexpr json_limits body_limits{.max_bytes = 1 << 20, .max_depth = 32};

// The seed's file types (001) and the pipeline artifact each names.
constexpr std::string_view file_types[] = {"360p", "720p", "audio", "hls_360p", "hls_720p",
                                           "metadata", "original", "thumbnails"};

server_response not_found() { return json_error(404, "not_found", "no such job"); }

// A 400 naming the field.
struct bad_input {
    std::string field, message;
};

// The body as a JSON object.
std::variant<json, bad_input> body_object(const server_request& req) {
    if (req.body.empty()) return bad_input{"body", "a JSON object is required"};
    auto parsed = parse_json(req.body, body_limits);
    if (!parsed) return bad_input{"body", "not JSON: " + parsed.error};
    if (!parsed.value.is_object()) return bad_input{"body", "must be a JSON object"};
    return std::move(parsed.value);
}

// The tenant's job: by (queue, id) with ?queue=, else the only job of that id the tenant has.
struct found_job {
    std::optional<pg::job_row> row;
    std::optional<bad_input> ambiguous;
};
// Parameters by value: callers pass temporaries (req.query_param(...)), and a coroutine's
// reference parameters would dangle past its first suspension.
awaitable<found_job> tenant_job(service& s, const principal& who, std::string id, std::optional<std::string> queue) {
    found_job out;
    std::vector<pg::job_row> rows;
    if (queue) {
        if (!queue::valid_queue_name(*queue)) co_return out;
        auto loading = pg::load_job(s.db, *queue, id);
        if (auto row = co_await std::move(loading)) rows.push_back(std::move(*row));
    } else {
        auto loading = pg::load_jobs_with_id(s.db, id);
        rows = co_await std::move(loading);
    }
    std::erase_if(rows, [&](const pg::job_row& r) { return r.api_key != who.tenant; });
    if (rows.size() > 1) {
        out.ambiguous = bad_input{"queue", "several of your queues have a job with this id: give ?queue="};
        co_return out;
    }
    if (!rows.empty()) out.row = std::move(rows.front());
    co_return out;
}

// The envelope of a job a tenant enqueues: built as a producer would, then read back with the
// workers' own decoder, so the API accepts exactly what a worker accepts.
std::variant<queue::envelope, bad_input> envelope_from(const json& body, const std::string& queue,
                                                       const principal& who) {
    json doc{{"v", queue::envelope_version}, {"type", queue}, {"api_key", who.tenant}};
    doc["payload"] = body.contains("payload") ? body["payload"] : json::object();
    if (!doc["payload"].is_object()) return bad_input{"payload", "must be a JSON object"};
    if (body.contains("id")) doc["id"] = body["id"];
    if (body.contains("max_attempts")) doc["max_attempts"] = body["max_attempts"];
    if (body.contains("timeout")) {
        const auto& t = body["timeout"];
        const auto d = t.is_string() ? parse_duration(t.get<std::string>()) : std::nullopt;
        if (!d || d->count() <= 0) return bad_input{"timeout", "a duration such as \"60s\""};
        doc["timeout_s"] = (d->count() + 999) / 1000;
    }
    if (body.contains("delay") && body.contains("run_at")) return bad_input{"delay", "give delay or run_at, not both"};
    if (body.contains("delay")) {
        const auto& t = body["delay"];
        const auto d = t.is_string() ? parse_duration(t.get<std::string>()) : std::nullopt;
        if (!d || *d > std::chrono::hours(24 * 366)) return bad_input{"delay", "a duration of at most a year, e.g. \"30s\""};
        doc["run_at"] = queue::format_rfc3339(std::chrono::system_clock::now() + *d);
    } else if (body.contains("run_at")) {
        doc["run_at"] = body["run_at"];
    }
    auto decoded = queue::decode(dump_json(doc), queue);
    if (auto* bad = std::get_if<queue::decode_error>(&decoded)) {
        const auto colon = bad->reason.find(':');
        std::string field = colon == std::string::npos ? "body" : bad->reason.substr(0, colon);
        if (field == "timeout_s") field = "timeout";
        return bad_input{field, bad->reason};
    }
    return std::get<queue::envelope>(std::move(decoded));
}

awaitable<server_response> submit(service& s, queue::envelope e, std::string queue) {
    auto submitting = producer::submit(s.redis, &s.db, queue, std::move(e), "api");
    const auto done = co_await std::move(submitting);
    if (done.row_error) spdlog::warn("job {} of {} is enqueued, but its row was not written: {}", done.job_id, queue,
                                     *done.row_error);
    json out{{"id", done.job_id}, {"queue", queue}, {"status", "queued"}, {"entry_id", nullptr}, {"run_at", nullptr}};
    if (!done.entry_id.empty()) out["entry_id"] = done.entry_id;
    if (done.run_at) out["run_at"] = queue::format_rfc3339(*done.run_at);
    out["url"] = "/api/v1/jobs/" + done.job_id + "?queue=" + queue;
    co_return ok(std::move(out), 201);
}

awaitable<server_response> job_get(service& s, const principal& who, const server_request& req,
                                   const std::string& id) {
    auto finding = tenant_job(s, who, id, req.query_param("queue"));
    const auto found = co_await std::move(finding);
    if (found.ambiguous) co_return json_error(400, "ambiguous", found.ambiguous->message, found.ambiguous->field);
    if (!found.row) co_return not_found();
    co_return ok(pg::job_json(*found.row));
}

// Newest first, a page at a time: the cursor is the last row's (created_at, queue, id).
awaitable<server_response> job_list(service& s, const principal& who, const server_request& req) {
    const auto status = req.query_param("status");
    const auto queue_filter = req.query_param("queue");
    const auto limit_text = req.query_param("limit").value_or("50");
    int limit = 0;
    try {
        limit = std::stoi(limit_text);
    } catch (const std::exception&) {
        limit = 0;
    }
    if (limit < 1 || limit > 200) co_return json_error(400, "bad_input", "a number from 1 to 200", "limit");
    if (status && !pg::job_status_from_string(*status))
        co_return json_error(400, "bad_input", "not a job status", "status");
    if (queue_filter && !queue::valid_queue_name(*queue_filter))
        co_return json_error(400, "bad_input", "not a queue name", "queue");
    std::optional<std::array<std::string, 3>> after;
    if (auto cursor = req.query_param("cursor")) {
        auto parsed = parse_json(*cursor, json_limits{.max_bytes = 1024, .max_depth = 2});
        if (!parsed || !parsed.value.is_array() || parsed.value.size() != 3 ||
            !std::all_of(parsed.value.begin(), parsed.value.end(), [](const json& v) { return v.is_string(); }))
            co_return json_error(400, "bad_input", "not a cursor this API gave", "cursor");
        after = std::array<std::string, 3>{parsed.value[0].get<std::string>(), parsed.value[1].get<std::string>(),
                                           parsed.value[2].get<std::string>()};
    }
    auto listing = s.db.run([tenant = who.tenant, status, queue_filter, after, limit](pqxx::connection& c) {
        pqxx::read_transaction tx{c};
        const auto rows = tx.exec_params(
            "SELECT queue, id, created_at::text FROM jobs WHERE api_key = $1 "
            "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR queue = $3) "
            "AND ($4::timestamptz IS NULL OR (created_at, queue, id) < ($4::timestamptz, $5, $6)) "
            "ORDER BY created_at DESC, queue DESC, id DESC LIMIT $7",
            tenant, status, queue_filter, after ? std::optional<std::string>((*after)[0]) : std::nullopt,
            after ? (*after)[1] : std::string(), after ? (*after)[2] : std::string(), limit + 1);
        std::vector<std::array<std::string, 3>> out;
        for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
        return out;
    });
    auto keys = co_await std::move(listing);
    const bool more = keys.size() > static_cast<std::size_t>(limit);
    if (more) keys.resize(static_cast<std::size_t>(limit));
    std::vector<pg::job_key> wanted;
    for (const auto& k : keys) wanted.push_back({k[0], k[1]});
    auto loading = pg::load_jobs(s.db, wanted);
    auto rows = co_await std::move(loading);
    json jobs = json::array();
    for (const auto& k : keys) {  // in the listing's order
        const auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.queue == k[0] && r.id == k[1]; });
        if (it != rows.end()) jobs.push_back(pg::job_json(*it));
    }
    json out{{"jobs", std::move(jobs)}, {"next_cursor", nullptr}};
    if (more && !keys.empty()) out["next_cursor"] = json::array({keys.back()[2], keys.back()[0], keys.back()[1]}).dump();
    co_return ok(std::move(out));
}

awaitable<server_response> job_enqueue(service& s, const principal& who, const server_request& req) {
    auto body = body_object(req);
    if (auto* bad = std::get_if<bad_input>(&body)) co_return json_error(400, "bad_input", bad->message, bad->field);
    const auto& doc = std::get<json>(body);
    if (!doc.contains("queue") || !doc["queue"].is_string())
        co_return json_error(400, "bad_input", "the queue to run the job on is required", "queue");
    const std::string queue = doc["queue"].get<std::string>();
    if (std::find(s.options.queues.begin(), s.options.queues.end(), queue) == s.options.queues.end())
        co_return json_error(400, "bad_input", "not a queue this API takes jobs for", "queue");
    auto e = envelope_from(doc, queue, who);
    if (auto* bad = std::get_if<bad_input>(&e)) co_return json_error(400, "bad_input", bad->message, bad->field);
    co_return co_await submit(s, std::get<queue::envelope>(std::move(e)), queue);
}

awaitable<server_response> pipeline_submit(service& s, const principal& who, const server_request& req) {
    auto body = body_object(req);
    if (auto* bad = std::get_if<bad_input>(&body)) co_return json_error(400, "bad_input", bad->message, bad->field);
    json doc = std::get<json>(std::move(body));
    // From outside, a pipeline starts from a URL only (downloaded under the egress policy): a
    // path or a stored object would reach the workers' files or another tenant's objects.
    const auto& source = doc.contains("source") ? doc["source"] : json();
    if (!(source.is_string() || (source.is_object() && source.contains("url") && source["url"].is_string())))
        co_return json_error(400, "bad_input", "an http(s) URL, as a string or {\"url\": ...}", "source");
    const std::string url = source.is_string() ? source.get<std::string>() : source["url"].get<std::string>();
    if (!url.starts_with("http://") && !url.starts_with("https://"))
        co_return json_error(400, "bad_input", "an http(s) URL", "source");
    json payload = json::object();
    for (const auto& [k, v] : doc.items())
        if (k != "id" && k != "max_attempts" && k != "timeout") payload[k] = v;
    payload["source"] = source.is_string() ? json{{"url", url}} : source;
    const std::string id = doc.contains("id") && doc["id"].is_string() ? doc["id"].get<std::string>() : "1700000000000-0";
    auto checked = pipeline::parse_spec(payload, id, who.tenant);
    if (auto* why = std::get_if<std::string>(&checked)) co_return json_error(400, "bad_input", *why, "body");
    json envelope_doc{{"payload", std::move(payload)}};
    for (const char* k : {"id", "max_attempts", "timeout"})
        if (doc.contains(k)) envelope_doc[k] = doc[k];
    auto e = envelope_from(envelope_doc, std::string(pipeline::queue_name), who);
    if (auto* bad = std::get_if<bad_input>(&e)) co_return json_error(400, "bad_input", bad->message, bad->field);
    co_return co_await submit(s, std::get<queue::envelope>(std::move(e)), std::string(pipeline::queue_name));
}

awaitable<server_response> job_cancel(service& s, const principal& who, const server_request& req,
                                      const std::string& id) {
    auto finding = tenant_job(s, who, id, req.query_param("queue"));
    const auto found = co_await std::move(finding);
    if (found.ambiguous) co_return json_error(400, "ambiguous", found.ambiguous->message, found.ambiguous->field);
    if (!found.row) co_return not_found();
    const auto& row = *found.row;
    if (pg::is_final(row.status)) {
        auto r = json_error(409, "already_finished", "the job is " + std::string(pg::to_string(row.status)));
        co_return r;
    }
    if (row.queue == pipeline::queue_name) {
        auto cancelling = s.db.run([id](pqxx::connection& c) { return pipeline::cancel_pipeline(c, id); });
        const auto t = co_await std::move(cancelling);
        auto applying = pipeline::apply(s.redis, t);
        co_await std::move(applying);
    } else {
        queue::operations ops{s.redis, row.queue};
        auto asking = ops.request_cancel(id);
        co_await std::move(asking);
    }
    co_return ok(json{{"id", id}, {"queue", row.queue}, {"cancel_requested", true}}, 202);
}

awaitable<server_response> job_retry(service& s, const principal& who, const server_request& req,
                                     const std::string& id) {
    auto finding = tenant_job(s, who, id, req.query_param("queue"));
    const auto found = co_await std::move(finding);
    if (found.ambiguous) co_return json_error(400, "ambiguous", found.ambiguous->message, found.ambiguous->field);
    if (!found.row) co_return not_found();
    queue::operations ops{s.redis, found.row->queue};
    auto retrying = ops.dead_retry(id);
    const auto n = co_await std::move(retrying);
    if (n == 0) co_return json_error(409, "not_dead", "the job is not in its queue's dead letters");
    co_return ok(json{{"id", id}, {"queue", found.row->queue}, {"requeued", n}}, 202);
}

// One of a finished job's files as {url, size, sha256} (the URL from the presign cache), or why
// there is none.
std::variant<json, std::string> artifact_url(service& s, const json& result, const std::string& file_type,
                                             std::chrono::seconds expires) {
    const json* artifact = nullptr;
    if (result.is_object() && result.contains("artifacts") && result["artifacts"].is_object() &&
        result["artifacts"].contains(file_type))
        artifact = &result["artifacts"][file_type];
    if (!artifact || !artifact->is_object() || !artifact->contains("provider") || !artifact->contains("key") ||
        !(*artifact)["provider"].is_string() || !(*artifact)["key"].is_string())
        return "the job has no " + file_type + " file";
    auto* provider = s.storage.providers().find((*artifact)["provider"].get<std::string>());
    if (!provider) return "the job's " + file_type + " file is on a provider this API does not reach";
    const std::string key = (*artifact)["key"].get<std::string>();
    return json{{"url", s.storage.presigns().get(*provider, storage::http_method::get, key, expires)},
                {"size", artifact->value("size", json(nullptr))},
                {"sha256", artifact->value("sha256", json(nullptr))}};
}

// Bulk download (the seed's): presigned URLs for every file (or the named file types) of up to
// 100 of the tenant's jobs, as one manifest; a job that is missing, not completed or ambiguous
// gets its error in the manifest instead of failing the others.
awaitable<server_response> jobs_downloads(service& s, const principal& who, const server_request& req) {
    auto body = body_object(req);
    if (auto* bad = std::get_if<bad_input>(&body)) co_return json_error(400, "bad_input", bad->message, bad->field);
    const auto& doc = std::get<json>(body);
    if (!doc.contains("ids") || !doc["ids"].is_array() || doc["ids"].empty() || doc["ids"].size() > 100 ||
        !std::all_of(doc["ids"].begin(), doc["ids"].end(), [](const json& v) { return v.is_string(); }))
        co_return json_error(400, "bad_input", "1 to 100 job ids", "ids");
    std::vector<std::string> wanted(std::begin(file_types), std::end(file_types));
    if (doc.contains("file_types")) {
        const auto& f = doc["file_types"];
        if (!f.is_array() || f.empty() || !std::all_of(f.begin(), f.end(), [](const json& v) {
                return v.is_string() &&
                       std::find(std::begin(file_types), std::end(file_types), v.get<std::string>()) != std::end(file_types);
            }))
            co_return json_error(400, "bad_input",
                                 "a list of 360p, 720p, audio, hls_360p, hls_720p, metadata, original, thumbnails",
                                 "file_types");
        wanted = f.get<std::vector<std::string>>();
    }
    std::chrono::seconds expires = s.options.default_url_expiry;
    if (doc.contains("expires")) {
        if (!doc["expires"].is_number_unsigned() || doc["expires"].get<std::uint64_t>() < 60 ||
            doc["expires"].get<std::uint64_t>() > 604800)
            co_return json_error(400, "bad_input", url_expiry_rule, "expires");
        expires = std::chrono::seconds(doc["expires"].get<std::int64_t>());
    }
    std::optional<std::string> queue_name;
    if (doc.contains("queue")) {
        if (!doc["queue"].is_string()) co_return json_error(400, "bad_input", "a queue name", "queue");
        queue_name = doc["queue"].get<std::string>();
    }
    json jobs = json::array();
    for (const auto& id_value : doc["ids"]) {
        const auto id = id_value.get<std::string>();
        auto finding = tenant_job(s, who, id, queue_name);
        const auto found = co_await std::move(finding);
        json entry{{"id", id}};
        if (found.ambiguous) {
            entry["error"] = {{"code", "ambiguous"}, {"message", found.ambiguous->message}};
        } else if (!found.row) {
            entry["error"] = {{"code", "not_found"}, {"message", "no such job"}};
        } else if (found.row->status != pg::job_status::succeeded) {
            entry["queue"] = found.row->queue;
            entry["error"] = {{"code", "not_completed"},
                              {"message", "the job is " + std::string(pg::to_string(found.row->status)) + ", not completed"}};
        } else {
            entry["queue"] = found.row->queue;
            entry["files"] = json::object();
            const json result = pg::stored_json(found.row->result_json);
            for (const auto& type : wanted) {
                auto file = artifact_url(s, result, type, expires);
                if (auto* url = std::get_if<json>(&file)) entry["files"][type] = std::move(*url);
            }
        }
        jobs.push_back(std::move(entry));
    }
    co_return ok(json{{"expires_in", expires.count()},
                      {"expires_at", queue::format_rfc3339(std::chrono::system_clock::now() + expires)},
                      {"jobs", std::move(jobs)}});
}

awaitable<server_response> job_download(service& s, const principal& who, const server_request& req,
                                        const std::string& id, const std::string& file_type) {
    if (std::find(std::begin(file_types), std::end(file_types), file_type) == std::end(file_types))
        co_return json_error(400, "bad_input",
                             "one of 360p, 720p, audio, hls_360p, hls_720p, metadata, original, thumbnails",
                             "file_type");
    const auto expiry = url_expiry(req, s.options.default_url_expiry);
    if (!expiry) co_return json_error(400, "bad_input", url_expiry_rule, "expires");
    const auto expires = *expiry;
    auto finding = tenant_job(s, who, id, req.query_param("queue"));
    const auto found = co_await std::move(finding);
    if (found.ambiguous) co_return json_error(400, "ambiguous", found.ambiguous->message, found.ambiguous->field);
    if (!found.row) co_return not_found();
    if (found.row->status != pg::job_status::succeeded) {
        auto r = json_error(400, "not_completed",
                            "the job is " + std::string(pg::to_string(found.row->status)) + ", not completed");
        co_return r;
    }
    const json result = pg::stored_json(found.row->result_json);
    auto file = artifact_url(s, result, file_type, expires);
    if (auto* missing = std::get_if<std::string>(&file)) co_return json_error(404, "no_such_file", *missing);
    json out = std::get<json>(std::move(file));
    const auto expires_at = std::chrono::system_clock::now() + expires;
    out.update(json{{"id", id},
                    {"file_type", file_type},
                    {"expires_in", expires.count()},
                    {"expires_at", queue::format_rfc3339(expires_at)}});
    co_return ok(std::move(out));
}

awaitable<server_response> storage_stats(service& s) {
    auto loading = s.db.run([](pqxx::connection& c) { return storage::load_stats(c); });
    auto rows = co_await std::move(loading);
    co_return ok(storage::stats_report(std::move(rows), s.storage.providers().configs()));
}

awaitable<server_response> usage(service& s, const principal& who) {
    auto loading = s.db.run([tenant = who.tenant](pqxx::connection& c) { return storage::load_api_key(c, tenant); });
    const auto u = co_await std::move(loading);
    json out{{"tenant", who.tenant}, {"used_bytes", 0}, {"file_count", 0}, {"quota_bytes", nullptr},
             {"available_bytes", nullptr}};
    if (u) {
        out["used_bytes"] = u->used_bytes;
        out["file_count"] = u->file_count;
        if (u->quota_bytes) {
            out["quota_bytes"] = *u->quota_bytes;
            out["available_bytes"] = *u->quota_bytes > u->used_bytes ? *u->quota_bytes - u->used_bytes : 0;
        }
    }
    co_return ok(std::move(out));
}

const char* scope_of(route_id id) {
    switch (id) {
    case route_id::job_get:
    case route_id::job_list: return "jobs:read";
    case route_id::job_enqueue:
    case route_id::pipeline_submit:
    case route_id::job_cancel:
    case route_id::job_retry: return "jobs:write";
    case route_id::job_download:
    case route_id::jobs_downloads:
    case route_id::storage_stats:
    case route_id::usage:
    case route_id::upload_get:
    case route_id::presign_cache_stats: return "storage:read";
    case route_id::upload_create:
    case route_id::upload_presign:
    case route_id::upload_complete:
    case route_id::upload_permanent:
    case route_id::upload_delete:
    case route_id::uploads_cleanup:
    case route_id::presign_cache_clear: return "storage:write";
    case route_id::health: return nullptr;
    }
    return "admin";
}

awaitable<server_response> dispatch(service& s, server_request& req) {
    const auto routed = route(req.method, req.path);
    if (!routed.match) {
        if (!routed.bad_param.empty())
            co_return json_error(400, "bad_input", "not a valid path segment", routed.bad_param);
        if (!routed.allowed.empty()) {
            std::string allow;
            for (const auto& m : routed.allowed) allow += (allow.empty() ? "" : ", ") + m;
            auto r = json_error(405, "method_not_allowed", "use " + allow);
            r.headers.emplace_back("Allow", allow);
            co_return r;
        }
        co_return json_error(404, "no_route", "no such endpoint");
    }
    const auto& m = *routed.match;
    server_response res;
    if (m.id == route_id::health) {
        res = ok(json{{"status", "ok"}});
        res.route = m.name;
        co_return res;
    }
    auto checking = s.auth.check(req.header("Authorization"), req.header("X-API-Key"));
    const auto who = co_await std::move(checking);
    if (!who) {
        // One answer for a missing, malformed, unknown or revoked key.
        res = json_error(401, "unauthorized", "a valid API key is required");
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        res.route = m.name;
        co_return res;
    }
    if (const char* scope = scope_of(m.id); scope && !who->may(scope)) {
        res = json_error(403, "forbidden", std::string("this key lacks the ") + scope + " scope");
        res.route = m.name;
        co_return res;
    }
    auto taking = take(s.redis, who->prefix, who->rate_per_second);
    const auto allowed = co_await std::move(taking);
    if (!allowed.allowed) {
        res = json_error(429, "rate_limited", "too many requests for this key");
        res.headers.emplace_back("Retry-After", std::to_string(allowed.retry_after_s));
        res.route = m.name;
        co_return res;
    }
    const std::string id = m.params.contains("id") ? m.params.at("id") : std::string();
    const std::string file_type = m.params.contains("file_type") ? m.params.at("file_type") : std::string();
    // Each handler's awaitable is named before it is awaited (GCC 12 and temporaries in co_await).
    switch (m.id) {
    case route_id::job_get: {
        auto a = job_get(s, *who, req, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::job_list: {
        auto a = job_list(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::job_enqueue: {
        auto a = job_enqueue(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::pipeline_submit: {
        auto a = pipeline_submit(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::job_cancel: {
        auto a = job_cancel(s, *who, req, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::job_retry: {
        auto a = job_retry(s, *who, req, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::job_download: {
        auto a = job_download(s, *who, req, id, file_type);
        res = co_await std::move(a);
        break;
    }
    case route_id::jobs_downloads: {
        auto a = jobs_downloads(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::storage_stats: {
        auto a = storage_stats(s);
        res = co_await std::move(a);
        break;
    }
    case route_id::usage: {
        auto a = usage(s, *who);
        res = co_await std::move(a);
        break;
    }
    case route_id::upload_create: {
        auto a = upload_create(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::upload_presign: {
        auto a = upload_presign(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::upload_complete: {
        auto a = upload_complete(s, *who, req, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::upload_get: {
        auto a = upload_get(s, *who, req, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::upload_permanent: {
        auto a = upload_make_permanent(s, *who, req, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::upload_delete: {
        auto a = upload_delete(s, *who, id);
        res = co_await std::move(a);
        break;
    }
    case route_id::uploads_cleanup: {
        auto a = uploads_cleanup(s, *who, req);
        res = co_await std::move(a);
        break;
    }
    case route_id::presign_cache_stats: res = presign_cache_stats(s); break;
    case route_id::presign_cache_clear: res = presign_cache_clear(s); break;
    case route_id::health: break;
    }
    res.route = m.name;
    co_return res;
}

}  // namespace

awaitable<server_response> handle(service& s, server_request& req) {
    auto dispatching = dispatch(s, req);
    auto res = co_await std::move(dispatching);
    if (res.route.empty()) res.route = "unmatched";
    // The access log: the request id a client sees in X-Request-Id (its query is left out).
    spdlog::info("request {} {} {} -> {} ({})", req.request_id, req.method, redact(req.path), res.status, res.route);
    co_return res;
}

}  // namespace wharf::api
