// reconcile: Redis <-> PostgreSQL. After Redis lost writes (a failover to a replica that missed
// them, a restart from an AOF written every second, a FLUSHALL), a job can be queued or running
// in PostgreSQL with nothing left of it in Redis: no stream entry, no delayed member. This task
// finds them and puts them back under their id, so each runs (and ends) once:
//  - candidates: rows queued or running whose row has not changed for `grace` (older_than,
//    default 2 min; it must exceed the workers' lease);
//  - a candidate is missing when its queue's delayed set and stream (scanned in that order, ids
//    only) do not hold its id; a queue whose scan would pass the cap is left for a later run;
//  - a missing job is re-enqueued only when a run `grace` or more after the first sighting finds it
//    still missing with its row unchanged: a worker that still ran it has by then seen its lease
//    go (renewal finds the entry gone) and stopped it, writing nothing;
//  - the row's updated_at is the compare-and-set: of two runs at once, one re-enqueues;
//  - the new entry carries the job's id and a fresh token (the id key is taken for it), so a
//    second copy would be a duplicate, and the worker reads the row before running it (a job that
//    ended meanwhile is acknowledged, not run again).
// Jobs that producers XADDed and no worker had started are unknown to PostgreSQL: nothing can
// bring those back (see the README's producer contract).
#include "tasks_impl.hpp"

#include "wharf/pg/detail/text.hpp"
#include "wharf/queue/envelope.hpp"
#include "wharf/queue/operations.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <map>

namespace wharf::maintenance::detail {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

// Items (delayed members and stream entries) one queue's scan may look at in one run.
constexpr std::size_t scan_cap = 2'000'000;

struct candidate {
    std::string queue, id, status;
    std::int64_t updated_us = 0;
    std::int32_t attempts = 0, max_attempts = 1, generation = 0;
    std::optional<std::string> api_key, parent_id;
    std::string payload;
};

std::vector<candidate> candidates(pqxx::connection& c, std::chrono::seconds grace, std::size_t limit) {
    pqxx::read_transaction tx(c);
    std::vector<candidate> out;
    const auto rows = tx.exec_params(R"sql(
SELECT queue, id, status, (extract(epoch from updated_at) * 1000000)::bigint, attempts, max_attempts, generation,
       api_key, parent_id, payload::text
FROM jobs WHERE status IN ('queued', 'running') AND updated_at < now() - $1 * interval '1 second'
ORDER BY queue, id LIMIT $2)sql",
                                     static_cast<std::int64_t>(grace.count()), static_cast<std::int64_t>(limit));
    for (const auto& r : rows) {
        candidate k{.queue = r[0].as<std::string>(), .id = r[1].as<std::string>(), .status = r[2].as<std::string>(),
                    .updated_us = r[3].as<std::int64_t>(), .attempts = r[4].as<std::int32_t>(),
                    .max_attempts = r[5].as<std::int32_t>(), .generation = r[6].as<std::int32_t>()};
        if (!r[7].is_null()) k.api_key = r[7].as<std::string>();
        if (!r[8].is_null()) k.parent_id = r[8].as<std::string>();
        k.payload = r[9].as<std::string>();
        out.push_back(std::move(k));
    }
    return out;
}

// Records this run's sightings and forgets every other suspect (found since, started, finished)
// except those of the queues this run could not scan; returns the missing jobs seen missing since
// at least `grace` ago with the same row.
std::vector<std::size_t> record_sightings(pqxx::connection& c, const std::vector<std::string>& unscanned,
                                          const std::vector<const candidate*>& missing, std::chrono::seconds grace) {
    pg::detail::array_literal queues, ids, statuses, updated, unscanned_queues;
    for (const auto* k : missing) {
        queues.push(std::string_view{k->queue});
        ids.push(std::string_view{k->id});
        statuses.push(std::string_view{k->status});
        updated.push(k->updated_us);
    }
    for (const auto& q : unscanned) unscanned_queues.push(std::string_view{q});
    const auto queues_text = std::move(queues).finish(), ids_text = std::move(ids).finish();
    pqxx::work tx(c, "reconcile_sightings");
    tx.exec_params(R"sql(
DELETE FROM reconcile_suspects s WHERE s.queue <> ALL($1::text[])
  AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS m(queue, id) WHERE m.queue = s.queue AND m.id = s.id))sql",
                   std::move(unscanned_queues).finish(), queues_text, ids_text);
    const auto rows = tx.exec_params(R"sql(
INSERT INTO reconcile_suspects AS s (queue, id, status, row_updated_at)
SELECT m.queue, m.id, m.status, to_timestamp(m.updated_us / 1000000.0)
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS m(queue, id, status, updated_us, n)
ORDER BY m.queue, m.id
ON CONFLICT (queue, id) DO UPDATE SET
    first_missing_at = CASE WHEN s.status = EXCLUDED.status AND s.row_updated_at = EXCLUDED.row_updated_at
                            THEN s.first_missing_at ELSE now() END,
    status = EXCLUDED.status, row_updated_at = EXCLUDED.row_updated_at
RETURNING s.queue, s.id, s.first_missing_at < now() - $5 * interval '1 second')sql",
                                     queues_text, ids_text, std::move(statuses).finish(), std::move(updated).finish(),
                                     static_cast<std::int64_t>(grace.count()));
    tx.commit();
    std::map<std::pair<std::string, std::string>, std::size_t> index;
    for (std::size_t i = 0; i < missing.size(); ++i) index[{missing[i]->queue, missing[i]->id}] = i;
    std::vector<std::size_t> due;
    for (const auto& r : rows)
        if (r[2].as<bool>()) due.push_back(index.at({r[0].as<std::string>(), r[1].as<std::string>()}));
    return due;
}

