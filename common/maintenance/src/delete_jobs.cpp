// delete_jobs and select_finished_jobs (tasks.hpp): batch deletion of finished jobs with their
// objects, for `wharfctl jobs delete`.
#include "tasks_impl.hpp"

#include "wharf/pg/detail/text.hpp"
#include "wharf/storage/catalog.hpp"

#include <pqxx/pqxx>

#include <map>

namespace wharf::maintenance {
namespace {

using json = nlohmann::json;

constexpr const char* final_statuses = "('succeeded', 'failed', 'dead', 'cancelled', 'cleaned_up')";

// Why each job of the batch may not be deleted (absent: it may).
std::map<std::size_t, std::string> refusals(pqxx::connection& c, const std::vector<job_ref>& jobs) {
    pqxx::read_transaction tx(c);
    auto [queues, ids] = detail::as_arrays(jobs);
    const auto rows = tx.exec_params(std::string(R"sql(
SELECT t.n, j.status, j.parent_id,
       EXISTS (SELECT 1 FROM jobs s WHERE t.queue = 'pipeline' AND s.parent_id = t.id
                                      AND s.status IN ('queued', 'running', 'waiting'))
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(queue, id, n)
LEFT JOIN jobs j ON j.queue = t.queue AND j.id = t.id)sql"),
                                     queues, ids);
    std::map<std::size_t, std::string> out;
    for (const auto& r : rows) {
        const auto n = static_cast<std::size_t>(r[0].as<std::int64_t>() - 1);
        if (r[1].is_null()) {
            out[n] = "no such job";
            continue;
        }
        const auto status = r[1].as<std::string>();
        if (status == "queued" || status == "running" || status == "waiting")
            out[n] = "the job is " + status + ", not finished";
        else if (!r[2].is_null())
            out[n] = "a step of pipeline " + r[2].as<std::string>() + ": delete the pipeline";
        else if (r[3].as<bool>())
            out[n] = "a step of the pipeline is still queued or running";
    }
    return out;
}

// The rows of these jobs (finished ones only: a retry may have reopened one since), a pipeline's
// with its steps and its pipelines row, in one transaction.
std::pair<std::int64_t, std::int64_t> delete_rows(pqxx::connection& c, const std::vector<job_ref>& jobs) {
    pqxx::work tx(c, "delete_jobs");
    auto [queues, ids] = detail::as_arrays(jobs);
    const auto deleted = tx.exec_params(std::string(R"sql(
WITH t AS (SELECT queue, id FROM unnest($1::text[], $2::text[]) AS t(queue, id)),
gone AS (
    DELETE FROM jobs j USING t
    WHERE j.status IN )sql") + final_statuses + R"sql(
      AND ((j.queue = t.queue AND j.id = t.id) OR (t.queue = 'pipeline' AND j.parent_id = t.id))
    RETURNING j.queue, j.id)
SELECT queue, id FROM gone)sql",
                                        queues, ids);
    std::int64_t pipelines = 0;
    for (const auto& j : jobs)
        if (j.queue == "pipeline")
            pipelines += static_cast<std::int64_t>(
                tx.exec_params("DELETE FROM pipelines WHERE id = $1 AND status <> 'running'", j.id).affected_rows());
    tx.commit();
    return {static_cast<std::int64_t>(deleted.size()), pipelines};
}

}  // namespace

boost::asio::awaitable<json> delete_jobs(pg::pool& db, const storage::registry& providers, std::vector<job_ref> jobs,
                                         bool dry_run, std::size_t batch_size) {
    if (batch_size == 0) batch_size = 1;
    storage::catalog catalog{db};
    detail::removal_tally tally;
    std::int64_t examined = 0, deleted_jobs = 0, deleted_pipelines = 0, objects = 0;
    json skipped = json::array();
    for (std::size_t at = 0; at < jobs.size(); at += batch_size) {
        const std::vector<job_ref> batch(jobs.begin() + static_cast<std::ptrdiff_t>(at),
                                         jobs.begin() + static_cast<std::ptrdiff_t>(std::min(jobs.size(), at + batch_size)));
        examined += static_cast<std::int64_t>(batch.size());
        auto checking = [&batch](pqxx::connection& c) { return refusals(c, batch); };
        const auto refused = co_await db.run(std::move(checking));
        std::vector<job_ref> allowed;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (auto it = refused.find(i); it != refused.end())
                skipped.push_back({{"queue", batch[i].queue}, {"id", batch[i].id}, {"reason", it->second}});
            else
                allowed.push_back(batch[i]);
        }
        if (allowed.empty()) continue;
        auto listing = [&allowed](pqxx::connection& c) { return detail::objects_of(c, allowed); };
        const auto owned = co_await db.run(std::move(listing));
        objects += static_cast<std::int64_t>(owned.size());
        if (dry_run) {
            for (const auto& [n, object] : owned) tally.would_delete(object);
            deleted_jobs += static_cast<std::int64_t>(allowed.size());
            continue;
        }
        std::vector<detail::catalog_object> to_remove;
        for (const auto& [n, object] : owned) to_remove.push_back(object);
        auto removing = detail::remove_objects(providers, catalog, to_remove, tally);
        const auto left = co_await std::move(removing);
        std::vector<bool> keep(allowed.size(), false);
        for (const auto& [n, object] : owned)
            if (left.contains(object.id)) keep[n] = true;
        std::vector<job_ref> done;
        for (std::size_t i = 0; i < allowed.size(); ++i) {
            if (keep[i])
                skipped.push_back({{"queue", allowed[i].queue}, {"id", allowed[i].id},
                                   {"reason", "an object of the job could not be deleted (kept for another run)"}});
            else
                done.push_back(allowed[i]);
        }
        if (done.empty()) continue;
        auto deleting = [&done](pqxx::connection& c) { return delete_rows(c, done); };
        const auto [rows, pipelines] = co_await db.run(std::move(deleting));
        deleted_jobs += rows;
        deleted_pipelines += pipelines;
    }
    auto result = tally.counts();
    result.update({{"examined_jobs", examined},
                   {"deleted_jobs", deleted_jobs},
                   {"deleted_pipelines", deleted_pipelines},
                   {"objects", objects},
                   {"dry_run", dry_run},
                   {"skipped", std::move(skipped)}});
    co_return result;
}

boost::asio::awaitable<std::vector<job_ref>> select_finished_jobs(pg::pool& db, job_filter filter, std::size_t limit) {
    static constexpr std::string_view allowed[] = {"succeeded", "failed", "dead", "cancelled", "cleaned_up"};
    pg::detail::array_literal statuses;
    if (filter.statuses.empty())
        for (auto s : allowed) statuses.push(s);
    for (const auto& s : filter.statuses) {
        if (std::find(std::begin(allowed), std::end(allowed), s) == std::end(allowed))
            throw task_error("'" + s + "' is not a finished status (succeeded, failed, dead, cancelled, cleaned_up)");
        statuses.push(std::string_view{s});
    }
    auto reading = [statuses = std::move(statuses).finish(), filter, limit](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        const auto rows = tx.exec_params(
            "SELECT queue, id FROM jobs WHERE status = ANY($1::text[]) AND parent_id IS NULL "
            "AND ($2::text IS NULL OR queue = $2) AND finished_at < now() - $3 * interval '1 second' "
            "ORDER BY finished_at, queue, id LIMIT $4",
            statuses, filter.queue, static_cast<std::int64_t>(filter.older_than.count()),
            static_cast<std::int64_t>(limit));
        std::vector<job_ref> out;
        for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<std::string>()});
        return out;
    };
    co_return co_await db.run(std::move(reading));
}

}  // namespace wharf::maintenance
