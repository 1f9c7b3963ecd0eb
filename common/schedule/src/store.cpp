#include "wharf/schedule/store.hpp"

#include "wharf/core/json.hpp"
#include "wharf/pg/job_state.hpp"
#include "wharf/queue/envelope.hpp"
#include "wharf/queue/operations.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace wharf::schedule {
namespace {

using std::chrono::microseconds;

// Timestamps cross as whole microseconds since the epoch, so a compare-and-set on a cursor is exact.
constexpr const char* micros_of = "(extract(epoch from {}) * 1000000)::bigint";
std::string micros_sql(std::string_view column) { return fmt::format(micros_of, column); }
constexpr const char* from_micros = "('epoch'::timestamptz + ${}::bigint * interval '1 microsecond')";
std::string at_sql(int param) { return fmt::format(from_micros, param); }

micros to_micros(const pqxx::field& f) { return micros{microseconds{f.as<std::int64_t>()}}; }
std::int64_t count(micros t) { return t.time_since_epoch().count(); }

const std::string schedule_columns = fmt::format(
    "name, cron, time_zone, queue, payload::text, api_key, max_attempts, timeout_s, overlap, catch_up, "
    "catch_up_window_s, jitter_s, paused, {}, missed, coalesced, skipped ",
    micros_sql("cursor"));

schedule_row row_of(const pqxx::row& r) {
    schedule_row s;
    auto& d = s.def;
    d.name = r[0].as<std::string>();
    d.cron = r[1].as<std::string>();
    d.time_zone = r[2].as<std::string>();
    d.queue = r[3].as<std::string>();
    d.payload_json = r[4].as<std::string>();
    if (!r[5].is_null()) d.api_key = r[5].as<std::string>();
    if (!r[6].is_null()) d.max_attempts = r[6].as<std::int32_t>();
    if (!r[7].is_null()) d.timeout_s = r[7].as<std::int32_t>();
    d.overlap = r[8].as<std::string>() == "allow" ? overlap::allow : overlap::skip;
    d.mode = r[9].as<std::string>() == "all" ? catch_up::all : catch_up::latest;
    d.window = std::chrono::seconds{r[10].as<std::int64_t>()};
    d.jitter = std::chrono::seconds{r[11].as<std::int64_t>()};
    d.paused = r[12].as<bool>();
    s.cursor = to_micros(r[13]);
    s.missed = r[14].as<std::int64_t>();
    s.coalesced = r[15].as<std::int64_t>();
    s.skipped = r[16].as<std::int64_t>();
    return s;
}

std::optional<std::int32_t> opt_int(const std::optional<std::int32_t>& v) { return v; }

// Whether the schedule's latest fire has not ended: still pending, or its job not final.
bool previous_run_open(pqxx::transaction_base& tx, const std::string& name) {
    const auto r = tx.exec_params(R"sql(
SELECT f.outcome, j.status FROM schedule_fires f
LEFT JOIN jobs j ON j.id = f.job_id AND j.queue = f.queue
WHERE f.schedule = $1 AND f.outcome <> 'skipped'
ORDER BY f.slot DESC LIMIT 1)sql",
                                  name);
    if (r.empty()) return false;
    if (r[0][0].as<std::string>() == "pending") return true;
    if (r[0][1].is_null()) return false;  // its row is gone (retention): long over
    const auto status = r[0][1].as<std::string>();
    return status == "queued" || status == "running" || status == "waiting";
}

fire fire_of(const definition& d, micros slot, std::string job_id) {
    return fire{.schedule = d.name, .slot = slot, .job_id = std::move(job_id), .queue = d.queue,
                .payload_json = d.payload_json, .api_key = d.api_key, .max_attempts = d.max_attempts,
                .timeout_s = d.timeout_s};
}

