// stuck_jobs: a job `running` for longer than older_than (default 24 h) whose stream entry no
// worker renews becomes `failed` with "Job timeout - stuck in processing", under its fence (a
// late owner's outcome, written with the same fence, finds the row final and is refused). A job
// whose entry is pending and was renewed within idle_lease is held by a live worker and kept,
// however long it runs. A pipeline's step failed this way fails its pipeline.
#include "tasks_impl.hpp"

#include "wharf/pipeline/store.hpp"
#include "wharf/queue/keys.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

namespace wharf::maintenance::detail {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

constexpr const char* stuck_error = "Job timeout - stuck in processing";

struct running_row {
    std::string id, queue;
    std::int32_t generation = 0, delivery = 0;
    std::int64_t entry_ms = 0, entry_seq = 0, started_us = 0;
    std::optional<std::string> parent_id;
};

struct scan_cursor {
    std::int64_t started_us = std::numeric_limits<std::int64_t>::min();
    std::string id, queue;
};

std::vector<running_row> scan(pqxx::connection& c, const scan_cursor& after, std::chrono::seconds older_than,
                              std::size_t limit) {
    pqxx::read_transaction tx(c);
    std::vector<running_row> out;
    const auto rows = tx.exec_params(R"sql(
SELECT id, queue, generation, entry_ms, entry_seq, delivery, parent_id,
       (extract(epoch from started_at) * 1000000)::bigint AS started_us
FROM jobs
WHERE status = 'running' AND started_at < now() - $1 * interval '1 second'
  AND ((extract(epoch from started_at) * 1000000)::bigint, id, queue) > ($2::bigint, $3, $4)
ORDER BY started_at, id, queue LIMIT $5)sql",
                                     static_cast<std::int64_t>(older_than.count()), after.started_us, after.id,
                                     after.queue, static_cast<std::int64_t>(limit));
    for (const auto& r : rows) {
        running_row row{.id = r[0].as<std::string>(), .queue = r[1].as<std::string>(), .generation = r[2].as<std::int32_t>(),
                        .delivery = r[5].as<std::int32_t>(), .entry_ms = r[3].as<std::int64_t>(),
                        .entry_seq = r[4].as<std::int64_t>(), .started_us = r[7].as<std::int64_t>()};
        if (!r[6].is_null()) row.parent_id = r[6].as<std::string>();
        out.push_back(std::move(row));
    }
    return out;
}

// Whether a worker holds the job's entry: pending, and renewed within `idle_lease`.
asio::awaitable<bool> held(redis::connection& redis, const running_row& row, std::chrono::seconds idle_lease) {
    if (row.entry_ms <= 0) co_return false;  // no entry recorded: nothing to renew
    const queue::keys k{row.queue};
    const auto entry = fmt::format("{}-{}", row.entry_ms, row.entry_seq);
    redis::command pending{"XPENDING", k.stream, std::string{queue::consumer_group}, entry, entry, "1"};  // named: GCC 12
    auto ask = redis.exec(std::move(pending));
    const auto reply = co_await std::move(ask);
    if (reply.is_error()) {
        if (reply.str().find("NOGROUP") != std::string::npos) co_return false;  // the queue is gone
        throw std::runtime_error("XPENDING " + k.stream + ": " + reply.str());
    }
    if (!reply.is_array() || reply.size() == 0) co_return false;  // not pending: nobody holds it
    const auto idle_ms = reply[0][2].integer();
    co_return idle_ms < std::chrono::duration_cast<std::chrono::milliseconds>(idle_lease).count();
}

}  // namespace

asio::awaitable<json> stuck_jobs(pg::pool& db, redis::connection& redis, const task_options& o) {
    const auto older_than = o.older_than.value_or(std::chrono::hours{24});
    std::int64_t examined = 0, marked = 0, kept = 0, pipelines_failed = 0;
    scan_cursor cursor;
    while (static_cast<std::size_t>(examined) < o.cap) {
        const auto want = std::min(o.batch, o.cap - static_cast<std::size_t>(examined));
        auto read = [&cursor, older_than, want](pqxx::connection& c) { return scan(c, cursor, older_than, want); };
        const auto rows = co_await db.run(std::move(read));
        if (rows.empty()) break;
        for (const auto& row : rows) {
            ++examined;
            cursor = {row.started_us, row.id, row.queue};
            if (co_await held(redis, row, o.idle_lease)) {
                ++kept;
                continue;
            }
            if (o.dry_run) {
                ++marked;
                continue;
            }
            auto fail = [&row](pqxx::connection& c) {
                pqxx::work tx(c, "stuck_job");
                const auto r = tx.exec_params(R"sql(
UPDATE jobs SET status = 'failed', error = $7, finished_at = now(), updated_at = now()
WHERE id = $1 AND queue = $2 AND status = 'running'
  AND (generation, entry_ms, entry_seq, delivery) = ($3, $4, $5, $6)
RETURNING 1)sql",
                                              row.id, row.queue, row.generation, row.entry_ms, row.entry_seq,
                                              row.delivery, std::string{stuck_error});
                tx.commit();
                return !r.empty();
            };
            if (!co_await db.run(std::move(fail), false)) continue;  // it moved on meanwhile
            ++marked;
            spdlog::warn("job {} of {}: running since long ago with no worker renewing it: failed ({})", row.id,
                         row.queue, stuck_error);
            if (!row.parent_id) continue;
            // A pipeline's step: the pipeline hears of it as it would from the step's worker.
            auto step_end = [&row](pqxx::connection& c) {
                return pipeline::record_step_end(c, *row.parent_id, row.queue, row.id, "failed", json::object(),
                                                 std::string{stuck_error});
            };
            const auto t = co_await db.run(std::move(step_end));
            if (!t.known) continue;
            if (t.finished) ++pipelines_failed;
            auto enqueue = pipeline::apply(redis, t);
            co_await std::move(enqueue);
        }
    }
    co_return json{{"examined", examined},
                   {"marked_as_failed", marked},
                   {"kept_renewing", kept},
                   {"pipelines_failed", pipelines_failed},
                   {"older_than_s", older_than.count()}};
}

}  // namespace wharf::maintenance::detail
