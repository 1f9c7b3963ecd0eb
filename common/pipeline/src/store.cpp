// The pipelines table and the mirror of a pipeline into its jobs row (see store.hpp).
#include "wharf/pipeline/store.hpp"

#include "wharf/core/json.hpp"
#include "wharf/queue/operations.hpp"

#include <pqxx/pqxx>

#include <stdexcept>

namespace wharf::pipeline {
namespace {

using json = nlohmann::json;

// Stored JSON is read back with limits like any outside input.
json parse_stored(const pqxx::field& f, const char* what) {
    if (f.is_null()) return json();
    auto parsed = parse_json(f.c_str(), {.max_bytes = 64 * 1024 * 1024, .max_depth = 64});
    if (!parsed) throw std::runtime_error(std::string{"pipelines."} + what + ": " + parsed.error);
    return std::move(parsed.value);
}

std::optional<state> load_locked(pqxx::work& tx, std::string_view id, bool lock) {
    const auto rows = tx.exec_params(std::string{"SELECT spec, steps, status, result, error FROM pipelines WHERE id = $1"} +
                                         (lock ? " FOR UPDATE" : ""),
                                     std::string(id));
    if (rows.empty()) return std::nullopt;
    state st;
    st.submission = spec_from_json(parse_stored(rows[0][0], "spec"));
    steps_from_json(st, parse_stored(rows[0][1], "steps"));
    const auto status = pipeline_state_from_string(rows[0][2].c_str());
    if (!status) throw std::runtime_error("pipelines.status holds an unknown value");
    st.status = *status;
    st.result = parse_stored(rows[0][3], "result");
    if (!rows[0][4].is_null()) st.error = rows[0][4].as<std::string>();
    return st;
}

std::optional<original> find_original(pqxx::work& tx, const state& st, const std::string& sha256) {
    const auto rows = tx.exec_params(
        "SELECT id, result FROM pipelines WHERE api_key IS NOT DISTINCT FROM $1 AND source_sha256 = $2 "
        "AND status = 'succeeded' AND id <> $3 ORDER BY finished_at, id LIMIT 1",
        st.submission.api_key ? st.submission.api_key->c_str() : nullptr, sha256, st.submission.id);
    if (rows.empty()) return std::nullopt;
    json result = parse_stored(rows[0][1], "result");
    // The original's own duplicate marks do not carry over.
    if (result.is_object()) {
        result.erase("duplicate");
        result.erase("original_pipeline");
    }
    return original{rows[0][0].as<std::string>(), std::move(result)};
}

std::string_view job_status_of(pipeline_state s) {
    switch (s) {
        case pipeline_state::running: return "waiting";
        case pipeline_state::succeeded: return "succeeded";
        case pipeline_state::failed: return "failed";
        case pipeline_state::cancelled: return "cancelled";
    }
    return "waiting";
}

// Writes the state, and mirrors it into the pipeline job's row: its progress always; its final
// status, result and error once the pipeline is over. The row may not exist yet (the submission's
// start is written in batches): then it is created, and the submission's own writes are fenced
// off by it when it is final already.
void save(pqxx::work& tx, const state& st, bool insert) {
    const std::string steps = dump_json(steps_to_json(st));
    const auto source_sha = st.source && st.source->sha256 ? st.source->sha256->c_str() : nullptr;
    const std::string result = st.result.is_null() ? std::string() : dump_json(st.result);
    const char* result_param = st.result.is_null() ? nullptr : result.c_str();
    const char* error_param = st.error ? st.error->c_str() : nullptr;
    const std::string status{to_string(st.status)};
    if (insert) {
        tx.exec_params(
            "INSERT INTO pipelines (id, api_key, video_id, status, spec, steps, source_sha256, result, error, "
            "finished_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8::jsonb, $9, "
            "CASE WHEN $4 <> 'running' THEN now() END)",
            st.submission.id, st.submission.api_key ? st.submission.api_key->c_str() : nullptr, st.submission.video_id,
            status, dump_json(to_json(st.submission)), steps, source_sha, result_param, error_param);
    } else {
        tx.exec_params(
            "UPDATE pipelines SET status = $2, steps = $3::jsonb, source_sha256 = COALESCE($4, source_sha256), "
            "result = $5::jsonb, error = $6, updated_at = now(), "
            "finished_at = CASE WHEN $2 <> 'running' THEN COALESCE(finished_at, now()) END WHERE id = $1",
            st.submission.id, status, steps, source_sha, result_param, error_param);
    }
    const bool final = is_final(st.status);
    tx.exec_params(
        R"sql(
INSERT INTO jobs AS j (id, queue, status, attempts, max_attempts, epoch, entry_ms, entry_seq, delivery, api_key,
                       payload, progress, result, error, finished_at)
VALUES ($1, $2, $3, 0, 1, 0, 0, 0, 0, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, CASE WHEN $9 THEN now() END)
ON CONFLICT (id, queue) DO UPDATE SET
    progress = EXCLUDED.progress, updated_at = now(),
    status = CASE WHEN $9 THEN EXCLUDED.status ELSE j.status END,
    result = CASE WHEN $9 THEN EXCLUDED.result ELSE j.result END,
    error = CASE WHEN $9 THEN EXCLUDED.error ELSE j.error END,
    finished_at = CASE WHEN $9 THEN now() ELSE j.finished_at END
WHERE j.status NOT IN ('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up')
)sql",
        st.submission.id, std::string{queue_name}, std::string{job_status_of(st.status)},
        st.submission.api_key ? st.submission.api_key->c_str() : nullptr, dump_json(to_json(st.submission)),
        dump_json(progress_json(st)), result_param, error_param, final);
}

transition make_transition(state st, const actions& a) {
    transition t;
    t.known = true;
    for (const step* s : a.enqueue) t.enqueue.push_back(*s);
    for (const step* s : a.cancel) t.cancel.push_back(*s);
    t.finished = a.finished;
    t.st = std::move(st);
    return t;
}

std::optional<step_state> step_state_of(std::string_view job_status) {
    if (job_status == "succeeded") return step_state::succeeded;
    if (job_status == "failed" || job_status == "dead" || job_status == "cleaned_up") return step_state::failed;
    if (job_status == "cancelled") return step_state::cancelled;
    return std::nullopt;
}

}  // namespace