// The fire's row and its job's 'queued' row, in the caller's transaction.
bool insert_fire(pqxx::transaction_base& tx, const fire& f, std::string_view outcome, bool manual) {
    const auto r = tx.exec_params(fmt::format(R"sql(
INSERT INTO schedule_fires (schedule, slot, job_id, queue, outcome, manual)
VALUES ($1, {}, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1)sql",
                                              at_sql(2)),
                                  f.schedule, count(f.slot), f.job_id, f.queue, std::string{outcome}, manual);
    if (r.empty()) return false;
    if (outcome == "pending") {
        pg::job_enqueued row{.id = f.job_id, .queue = f.queue, .fence = std::nullopt,
                             .max_attempts = f.max_attempts.value_or(0), .api_key = f.api_key,
                             .parent_id = std::nullopt, .payload_json = f.payload_json, .run_at_ms = std::nullopt};
        pg::insert_enqueued(tx, row);
    }
    return true;
}

}  // namespace

micros database_now(pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return to_micros(tx.exec(fmt::format("SELECT {}", micros_sql("now()")))[0][0]);
}

apply_summary apply_definitions(pqxx::connection& c, const std::vector<definition>& defs, bool prune) {
    pqxx::work tx(c, "schedules_apply");
    apply_summary out;
    std::vector<std::string> names;
    for (const auto& d : defs) {
        names.push_back(d.name);
        const auto before = tx.exec_params("SELECT " + schedule_columns + "FROM schedules WHERE name = $1 FOR UPDATE", d.name);
        const auto r = tx.exec_params(R"sql(
INSERT INTO schedules (name, cron, time_zone, queue, payload, api_key, max_attempts, timeout_s, overlap, catch_up,
                       catch_up_window_s, jitter_s, paused)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, time_zone = EXCLUDED.time_zone, queue = EXCLUDED.queue,
    payload = EXCLUDED.payload, api_key = EXCLUDED.api_key, max_attempts = EXCLUDED.max_attempts,
    timeout_s = EXCLUDED.timeout_s, overlap = EXCLUDED.overlap, catch_up = EXCLUDED.catch_up,
    catch_up_window_s = EXCLUDED.catch_up_window_s, jitter_s = EXCLUDED.jitter_s, paused = EXCLUDED.paused,
    updated_at = now()
WHERE (schedules.cron, schedules.time_zone, schedules.queue, schedules.payload, schedules.api_key,
       schedules.max_attempts, schedules.timeout_s, schedules.overlap, schedules.catch_up,
       schedules.catch_up_window_s, schedules.jitter_s, schedules.paused)
  IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.time_zone, EXCLUDED.queue, EXCLUDED.payload, EXCLUDED.api_key,
       EXCLUDED.max_attempts, EXCLUDED.timeout_s, EXCLUDED.overlap, EXCLUDED.catch_up,
       EXCLUDED.catch_up_window_s, EXCLUDED.jitter_s, EXCLUDED.paused)
RETURNING 1)sql",
                                      d.name, d.cron, d.time_zone, d.queue, d.payload_json, d.api_key,
                                      opt_int(d.max_attempts), opt_int(d.timeout_s), std::string{to_string(d.overlap)},
                                      std::string{to_string(d.mode)}, static_cast<std::int64_t>(d.window.count()),
                                      static_cast<std::int64_t>(d.jitter.count()), d.paused);
        if (before.empty()) out.added.push_back(d.name);
        else if (r.empty()) out.unchanged.push_back(d.name);
        else out.changed.push_back(d.name);
    }
    if (prune) {
        // Names are [A-Za-z0-9._-] (parse_definitions): safe in an array literal as they are.
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ",") + n;
        const auto gone = tx.exec_params("DELETE FROM schedules WHERE NOT (name = ANY($1::text[])) RETURNING name",
                                         "{" + list + "}");
        for (const auto& r : gone) out.removed.push_back(r[0].as<std::string>());
    }
    tx.commit();
    return out;
}

std::vector<std::string> add_missing(pqxx::connection& c, const std::vector<definition>& defs) {
    pqxx::work tx(c, "schedules_add_missing");
    std::vector<std::string> added;
    for (const auto& d : defs) {
        const auto r = tx.exec_params(R"sql(
INSERT INTO schedules (name, cron, time_zone, queue, payload, api_key, max_attempts, timeout_s, overlap, catch_up,
                       catch_up_window_s, jitter_s, paused)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (name) DO NOTHING RETURNING 1)sql",
                                      d.name, d.cron, d.time_zone, d.queue, d.payload_json, d.api_key,
                                      opt_int(d.max_attempts), opt_int(d.timeout_s), std::string{to_string(d.overlap)},
                                      std::string{to_string(d.mode)}, static_cast<std::int64_t>(d.window.count()),
                                      static_cast<std::int64_t>(d.jitter.count()), d.paused);
        if (!r.empty()) added.push_back(d.name);
    }
    tx.commit();
    return added;
}

