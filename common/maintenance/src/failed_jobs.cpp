// failed_jobs: jobs that ended failed or dead longer ago than older_than (default 7 days) have
// their stored objects deleted (at the provider, then in the catalog with usage, as
// remove_objects does) and become `cleaned_up`, their error kept. A pipeline's objects are those
// of its steps too. A job is marked only once none of its objects is left: one that could not be
// deleted, or that lies on a provider this process does not have, keeps the job `failed` or
// `dead` for a later run; a run killed between the deletions and the mark finds the job again
// with fewer (or no) objects and finishes it. Jobs are taken in (queue, id) order from a cursor,
// so objects a run cannot delete do not stop it from going on. Kept: a step of a pipeline still
// running (its pipeline may still need it) and a pipeline with a step still queued or running.
#include "tasks_impl.hpp"

#include "wharf/pg/detail/text.hpp"
#include "wharf/storage/catalog.hpp"

#include <pqxx/pqxx>

#include <map>
#include <utility>

namespace wharf::maintenance::detail {
namespace {


std::vector<job_ref> scan_jobs(pqxx::connection& c, const job_ref& after, std::chrono::seconds older_than,
                                  std::size_t limit) {
    pqxx::read_transaction tx(c);
    std::vector<job_ref> out;
    const auto rows = tx.exec_params(R"sql(
SELECT j.queue, j.id FROM jobs j
WHERE j.status IN ('failed', 'dead') AND j.finished_at < now() - $1 * interval '1 second'
  AND (j.queue, j.id) > ($2, $3)
  AND NOT EXISTS (SELECT 1 FROM pipelines p WHERE p.id = j.parent_id AND p.status = 'running')
  AND NOT EXISTS (SELECT 1 FROM jobs s WHERE j.queue = 'pipeline' AND s.parent_id = j.id
                                         AND s.status IN ('queued', 'running', 'waiting'))
ORDER BY j.queue, j.id LIMIT $4)sql",
                                     static_cast<std::int64_t>(older_than.count()), after.queue, after.id,
                                     static_cast<std::int64_t>(limit));
    for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
    return out;
}

// Marks the jobs cleaned_up, unless they changed meanwhile (a dead retry reopened one).
std::int64_t mark_cleaned_up(pqxx::connection& c, const std::vector<job_ref>& jobs) {
    pqxx::work tx(c, "failed_jobs_mark");
    auto [queues, ids] = as_arrays(jobs);
    const auto r = tx.exec_params(R"sql(
UPDATE jobs j SET status = 'cleaned_up', updated_at = now()
FROM unnest($1::text[], $2::text[]) AS t(queue, id)
WHERE j.queue = t.queue AND j.id = t.id AND j.status IN ('failed', 'dead'))sql",
                                  queues, ids);
    tx.commit();
    return static_cast<std::int64_t>(r.affected_rows());
}

}  // namespace

boost::asio::awaitable<nlohmann::json> failed_jobs(pg::pool& db, const storage::registry* providers,
                                                   const task_options& o) {
    if (!providers) throw task_error("failed_jobs needs the storage providers (--storage-providers)");
    const auto older_than = o.older_than.value_or(std::chrono::hours{24 * 7});
    storage::catalog catalog{db};
    removal_tally tally;
    std::int64_t examined = 0, cleaned = 0, objects = 0;
    job_ref after;
    while (static_cast<std::size_t>(examined) < o.cap) {
        const auto want = std::min(o.batch, o.cap - static_cast<std::size_t>(examined));
        auto read = [after, older_than, want](pqxx::connection& c) { return scan_jobs(c, after, older_than, want); };
        const auto jobs = co_await db.run(std::move(read));
        if (jobs.empty()) break;
        after = jobs.back();
        examined += static_cast<std::int64_t>(jobs.size());
        auto list = [&jobs](pqxx::connection& c) { return objects_of(c, jobs); };
        const auto owned = co_await db.run(std::move(list));
        objects += static_cast<std::int64_t>(owned.size());
        if (o.dry_run) {
            cleaned += static_cast<std::int64_t>(jobs.size());
            for (const auto& [n, object] : owned) tally.would_delete(object);
            continue;
        }
        std::vector<catalog_object> batch;
        for (const auto& [n, object] : owned) batch.push_back(object);
        auto removing = remove_objects(*providers, catalog, batch, tally);
        const auto left = co_await std::move(removing);
        std::vector<bool> keep(jobs.size(), false);
        for (const auto& [n, object] : owned)
            if (left.contains(object.id)) keep[n] = true;
        std::vector<job_ref> done;
        for (std::size_t i = 0; i < jobs.size(); ++i)
            if (!keep[i]) done.push_back(jobs[i]);
        if (done.empty()) continue;
        auto mark = [&done](pqxx::connection& c) { return mark_cleaned_up(c, done); };
        cleaned += co_await db.run(std::move(mark));
    }
    tally.throw_if_failed("objects of failed jobs", objects);
    auto result = tally.counts();
    result.update({{"examined_jobs", examined}, {"cleaned_up_jobs", cleaned}, {"older_than_s", older_than.count()}});
    co_return result;
}

}  // namespace wharf::maintenance::detail