transition submit(pqxx::connection& c, const spec& s) {
    pqxx::work tx(c, "pipeline_submit");
    // One submitter creates it; a second run of the same submission finds it.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('wharf-pipeline:' || $1))", s.id);
    if (auto existing = load_locked(tx, s.id, true)) {
        const actions a = pending_actions(*existing);
        auto t = make_transition(std::move(*existing), a);
        tx.commit();
        return t;
    }
    std::optional<original> duplicate;
    state probe;
    probe.submission = s;
    if (s.stored && s.stored->sha256) duplicate = find_original(tx, probe, *s.stored->sha256);
    state st = start(s, duplicate);
    save(tx, st, true);
    actions a = pending_actions(st);
    a.finished = is_final(st.status);
    auto t = make_transition(std::move(st), a);
    tx.commit();
    return t;
}

transition record_step_end(pqxx::connection& c, std::string_view pipeline_id, std::string_view queue,
                           std::string_view job_id, std::string_view job_status, const json& result,
                           const std::optional<std::string>& error) {
    const auto how = step_state_of(job_status);
    if (!how) return {};
    pqxx::work tx(c, "pipeline_step_end");
    auto st = load_locked(tx, pipeline_id, true);
    if (!st) return {};
    const auto name = step_of_job(*st, queue, job_id);
    if (!name) return {};
    std::optional<original> duplicate;
    if (auto sha = needs_duplicate_lookup(*st, *name, *how, result)) duplicate = find_original(tx, *st, *sha);
    const actions a = on_step_end(*st, *name, *how, result, error, duplicate);
    save(tx, *st, false);
    auto t = make_transition(std::move(*st), a);
    tx.commit();
    return t;
}

transition cancel_pipeline(pqxx::connection& c, std::string_view pipeline_id) {
    pqxx::work tx(c, "pipeline_cancel");
    auto st = load_locked(tx, pipeline_id, true);
    if (!st) return {};
    const actions a = cancel(*st);
    save(tx, *st, false);
    auto t = make_transition(std::move(*st), a);
    tx.commit();
    return t;
}

boost::asio::awaitable<void> apply(redis::connection& redis, const transition& t) {
    for (const auto& s : t.enqueue) {
        queue::envelope e;
        e.type = s.queue;
        e.payload_json = dump_json(s.payload);
        e.id = s.job_id;
        e.api_key = t.st.submission.api_key;
        e.parent_id = t.st.submission.id;
        queue::operations ops{redis, s.queue};
        auto add = ops.enqueue(e);
        co_await std::move(add);
    }
    for (const auto& s : t.cancel) {
        queue::operations ops{redis, s.queue};
        auto ask = ops.request_cancel(s.job_id);
        co_await std::move(ask);
    }
}

std::optional<state> load_pipeline(pqxx::connection& c, std::string_view pipeline_id) {
    pqxx::work tx(c, "pipeline_load");
    auto st = load_locked(tx, pipeline_id, false);
    tx.commit();
    return st;
}

}  // namespace wharf::pipeline