std::vector<schedule_row> load_schedules(pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    std::vector<schedule_row> out;
    for (const auto& r : tx.exec("SELECT " + schedule_columns + "FROM schedules ORDER BY name")) out.push_back(row_of(r));
    return out;
}

std::optional<schedule_row> load_schedule(pqxx::connection& c, std::string_view name) {
    pqxx::read_transaction tx(c);
    const auto r = tx.exec_params("SELECT " + schedule_columns + "FROM schedules WHERE name = $1", std::string{name});
    if (r.empty()) return std::nullopt;
    return row_of(r[0]);
}

tick_result tick(pqxx::connection& c, const schedule_row& s, micros now) {
    tick_result out;
    if (s.def.paused) return out;
    const auto expr = cron::parse(s.def.cron);
    const auto& zone = find_zone(s.def.time_zone);
    const due_policy policy{.window = s.def.window, .mode = s.def.mode, .max_fires = 100,
                            .jitter = jitter_for(s.def.name, s.def.jitter)};
    const auto cursor = std::chrono::floor<std::chrono::seconds>(s.cursor);
    out.plan = plan_due(expr, zone, cursor, std::chrono::floor<std::chrono::seconds>(now), policy);
    // Every slot up to the plan's cursor is this plan's (or an earlier one's): the next is after it.
    if (const auto next = next_fire(expr, zone, std::max(cursor, out.plan.cursor)))
        out.next_due = micros{*next + policy.jitter};
    if (out.plan.cursor <= cursor) return out;  // nothing new since the last plan

    pqxx::work tx(c, "schedule_tick");
    const micros new_cursor{out.plan.cursor};
    // Compare-and-set: of the replicas that planned from this cursor, one moves it.
    const auto moved = tx.exec_params(fmt::format(R"sql(
UPDATE schedules SET cursor = {}, missed = missed + $3, coalesced = coalesced + $4, updated_at = now()
WHERE name = $1 AND {} = $2 AND NOT paused RETURNING 1)sql",
                                                  at_sql(5), micros_sql("cursor")),
                                      s.def.name, count(s.cursor), static_cast<std::int64_t>(out.plan.missed),
                                      static_cast<std::int64_t>(out.plan.coalesced), count(new_cursor));
    if (moved.empty()) return out;  // another replica did (or the schedule changed): next tick
    out.won = true;
    // Overlap is judged against the runs of earlier plans: the fires of one catch-up plan
    // (catch_up = all) go out together, or all wait out the run still open.
    const bool previous_open = s.def.overlap == overlap::skip && previous_run_open(tx, s.def.name);
    for (const auto slot : out.plan.fire) {
        auto f = fire_of(s.def, micros{slot}, fire_job_id(s.def.name, slot));
        if (previous_open) {
            if (insert_fire(tx, f, "skipped", false)) ++out.skipped;
            continue;
        }
        if (insert_fire(tx, f, "pending", false)) out.pending.push_back(std::move(f));
    }
    if (out.skipped > 0)
        tx.exec_params("UPDATE schedules SET skipped = skipped + $2 WHERE name = $1", s.def.name, out.skipped);
    tx.commit();
    return out;
}

