// The jobs' own objects (a pipeline's: its steps' too), shared by failed_jobs and delete_jobs.
#include "tasks_impl.hpp"

#include "wharf/pg/detail/text.hpp"

#include <pqxx/pqxx>

namespace wharf::maintenance::detail {

// The jobs as two text[] parameters: queues, ids.
std::pair<std::string, std::string> as_arrays(const std::vector<job_ref>& jobs) {
    pg::detail::array_literal queues, ids;
    for (const auto& j : jobs) {
        queues.push(std::string_view{j.queue});
        ids.push(std::string_view{j.id});
    }
    return {std::move(queues).finish(), std::move(ids).finish()};
}

// The live objects of those jobs (and of their steps, for pipelines), each with its job's index.
std::vector<std::pair<std::size_t, catalog_object>> objects_of(pqxx::connection& c, const std::vector<job_ref>& jobs) {
    pqxx::read_transaction tx(c);
    auto [queues, ids] = as_arrays(jobs);
    std::vector<std::pair<std::size_t, catalog_object>> out;
    const auto rows = tx.exec_params(R"sql(
WITH failed AS (
    SELECT t.queue, t.id, t.n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(queue, id, n)
), owners AS (
    SELECT f.n, f.queue, f.id FROM failed f
    UNION ALL
    SELECT f.n, s.queue, s.id FROM failed f JOIN jobs s ON f.queue = 'pipeline' AND s.parent_id = f.id
)
SELECT w.n, o.id, o.provider, o.bucket, o.key, o.size
FROM owners w JOIN objects o ON o.job_id = w.id AND o.job_queue = w.queue AND o.deleted_at IS NULL
ORDER BY o.id)sql",
                                     queues, ids);
    for (const auto& r : rows)
        out.push_back({static_cast<std::size_t>(r[0].as<std::int64_t>() - 1),
                       {r[1].as<std::int64_t>(), r[2].as<std::string>(), r[3].as<std::string>(),
                        r[4].as<std::string>(), r[5].as<std::int64_t>()}});
    return out;
}

}  // namespace wharf::maintenance::detail