// The compare-and-set: the row goes back to queued only if it is still what the sightings saw.
bool claim_requeue(pqxx::connection& c, const candidate& k) {
    pqxx::work tx(c, "reconcile_requeue");
    const auto r = tx.exec_params(R"sql(
UPDATE jobs SET status = 'queued', run_at = NULL, updated_at = now()
WHERE queue = $1 AND id = $2 AND status = $3 AND (extract(epoch from updated_at) * 1000000)::bigint = $4)sql",
                                  k.queue, k.id, k.status, k.updated_us);
    tx.exec_params("DELETE FROM reconcile_suspects WHERE queue = $1 AND id = $2", k.queue, k.id);
    tx.commit();
    return r.affected_rows() == 1;
}

queue::envelope envelope_of(const candidate& k) {
    queue::envelope e;
    e.type = k.queue;
    e.payload_json = k.payload;
    e.id = k.id;
    e.api_key = k.api_key;
    e.parent_id = k.parent_id;
    // 0: enqueued without one (the queue's default applies), as the row was written by wharfctl.
    if (k.max_attempts > 0) e.max_attempts = std::min(k.max_attempts, 100);
    e.generation = k.generation;
    // A run that was lost runs again as the same attempt; a job waiting for its next attempt (or
    // its first) gets that one.
    e.attempt = std::clamp(k.status == "running" ? k.attempts : k.attempts + 1, 1, e.max_attempts.value_or(100));
    return e;
}

}  // namespace

asio::awaitable<json> reconcile(pg::pool& db, redis::connection& redis, const task_options& o) {
    const auto grace = o.older_than.value_or(std::chrono::minutes{2});
    auto read = [grace, cap = o.cap](pqxx::connection& c) { return candidates(c, grace, cap); };
    const auto rows = co_await db.run(std::move(read));

    std::map<std::string, std::vector<const candidate*>> by_queue;
    for (const auto& k : rows) by_queue[k.queue].push_back(&k);
    std::vector<std::string> unverifiable;
    std::vector<const candidate*> missing;
    std::int64_t present = 0;
    for (const auto& [name, jobs] : by_queue) {
        if (!queue::valid_queue_name(name)) continue;  // a row no worker could have written
        queue::operations ops{redis, name};
        auto scan = ops.held_ids(scan_cap);
        const auto held = co_await std::move(scan);
        if (!held.complete) {
            unverifiable.push_back(name);
            continue;
        }
        for (const auto* k : jobs) {
            if (held.ids.contains(k->id)) ++present;
            else missing.push_back(k);
        }
    }
    std::int64_t requeued = 0, finished_in_redis = 0, changed = 0, due_count = 0;
    if (!o.dry_run) {
        auto sight = [&unverifiable, &missing, grace](pqxx::connection& c) {
            return record_sightings(c, unverifiable, missing, grace);
        };
        const auto due = co_await db.run(std::move(sight));
        due_count = static_cast<std::int64_t>(due.size());
        for (const auto i : due) {
            const candidate& k = *missing[i];
            auto claim = [&k](pqxx::connection& c) { return claim_requeue(c, k); };
            if (!co_await db.run(std::move(claim))) {
                ++changed;  // it moved on meanwhile (a worker started or finished it)
                continue;
            }
            queue::operations ops{redis, k.queue};
            auto put = ops.requeue(envelope_of(k));
            const auto entry = co_await std::move(put);
            if (!entry) {
                // Redis says the id finished, PostgreSQL that it did not: nothing is re-run on
                // Redis's word; stuck_jobs or an operator settles it.
                ++finished_in_redis;
                spdlog::warn("reconcile: job {} of {} is {} in PostgreSQL but finished in Redis; not re-enqueued",
                             k.id, k.queue, k.status);
                continue;
            }
            ++requeued;
            spdlog::warn("reconcile: job {} of {} was {} in PostgreSQL with nothing left in Redis; re-enqueued as "
                         "entry {}",
                         k.id, k.queue, k.status, *entry);
        }
    }
    co_return json{{"examined", rows.size()},
                   {"present", present},
                   {"missing", missing.size()},
                   {"requeued", requeued},
                   {"waiting_for_grace", static_cast<std::int64_t>(missing.size()) - due_count},
                   {"changed_meanwhile", changed},
                   {"finished_in_redis", finished_in_redis},
                   {"unverifiable_queues", unverifiable},
                   {"grace_s", grace.count()}};
}

}  // namespace wharf::maintenance::detail