std::optional<fire> trigger(pqxx::connection& c, std::string_view name) {
    pqxx::work tx(c, "schedule_trigger");
    const auto r = tx.exec_params("SELECT " + schedule_columns + "FROM schedules WHERE name = $1 FOR UPDATE",
                                  std::string{name});
    if (r.empty()) return std::nullopt;
    const auto s = row_of(r[0]);
    const auto now = to_micros(tx.exec(fmt::format("SELECT {}", micros_sql("clock_timestamp()")))[0][0]);
    // Milliseconds, as the job id shows it. A slot already taken (a nominal slot on the same
    // millisecond, or a trigger just before) moves on by a millisecond.
    auto slot = std::chrono::floor<std::chrono::milliseconds>(now);
    for (int tries = 0; tries < 100; ++tries, slot += std::chrono::milliseconds{1}) {
        auto f = fire_of(s.def, micros{slot}, fire_job_id(s.def.name, std::chrono::system_clock::time_point{slot}));
        if (insert_fire(tx, f, "pending", true)) {
            tx.commit();
            return f;
        }
    }
    throw std::runtime_error(fmt::format("schedule '{}': no free slot to trigger at", s.def.name));
}

std::vector<fire> stale_pending(pqxx::connection& c, std::chrono::seconds min_age, std::size_t limit) {
    pqxx::read_transaction tx(c);
    std::vector<fire> out;
    const auto rows = tx.exec_params(fmt::format(R"sql(
SELECT f.schedule, {}, f.job_id, f.queue, s.payload::text, s.api_key, s.max_attempts, s.timeout_s
FROM schedule_fires f JOIN schedules s ON s.name = f.schedule
WHERE f.outcome = 'pending' AND f.created_at <= now() - $1 * interval '1 second'
ORDER BY f.created_at LIMIT $2)sql",
                                                 micros_sql("f.slot")),
                                     static_cast<std::int64_t>(min_age.count()), static_cast<std::int64_t>(limit));
    for (const auto& r : rows) {
        fire f{.schedule = r[0].as<std::string>(), .slot = to_micros(r[1]), .job_id = r[2].as<std::string>(),
               .queue = r[3].as<std::string>(), .payload_json = r[4].as<std::string>()};
        if (!r[5].is_null()) f.api_key = r[5].as<std::string>();
        if (!r[6].is_null()) f.max_attempts = r[6].as<std::int32_t>();
        if (!r[7].is_null()) f.timeout_s = r[7].as<std::int32_t>();
        out.push_back(std::move(f));
    }
    return out;
}

void mark_enqueued(pqxx::connection& c, const fire& f) {
    pqxx::work tx(c, "schedule_fire_enqueued");
    tx.exec_params(fmt::format(R"sql(
UPDATE schedule_fires SET outcome = 'enqueued', enqueued_at = now()
WHERE schedule = $1 AND {} = $2 AND job_id = $3 AND outcome = 'pending')sql",
                               micros_sql("slot")),
                   f.schedule, count(f.slot), f.job_id);
    tx.commit();
}

bool set_paused(pqxx::connection& c, std::string_view name, bool paused) {
    pqxx::work tx(c, "schedule_pause");
    const auto r = tx.exec_params("UPDATE schedules SET paused = $2, updated_at = now() WHERE name = $1 RETURNING 1",
                                  std::string{name}, paused);
    tx.commit();
    return !r.empty();
}

std::optional<last_fire> load_last_fire(pqxx::connection& c, std::string_view name) {
    pqxx::read_transaction tx(c);
    const auto r = tx.exec_params(fmt::format(R"sql(
SELECT {}, f.job_id, f.outcome, j.status FROM schedule_fires f
LEFT JOIN jobs j ON j.id = f.job_id AND j.queue = f.queue
WHERE f.schedule = $1 ORDER BY f.slot DESC LIMIT 1)sql",
                                              micros_sql("f.slot")),
                                  std::string{name});
    if (r.empty()) return std::nullopt;
    last_fire out{.slot = to_micros(r[0][0]), .job_id = r[0][1].as<std::string>(), .outcome = r[0][2].as<std::string>()};
    if (!r[0][3].is_null()) out.job_status = r[0][3].as<std::string>();
    return out;
}

boost::asio::awaitable<void> enqueue_fire(redis::connection& redis, const fire& f) {
    queue::envelope e;
    e.type = f.queue;
    e.payload_json = f.payload_json;
    e.id = f.job_id;
    e.api_key = f.api_key;
    e.max_attempts = f.max_attempts;
    e.timeout_s = f.timeout_s;
    queue::operations ops{redis, f.queue};
    auto add = ops.enqueue(e);
    co_await std::move(add);
}

}  // namespace wharf::schedule
