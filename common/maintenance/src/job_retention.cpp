// job_retention: rows of jobs that ended longer ago than the retention (default 30 days; per queue
// with `retention`) are deleted in batches, each batch one transaction. A pipeline's rows go
// together -- the pipeline job's row, its steps' rows and its pipelines row -- once the pipeline
// has ended that long ago; never a row of a pipeline still running.
#include "tasks_impl.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace wharf::maintenance::detail {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

constexpr std::chrono::seconds default_retention{30 * 86400};

// The per-queue retentions as two arrays for unnest, plus the default.
struct retention_params {
    std::string queues = "{}", seconds = "{}";
};
retention_params params_of(const task_options& o) {
    retention_params p;
    std::string q, s;
    for (const auto& [queue, d] : o.per_queue) {
        // Queue names are [a-z0-9_-] (parse_request), so they need no quoting in an array literal.
        q += (q.empty() ? "" : ",") + queue;
        s += (s.empty() ? "" : ",") + std::to_string(d.count());
    }
    p.queues = "{" + q + "}";
    p.seconds = "{" + s + "}";
    return p;
}

// The retention of a row's queue, in SQL, given $1 (queues), $2 (seconds), $3 (default seconds).
constexpr const char* retention_of = R"sql(
  COALESCE((SELECT r.s FROM unnest($1::text[], $2::bigint[]) AS r(q, s) WHERE r.q = {}), $3) * interval '1 second')sql";

}  // namespace

asio::awaitable<json> job_retention(pg::pool& db, const task_options& o) {
    const auto fallback = o.older_than.value_or(default_retention);
    const auto p = params_of(o);
    const std::string job_retention_sql = fmt::format(retention_of, "j.queue");
    const std::string pipeline_retention_sql = fmt::format(retention_of, "'pipeline'");
    std::int64_t deleted_jobs = 0, deleted_pipelines = 0;
    bool more = true;
    while (more && static_cast<std::size_t>(deleted_jobs) < o.cap) {
        // A dry run deletes nothing, so it counts everything up to the cap in one go.
        const auto want = static_cast<std::int64_t>(
            o.dry_run ? o.cap : std::min(o.batch, o.cap - static_cast<std::size_t>(deleted_jobs)));
        // Jobs that are nobody's step and no pipeline: deleted, or counted on a dry run.
        auto batch = [&](pqxx::connection& c) {
            pqxx::work tx(c, "job_retention");
            const std::string pick = fmt::format(R"sql(
SELECT j.id, j.queue FROM jobs j
WHERE j.status IN ('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up') AND j.parent_id IS NULL AND j.queue <> 'pipeline'
  AND j.finished_at < now() - {}
ORDER BY j.finished_at LIMIT $4)sql",
                                                 job_retention_sql);
            std::int64_t jobs = 0, pipelines = 0;
            if (o.dry_run) {
                jobs = tx.exec_params1("SELECT count(*) FROM (" + pick + ") d", p.queues, p.seconds,
                                       static_cast<std::int64_t>(fallback.count()), want)[0].as<std::int64_t>();
            } else {
                jobs = static_cast<std::int64_t>(
                    tx.exec_params("DELETE FROM jobs WHERE (id, queue) IN (" + pick + " FOR UPDATE SKIP LOCKED) RETURNING 1",
                                   p.queues, p.seconds, static_cast<std::int64_t>(fallback.count()), want)
                        .size());
            }
            // Whole pipelines that ended long enough ago: the pipeline's row, its job and its steps.
            const std::string pick_pipelines = fmt::format(R"sql(
SELECT id FROM pipelines WHERE status <> 'running' AND finished_at < now() - {}
ORDER BY finished_at LIMIT $4)sql",
                                                           pipeline_retention_sql);
            const auto ids = tx.exec_params(pick_pipelines + (o.dry_run ? "" : " FOR UPDATE SKIP LOCKED"), p.queues,
                                            p.seconds, static_cast<std::int64_t>(fallback.count()), want);
            for (const auto& row : ids) {
                const auto id = row[0].as<std::string>();
                if (o.dry_run) {
                    jobs += tx.exec_params1("SELECT count(*) FROM jobs WHERE (id = $1 AND queue = 'pipeline') OR parent_id = $1",
                                            id)[0].as<std::int64_t>();
                } else {
                    jobs += static_cast<std::int64_t>(
                        tx.exec_params("DELETE FROM jobs WHERE (id = $1 AND queue = 'pipeline') OR parent_id = $1 RETURNING 1", id)
                            .size());
                    tx.exec_params("DELETE FROM pipelines WHERE id = $1", id);
                }
                ++pipelines;
            }
            tx.commit();
            return std::make_pair(jobs, pipelines);
        };
        const auto done = co_await db.run(std::move(batch), false);
        deleted_jobs += done.first;
        deleted_pipelines += done.second;
        more = !o.dry_run && (done.first > 0 || done.second > 0);
    }
    // The deleted rows' space is reused only once a vacuum has seen them, and autovacuum looks at a
    // table at most once a minute (autovacuum_naptime): at 10,000 jobs/s that is 600,000 rows of
    // growth between two looks. Vacuuming here, right after the deletes, keeps the table and its
    // indexes at the size of what is retained (bench/maintenance/retention.sh).
    bool vacuumed = false;
    if (!o.dry_run && (deleted_jobs > 0 || deleted_pipelines > 0)) {
        auto vacuum = [deleted_pipelines](pqxx::connection& c) {
            pqxx::nontransaction tx(c, "job_retention_vacuum");
            tx.exec0("VACUUM jobs");
            if (deleted_pipelines > 0) tx.exec0("VACUUM pipelines");
        };
        co_await db.run(std::move(vacuum));  // idempotent: a retry after a broken connection is harmless
        vacuumed = true;
    }
    co_return json{{"deleted_jobs", deleted_jobs},
                   {"deleted_pipelines", deleted_pipelines},
                   {"vacuumed", vacuumed},
                   {"retention_s", fallback.count()}};
}

}  // namespace wharf::maintenance::detail
